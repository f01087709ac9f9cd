"""Detectors for personal data posted to expose someone (doxxing): Korean phone and resident
registration numbers, emails, Korean addresses, school and class, SNS handles, KakaoTalk IDs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from moderation.text_signals.normalize import NormalizedText

__all__ = ["DoxxingHit", "find_doxxing"]


@dataclass(frozen=True, slots=True)
class DoxxingHit:
    """One piece of personal data, with its span in the ORIGINAL text.

    `lang` is "ko" for Korea-specific formats and None for language-neutral ones (emails,
    handles), which take the language of the surrounding text.
    """

    label: str
    start: int
    end: int
    severity: int
    lang: str | None


# (start, end, label, severity, lang) in the folded text; lang None = the surrounding text's.
_Found = tuple[int, int, str, int, str | None]
_Detector = Callable[[str], Iterator[_Found]]

# Separators people put inside numbers; "ㅡ" (a Hangul vowel, folded by NFKC to U+1173) is a
# popular stand-in for a dash in Korean chats.
_DASH = r"[-.\u2010-\u2015~\u3161\u1173]"
_GAP = rf"(?:\s?{_DASH}\s?|\s)"
_AREA_CODE = r"(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)"
_COUNTRY = r"(?:\+|00)\s?82[\s.\-]?(?:\(0\)|0)?\s?"

_MOBILE = re.compile(
    rf"(?<![\d+])(?:{_COUNTRY}1[016789]|01[016789]){_GAP}?\d{{3,4}}{_GAP}?\d{{4}}(?!\d)"
)
# Landlines must be written with separators: a bare run of 9-10 digits starting with 0 is as
# likely an order or account number.
_LANDLINE = re.compile(
    rf"(?<![\d+])(?:\(0{_AREA_CODE}\)\s?|0{_AREA_CODE}{_GAP}|{_COUNTRY}{_AREA_CODE}{_GAP})"
    rf"\d{{3,4}}{_GAP}\d{{4}}(?!\d)"
)
_RRN = re.compile(r"(?<!\d)(\d{6})(\s?[-\u2010-\u2015\u3161\u1173]\s?)?([1-8])(\d{6})(?!\d)")
_RRN_MASKED = re.compile(r"(?<!\d)(\d{6})\s?[-\u2010-\u2015]\s?([1-8])[*xX●○•#]{6}")
_RRN_CONTEXT = re.compile(r"주민|주민번호|주민등록|resident registration|\brrn\b")

_AT = r"(?:\s?@\s?|\s?[(\[{]\s?at\s?[)\]}]\s?|\s?골뱅이\s?)"
_DOT = r"(?:\.|\s?[(\[{]\s?dot\s?[)\]}]\s?|\s?점\s?)"
_EMAIL = re.compile(
    rf"(?<![\w.+%-])[a-z0-9][a-z0-9._%+-]{{0,63}}{_AT}[a-z0-9-]{{1,63}}"
    rf"(?:{_DOT}[a-z0-9-]{{1,63}}){{0,3}}{_DOT}[a-z]{{2,24}}(?![a-z0-9-])",
)

# Korean addresses: at least one region word (metropolitan city, province, or a word ending in
# 시/군/구 that is not a common word like 다시, 친구), then a road + building number (도로명)
# or a neighbourhood + lot number (지번). Counters after the number ("2번", "3명") veto the hit.
_METRO = (
    r"(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주|"
    r"충청북|충청남|전라북|전라남|경상북|경상남)"
    r"(?:특별시|광역시|특별자치시|특별자치도|시|도)?"
)
_NOT_REGION = (
    r"(?:다시|역시|혹시|당시|동시|즉시|수시|평시|일시|잠시|임시|표시|무시|감시|친구|연구|요구|"
    r"도구|입구|출구|가구|인구|농구|야구|축구|배구|탁구|창구|장군|아군|적군|해군|공군|육군)(?![가-힣])"
)
_REGION = rf"(?<![가-힣])(?:{_METRO}|(?!{_NOT_REGION})[가-힣]{{1,6}}(?:시|군|구))(?![가-힣])"
_ROAD = r"[가-힣a-z0-9]{1,12}(?:대로|로|길)\s?\d{1,4}(?:\s?번길\s?\d{1,4})?(?:\s?-\s?\d{1,4})?"
_LOT = r"[가-힣0-9]{1,10}(?:동|리|가)\s?\d{1,5}(?:\s?-\s?\d{1,5})?(?:\s?번지)?"
_NOT_ADDRESS_NUMBER = (
    r"(?!\d|\s?(?:번(?!지|길)|명|개|시간|시|살|세|년|월|일|분|회|차|등|위|%|원|층에서))"
)
_ADDRESS = re.compile(rf"(?:{_REGION}\s?){{1,3}}(?:{_ROAD}|{_LOT}){_NOT_ADDRESS_NUMBER}")
_APARTMENT_UNIT = re.compile(r"(?<![\d가-힣])\d{1,4}\s?동\s?\d{1,5}\s?호(?![가-힣])")
# A road-name address (도로명주소) without its city: a road word of two or more syllables, its
# building number, and something that makes it a place (번지/호/동/층, an apartment name, or
# 주소/사는/집 before it). "…로" also ends ordinary words ("으로", "새로", "마음대로"), vetoed.
_NOT_ROAD = (
    r"(?:[가-힣]*으로|새로|도로|대로|세로|가로|뒤로|위로|아래로|이리로|저리로|그리로|"
    r"마음대로|멋대로|제멋대로|그대로|이대로|저대로|따로|서로|바로|별로|실로|절로|홀로|"
    r"가는길|오는길|가던길|오던길|이길|그길|저길|한길|첫길|밤길|눈길|손길|발길)"
)
_ROAD_ONLY = re.compile(
    rf"(?<![가-힣])(?!{_NOT_ROAD}\s?\d)(?P<road>[가-힣]{{2,10}}(?:대로|로|길))"
    r"(?:\s?\d{1,4}번?길)?\s?\d{1,4}(?:\s?-\s?\d{1,4})?"
    r"(?=\s?(?:번지|호|동|층|아파트|빌라|오피스텔|맨션|,|\(|$))"
)
_ROAD_CONTEXT = re.compile(r"(?:주소|사는 ?곳|살아|사는|집|거주)\s?(?:은|는|이|가|:)?\s?$")
_ROAD_BARE = re.compile(
    rf"(?<![가-힣])(?!{_NOT_ROAD}\s?\d)[가-힣]{{2,10}}(?:대로|로|길)"
    r"(?:\s?\d{1,4}번?길)?\s?\d{1,4}(?:\s?-\s?\d{1,4})?" + _NOT_ADDRESS_NUMBER
)
# English street addresses: a house number and a street word, or a flat/apartment number.
# "Elm Street Cafe" or "Main Street at 5" has no house number before the street, so stays quiet.
_EN_STREET_WORD = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|close|crescent|terrace|"
    r"court|ct|place|pl|way|gardens|square|sq|grove|mews|row|hill)"
)
_EN_STREET = re.compile(
    rf"(?<![\w-])\d{{1,5}}[a-z]?(?:\s?-\s?\d{{1,5}})?,?\s"
    rf"(?:(?!(?:on|at|in|near|by|from|to|of|and|or|the|guys|people|blocks|minutes|miles)\b)"
    rf"[a-z][a-z'.-]*\s){{1,3}}"
    rf"{_EN_STREET_WORD}\b"
)
_EN_FLAT = re.compile(r"\b(?:flat|apartment|apt|unit|suite)\.?\s?(?:no\.?\s?)?#?\d{1,5}[a-z]?\b")

# School with grade/class. A Korean school name is one word ending in a school suffix; the short
# suffixes (중, 고, 초) also end ordinary words ("수업중", "최고"), which are listed and vetoed.
_SCHOOL_SUFFIX = r"(?:여자중학교|여자고등학교|중학교|고등학교|초등학교|여중|여고|중|고|초)"
_KO_SCHOOL = rf"(?<![가-힣])(?P<school>[가-힣]{{1,10}}?{_SCHOOL_SUFFIX})"
# A school name masked as posters mask it ("OO고등학교", "ㅇㅇ여고", "○○중", "모 고교"): insiders
# still know who is meant. After folding, "OO" is "oo" and "ㅇ" is U+110B.
_MASK = r"(?:o{1,3}|0{2,3}|\u110b{1,3}|[○◯●◎*xX]{1,3}|모\s?)"
_KO_SCHOOL_MASKED = re.compile(
    rf"(?<![가-힣a-z])(?P<school>{_MASK}(?:{_SCHOOL_SUFFIX}|고교|중학|초교))(?![가-힣])"
    rf"(?:\s?(?P<grade>[1-6])\s?학년(?:\s?(?P<klass>\d{{1,2}})\s?반)?)?"
)
_KO_SCHOOL_CLASS = re.compile(
    rf"{_KO_SCHOOL}\s?(?P<grade>[1-6])\s?학년(?:\s?(?P<klass>\d{{1,2}})\s?반)?"
)
_KO_SCHOOL_SHORT = re.compile(
    rf"{_KO_SCHOOL}\s(?P<grade>[1-6])\s?-\s?(?P<klass>[1-9]\d?)(?:\s?반)?(?![\d:-])"
)
_NOT_SCHOOL = frozenset(
    "그리고 최고 하고 이고 있고 없고 보고 사고 광고 재고 참고 경고 신고 중고 원고 기고 그중 도중 "
    "와중 집중 공중 연중 최초 당초 기초 연초 월초 수초 몇초 수업중 회의중 공사중 진행중 통화중 "
    "근무중 식사중 운전중 작업중 이동중 대기중 준비중 검토중 처리중 사용중 생각중 고민중 출근중 "
    "퇴근중 방송중 촬영중 조사중 수사중 치료중 연습중 공부중 시험중 휴가중 여행중 외출중 경기중 "
    "여고 여중 남고 남중 그러고 해주고 되고 말고 알고 싶고 같고 놓고 두고 쓰고 주고 "
    "하다고 라고 이라고 다고".split()
)
# One to four name words, not starting with a function word ("at Lincoln ...").
_EN_SCHOOL_NAME = (
    r"(?:(?!(?:at|in|from|to|of|the|a|an|goes|attends|she|her|he|his|my|our)\b)"
    r"[^\W\d_][\w'.-]*\s+){1,4}"
)
_EN_SCHOOL_KIND = (
    r"(?:middle|high|elementary|primary|junior high|secondary|intermediate|grade)\s+school"
)
_EN_SCHOOL_KEYWORD = re.compile(_EN_SCHOOL_KIND)
_EN_SCHOOL_REACH = 80  # characters either side of the keyword the full pattern may span
_EN_SCHOOL_CLASS = re.compile(
    rf"\b{_EN_SCHOOL_NAME}{_EN_SCHOOL_KIND}\b[,\s(]{{0,3}}(?:grade|year|class|form)\s?\d{{1,2}}\b"
    rf"|\b(?:\d{{1,2}}(?:st|nd|rd|th)[\s-]+grade(?:r)?|grade\s?\d{{1,2}}|year\s?\d{{1,2}})"
    rf"\s+(?:at|in|from|of)\s+(?:the\s+)?{_EN_SCHOOL_NAME}{_EN_SCHOOL_KIND}\b",
)

# SNS handles and KakaoTalk IDs.
_HANDLE = r"[a-z0-9_](?:[a-z0-9_.]{1,28}[a-z0-9_])?"
_MENTION = re.compile(rf"(?<![\w@.+-])@(?P<handle>{_HANDLE})(?![\w@])")
_PROFILE_URL = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?(?:instagram\.com|instagr\.am|twitter\.com|x\.com|"
    r"tiktok\.com/@|facebook\.com|fb\.com|threads\.net/@|youtube\.com/@|twitch\.tv|"
    r"snapchat\.com/add)/?@?(?!(?:p|reel|reels|explore|share|watch|stories|hashtag|i)/)"
    rf"(?P<handle>{_HANDLE})",
)
_ID_WORD = r"(?:아이디|아디|계정|id|핸들|handle)"
_SNS_KO = r"(?:인스타그램|인스타|트위터|틱톡|페이스북|페북|스냅챗|스레드|유튜브|트친|엑스)"
_SNS_EN = r"(?:instagram|insta|ig|twitter|tiktok|facebook|fb|snapchat|snap|threads)"
_SNS_KEYWORD = re.compile(
    rf"{_SNS_KO}\s?(?:{_ID_WORD}\s?)?[:=]?\s?@?(?P<handle>{_HANDLE})(?![\w@])"
    rf"|\b{_SNS_EN}\s?(?:{_ID_WORD}\s?[:=]?|[:=])\s?@?(?P<handle2>{_HANDLE})(?![\w@])",
)
_KAKAO_ID = re.compile(
    r"(?:카카오톡|카톡|카카오)\s?(?:(?:아이디|아이뒤|아디|id)\s?)?[:=]?\s?(?P<handle>[a-z0-9_.\-]{4,20})"
    r"(?![\w.\-])"
    r"|\b(?:kakao\s?talk|kakaotalk|kakao|katalk)\s?(?:id\s?[:=]?|[:=])\s?"
    r"(?P<handle2>[a-z0-9_.\-]{4,20})(?![\w.\-])",
)
_KAKAO_OPEN_CHAT = re.compile(r"(?:https?://)?open\.kakao\.com/o/[a-z0-9]+")
# Words that follow "인스타"/"카톡"/"카카오" in ordinary chat and are not account names.
_NOT_HANDLE = frozenset(
    "dm story stories live reels reel feed post posts link profile account pic pics photo "
    "ok okay lol haha thx thanks plz please bank pay talk taxi map games page webtoon".split()
)


def _valid_birth_date(digits: str, gender_digit: str) -> bool:
    """Whether YYMMDD is a real date for the century the RRN gender digit implies."""
    century = 1900 if gender_digit in "1256" else 2000
    year = century + int(digits[:2])
    try:
        born = date(year, int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return False
    return born <= date.today()


def _rrn_checksum_ok(digits: str) -> bool:
    """The pre-2020 RRN check digit (numbers issued since October 2020 have none)."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    total = sum(int(d) * w for d, w in zip(digits[:12], weights, strict=True))
    return (11 - total % 11) % 10 == int(digits[12])


