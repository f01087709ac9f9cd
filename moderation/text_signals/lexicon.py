"""The Korean and English abuse vocabulary (image-based sexual abuse, calls to violence) as data,
and the matcher that finds it in text normalised by `normalize.normalize`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from moderation.text_signals.normalize import NormalizedText

__all__ = ["CONTEXT_WINDOW", "LEXICON", "LexiconEntry", "LexiconHit", "compile_term", "match"]

# How far (in normalised characters, either side of a hit) `requires`/`unless` context is sought.
CONTEXT_WINDOW = 15


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One abuse term.

    `pattern` is a regular expression over normalised text (lower case, no repeated Latin
    letters, one space between words). Write words naturally: `compile_term` collapses doubled
    letters ("kill" → "kil"), lets "l" also match "1"-leetspeak, and reads each literal space as
    an optional word gap ("지인 능욕" also matches "지인능욕"). English entries (`lang="en"`) only
    match whole words. `requires`, if set, must occur within CONTEXT_WINDOW characters of the
    hit; `unless`, if found there, vetoes it (how "합성" in "광합성" or "합성수지" stays silent).
    """

    label: str
    pattern: str
    severity: int
    lang: str
    kind: str = "lexicon"
    requires: str | None = None
    unless: str | None = None


@dataclass(frozen=True, slots=True)
class LexiconHit:
    """A lexicon match: the entry and its span in the ORIGINAL text."""

    entry: LexiconEntry
    start: int
    end: int


def _ko(label: str, pattern: str, severity: int, **options: str) -> LexiconEntry:
    return LexiconEntry(label, pattern, severity, "ko", **options)


def _en(label: str, pattern: str, severity: int, **options: str) -> LexiconEntry:
    return LexiconEntry(label, pattern, severity, "en", **options)


# Context shared by several entries. A composite ("합성") is abuse when it is about a person's
# face or body; chemistry, speech synthesis and grammar use the same word.
_PERSON_OR_PHOTO = (
    r"사진|얼굴|짤|능욕|알몸|나체|누드|야짤|야동|벗|가슴|몸매|섹스|딥페|지인|여친|여사친|"
    r"전여친|누나|언니|선생|쌤|동생|걔|얘|그년|이년|인스타|프사|카톡|몸|영상"
)
_NOT_PERSON_COMPOSITE = (
    r"광 합성|화학|화합물|분자|단백질|촉매|시약|효소|실험|"
    r"유기 합성|음성 합성|목소리 합성|보이스|tts|"
    r"합성 (?:수지|섬유|고무|세제|곱|함수|물질|신호|데이터|음)"
)
_FRUIT_OR_GAME = (
    r"딸기|사과|과일|열매|포도|복숭아|체리|앵두|자두|오디|귤|감나무|"
    r"농장|체험|땅 따먹|점수|포인트|수확"
)
_NOUN = r"(?:girl|bitch|slut|whore|woman|chick|hoe)"
_HER = rf"(?:her|him|them|this {_NOUN}|that {_NOUN})"
_FUTURE = r"(?:i|we) (?:will|l|would|d|wanna|want to|am going to|m going to|m gonna|gonna|should)"
# "somei" is "some1" after leetspeak decoding.
_SOMEONE = (
    r"(?:someone|somebody|somei|sb|any one|anybody|some of you|you guys) "
    r"(?:should|needs? to|has to|have to|gotta|go|pls|please|plz)"
)