def _rrn_hits(text: str) -> Iterator[_Found]:
    for found in _RRN.finditer(text):
        birth, dash, gender, rest = found.groups()
        if not _valid_birth_date(birth, gender):
            continue
        if dash is None:
            # Thirteen bare digits are often some other number: ask for the check digit or
            # an explicit mention of a registration number nearby.
            digits = birth + gender + rest
            nearby = text[max(0, found.start() - 20) : found.start()]
            if not (_rrn_checksum_ok(digits) or _RRN_CONTEXT.search(nearby)):
                continue
        yield found.start(), found.end(), "rrn", 3, "ko"
    for found in _RRN_MASKED.finditer(text):
        if _valid_birth_date(found.group(1), found.group(2)):
            yield found.start(), found.end(), "rrn", 2, "ko"


def _address_hits(text: str) -> Iterator[_Found]:
    """Road-name addresses written without their city: with a place word after the number, or
    after "주소"/"사는 곳"/"집"."""
    for found in _ROAD_ONLY.finditer(text):
        yield found.start(), found.end(), "address_kr", 2, "ko"
    for found in _ROAD_BARE.finditer(text):
        if _ROAD_CONTEXT.search(text[max(0, found.start() - 12) : found.start()]):
            yield found.start(), found.end(), "address_kr", 2, "ko"
    for pattern in (_EN_STREET, _EN_FLAT):
        for found in pattern.finditer(text):
            yield found.start(), found.end(), "address", 2, "en"


def _school_hits(text: str) -> Iterator[_Found]:
    for found in _KO_SCHOOL_MASKED.finditer(text):
        # A masked name alone says which school to insiders; with a class it pins the child.
        severity = 3 if found.group("klass") else 2
        yield found.start(), found.end(), "school_class", severity, "ko"
    for pattern in (_KO_SCHOOL_CLASS, _KO_SCHOOL_SHORT):
        for found in pattern.finditer(text):
            if found.group("school") in _NOT_SCHOOL:
                continue
            # A class number pins down a child's classroom; grade alone is less precise.
            severity = 3 if found.group("klass") else 2
            yield found.start(), found.end(), "school_class", severity, "ko"
    # The full English pattern is slow to try at every word, so it runs only in a window around
    # each "... school" keyword; \b still sees the characters outside the window.
    seen: set[tuple[int, int]] = set()
    for keyword in _EN_SCHOOL_KEYWORD.finditer(text):
        window_start = max(0, keyword.start() - _EN_SCHOOL_REACH)
        window_end = min(len(text), keyword.end() + _EN_SCHOOL_REACH)
        for found in _EN_SCHOOL_CLASS.finditer(text, window_start, window_end):
            if found.span() not in seen:
                seen.add(found.span())
                yield found.start(), found.end(), "school_class", 3, "en"