# The vocabulary. Severity: 3 = act or call to act (request for a deepfake of someone, rape or
# death threat), 2 = abuse vocabulary, 1 = weak signal. Longer alternatives come first so the
# evidence span covers the whole word.
LEXICON: tuple[LexiconEntry, ...] = (
    # 지인능욕: sexualised humiliation of a real acquaintance, usually with composites.
    _ko("acquaintance_humiliation", r"지인 (?:능욕|합성|딥페이크|딥페|야짤|몸평|성희롱)", 3),
    _ko("acquaintance_humiliation", r"ㅈㅇㄴㅇ", 3),
    _ko(
        "humiliation", r"능욕 (?:방|계|글|해 줘|해 주|해 드|해 달|부탁|의뢰|요청|합니다|할 사람)", 3
    ),
    _ko("humiliation", r"능욕", 2),
    _en("acquaintance_humiliation", r"(?:cum tribute|tribute (?:pics|pictures|vids|her))", 3),
    # Deepfakes and face composites.
    _ko("deepfake", r"(?:딥|딮)(?:페이크|페잌|훼이크|페이끄|페)", 2),
    _ko("deepfake", r"딥 누드", 3),
    _en("deepfake", r"deep fake(?:s|d|r|rs)?", 2),
    _en("deepfake", r"fake (?:nudes?|porn|sex tape)", 2),
    _en("deepfake", r"face swap(?:ped|s)? (?:porn|nudes?|sex)", 2),
    _ko(
        "sexual_composite",
        r"(?<!광)합성 (?:본|짤|야짤|누드|사진|영상|"
        r"해 줘|해 주|해 드|해 달|해서 뿌|해서 올|의뢰|요청|부탁)",
        2,
        unless=_NOT_PERSON_COMPOSITE,
    ),
    _ko(
        "sexual_composite",
        r"(?<!광)합성",
        2,
        requires=_PERSON_OR_PHOTO,
        unless=_NOT_PERSON_COMPOSITE,
    ),
    # Rating and sexualising bodies of real people (몸매 평가).
    _ko("sexual_objectification", r"몸매 (?:평가|품평|점수|등급|순위|어때|보소)", 2),
    _ko("sexual_objectification", r"몸평", 2),
    _ko(
        "sexual_objectification",
        r"(?:가슴|엉덩이|골반|허벅지) (?:평가|품평|크기 평가|사이즈 평가)",
        2,
    ),
    _ko("sexual_objectification", r"얼평", 1),
    _en("sexual_objectification", rf"rate {_HER}(?: s)? (?:body|tits|boobs|ass|rack)", 2),
    _en("sexual_objectification", rf"would (?:you|u) (?:smash|fuck|bang) {_HER}", 2),
    # "Nudify" / undressing tools and requests.
    _ko("nudify", r"누디파이", 3),
    _ko("nudify", r"(?:옷|사진) 벗겨 (?:줘|주|드|달)", 3),
    _ko("nudify", r"(?:옷 벗기기|탈의|누드 변환|알몸 변환) (?:앱|어플|ai|봇|사이트|프로그램)", 3),
    _ko("nudify", r"(?:누드|알몸|나체) 변환", 3),
    _en("nudify", r"nud[ie]?f(?:y|ying|ied|ies|ier|iers|ication)", 3),
    _en("nudify", r"deep nudes?", 3),
    _en("nudify", rf"undress(?:ing|ed)? (?:{_HER}|app|ai|bot|tool|site)", 3),
    _en("nudify", rf"(?:remove|take off) {_HER} clothes", 3),
    _en("nudify", r"clothes? remover", 3),
    # Non-consensual intimate imagery vocabulary.
    _ko("ncii", r"리벤지 포르노|몰카|불법 촬영물|유출 (?:야동|영상|사진|본)", 2),
    _en("ncii", r"revenge porn|leaked nudes|(?:leak|post|share)(?:ed)? her nudes", 2),
    # Calls to spread someone's pictures, with a sexual slur for the person nearby: the English
    # form of 유포 ("spread these pics of the slut everywhere"). Without the slur, "share the
    # photos with everyone" after a wedding stays quiet.
    _en(
        "spread_call",
        r"(?:spread|share|send|post|leak|forward|pass|blast)(?:ing|ed|s)? (?:around )?"
        r"(?:these|those|the|her|this|his|their|all)? ?(?:nudes|pics|pictures|photos|vids|videos|"
        r"images|nude pics|sex tape)",
        3,
        kind="incitement",
        requires=rf"{_NOUN}|everywhere|every group|all over|her school|her family",
        unless=r"wedding|birthday|graduation|holiday|vacation|party photos|family photos",
    ),
    _en("sexual_slur", r"(?:slut|whore|hoe|skank|thot)(?:s)?", 2),
    _en("sexual_slur", r"(?:dirty|filthy|easy|cheap) (?:slut|whore|bitch)", 2),
    # Calls to expose someone (doxxing intent; the PII itself is found by doxxing.py).
    _ko("doxxing_intent", r"신상 (?:털|공개|박제|유포|까)", 2),
    _en("doxxing_intent", r"dox(?:x)?(?:ed|ing|es)?", 2),
    # Incitement: rape.
    _ko(
        "rape_threat",
        r"(?:강간|성폭행|윤간) (?:해라|해 버려|해 버리|해 줘|해야|하자|하고 싶|하러|할까|할래|"
        r"당해라|당했으면|당해야|당해 봐|당하길|당해 버려|시켜|해)",
        3,
        kind="incitement",
    ),
    _ko("rape_threat", r"따먹", 3, kind="incitement", unless=_FRUIT_OR_GAME),
    _en("rape_threat", rf"(?:gang )?rape {_HER}", 3, kind="incitement"),
    _en(
        "rape_threat",
        r"(?:(?:should|deserves? to|needs? to|gonna) (?:get|be)"
        r"|hope (?:she|he) (?:gets|is|will be)) raped",
        3,
        kind="incitement",
    ),
    _en("rape_threat", rf"{_FUTURE} rape", 3, kind="incitement"),
    # Incitement: violence and death.
    _ko(
        "violence_threat",
        r"죽여 (?:버려|버리자|버릴|버린다|라|야 돼|야 해|야 한다)|죽이자"
        r"|(?:패|때려|찔러) 죽(?:여|이자|일)",
        3,
        kind="incitement",
    ),
    _ko(
        "violence_threat",
        r"칼로 찔러|찔러 버려|염산 (?:뿌려|테러|부어)|얼굴에 염산|담가 버려",
        3,
        kind="incitement",
    ),
    _ko("violence_threat", r"찾아가서 (?:죽|패|때려|찔러|강간|혼내|참교육)", 3, kind="incitement"),
    _en("violence_threat", rf"kill {_HER}", 3, kind="incitement"),
    _en(
        "violence_threat",
        rf"{_SOMEONE} (?:hurt|kill|beat|stab|shoot|punch|attack|rape|slap) {_HER}",
        3,
        kind="incitement",
    ),
    _en(
        "violence_threat", rf"{_FUTURE} (?:kill|hurt|stab|beat|shoot) {_HER}", 3, kind="incitement"
    ),
    _en(
        "violence_threat",
        rf"(?:beat|stab|shoot|strangle|choke) {_HER}(?: up)?",
        3,
        kind="incitement",
    ),
    _en("violence_threat", r"(?:throw )?acid (?:on|in|at) her face", 3, kind="incitement"),
    _en(
        "violence_threat",
        r"(?:i hope|hope) (?:she|he) dies|(?:she|he) (?:should|deserves to|needs to) die",
        3,
        kind="incitement",
    ),
    # Incitement: intimidation, "put her in her place".
    _en("intimidation", rf"put {_HER} in (?:her|his|their) place", 2, kind="incitement"),
    _en("intimidation", rf"teach {_HER} a lesson", 2, kind="incitement"),
    _en(
        "intimidation", r"(?:find|found|know) (?:out )?where (?:she|he) lives", 2, kind="incitement"
    ),
    _en(
        "intimidation",
        rf"{_SOMEONE} (?:find|visit|dox|expose) {_HER}(?: (?:address|home|house|school|family))?",
        2,
        kind="incitement",
    ),
    _ko("intimidation", r"참교육 (?:시켜|해|하자|하러|가자)", 2, kind="incitement"),
    _ko(
        "intimidation",
        r"(?:집|학교|직장|회사) (?:찾아가자|찾아가야|찾아갈게|찾아간다|쳐들어가)",
        2,
        kind="incitement",
    ),
)