def _handle_hits(text: str) -> Iterator[_Found]:
    for found in _MENTION.finditer(text):
        if any(c.isalpha() for c in found.group("handle")):
            yield found.start(), found.end(), "sns_handle", 1, None
    for pattern in (_PROFILE_URL, _SNS_KEYWORD):
        for found in pattern.finditer(text):
            handle = found.groupdict().get("handle2") or found.group("handle")
            if len(handle) < 3 or handle in _NOT_HANDLE:
                continue
            yield found.start(), found.end(), "sns_handle", 2, None


def _kakao_hits(text: str) -> Iterator[_Found]:
    for found in _KAKAO_ID.finditer(text):
        handle = found.group("handle") or found.group("handle2")
        # An all-digit "ID" after 카톡 is almost always a phone number, reported as such.
        if handle in _NOT_HANDLE or not any(c.isalpha() for c in handle):
            continue
        yield found.start(), found.end(), "kakao_id", 2, "ko"
    for found in _KAKAO_OPEN_CHAT.finditer(text):
        yield found.start(), found.end(), "kakao_id", 2, "ko"


def _simple(pattern: re.Pattern[str], label: str, severity: int, lang: str | None) -> _Detector:
    def hits(text: str) -> Iterator[_Found]:
        for found in pattern.finditer(text):
            yield found.start(), found.end(), label, severity, lang

    return hits


@cache
def _detectors() -> tuple[_Detector, ...]:
    return (
        _simple(_MOBILE, "phone_kr_mobile", 2, "ko"),
        _simple(_LANDLINE, "phone_kr_landline", 1, "ko"),
        _rrn_hits,
        _simple(_EMAIL, "email", 2, None),
        _simple(_ADDRESS, "address_kr", 2, "ko"),
        _simple(_APARTMENT_UNIT, "address_kr", 2, "ko"),
        _address_hits,
        _school_hits,
        _handle_hits,
        _kakao_hits,
    )


def find_doxxing(folded: NormalizedText) -> list[DoxxingHit]:
    """Every personal-data hit in `folded` (the output of `normalize.fold`), spans in the
    original text, in no set order. Each detector is one or two regex scans: linear cost."""
    hits: list[DoxxingHit] = []
    for detector in _detectors():
        for start, end, label, severity, lang in detector(folded.text):
            if start == end:
                continue
            original_start, original_end = folded.original_span(start, end)
            hits.append(DoxxingHit(label, original_start, original_end, severity, lang))
    return hits