def compile_term(pattern: str) -> str:
    """Rewrite a lexicon regex for normalised text: doubled Latin letters collapse to one (as
    the text's do), a bare "l" also matches "i" (leetspeak "1" is read as "i"), and each literal
    space becomes an optional space. Escapes and [...] classes are copied untouched."""
    out: list[str] = []
    previous_letter = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            previous_letter = ""
            index += 2
            continue
        if char == "[":
            close = pattern.index("]", index + 1)
            out.append(pattern[index : close + 1])
            previous_letter = ""
            index = close + 1
            continue
        if "a" <= char <= "z":
            if char != previous_letter:
                out.append("[li]" if char == "l" else char)
            previous_letter = char
            index += 1
            continue
        out.append(" ?" if char == " " else char)
        previous_letter = ""
        index += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _CompiledEntry:
    entry: LexiconEntry
    regex: re.Pattern[str]
    requires: re.Pattern[str] | None
    unless: re.Pattern[str] | None


@cache
def _compiled() -> tuple[_CompiledEntry, ...]:
    """Compile the lexicon once per process, on first use (nothing happens at import)."""

    def optional(pattern: str | None) -> re.Pattern[str] | None:
        return re.compile(compile_term(pattern)) if pattern else None

    return tuple(
        _CompiledEntry(
            entry,
            re.compile(compile_term(entry.pattern)),
            optional(entry.requires),
            optional(entry.unless),
        )
        for entry in LEXICON
    )


def _is_latin_letter(char: str) -> bool:
    return "a" <= char <= "z"


def match(normalized: NormalizedText) -> list[LexiconHit]:
    """Every lexicon hit in `normalized`, with spans in the original text, in no set order.

    Cost is one regex scan per entry over the text, i.e. linear in its length.
    """
    text = normalized.text
    hits: list[LexiconHit] = []
    for compiled in _compiled():
        entry = compiled.entry
        for found in compiled.regex.finditer(text):
            start, end = found.span()
            if start == end:
                continue
            if entry.lang == "en" and (
                (start > 0 and _is_latin_letter(text[start - 1]))
                or (end < len(text) and _is_latin_letter(text[end]))
            ):
                continue
            window = text[max(0, start - CONTEXT_WINDOW) : end + CONTEXT_WINDOW]
            if compiled.requires is not None and not compiled.requires.search(window):
                continue
            if compiled.unless is not None and compiled.unless.search(window):
                continue
            original_start, original_end = normalized.original_span(start, end)
            hits.append(LexiconHit(entry, original_start, original_end))
    return hits
