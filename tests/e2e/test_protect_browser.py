"""/protect in Chromium: the browser's PDQ and MD5 (static/js/pdq.js, md5.js) agree with the
Python path on Meta's reference images; registering through the real page and file picker
sends hashes and never image bytes; a platform report of a rotated, re-encoded copy ranks
first with the registration reason; withdrawal stops the next copy matching; wrong PINs are
refused and throttled. Screenshots of /protect at phone width in Korean and English."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from urllib.parse import quote_from_bytes

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from models import BankEntry, ProtectHash, Report
from moderation.core.db import db
from moderation.media.analysis import analyse_image
from moderation.media.imaging import ImageLimits
from tests.conftest import TESTDATA
from tests.e2e.conftest import _no_csp_violation
from tests.factories import (
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)

PDQ_DIR = TESTDATA / "pdq"
REFERENCE_IMAGES = sorted(
    path for path in PDQ_DIR.rglob("*") if path.suffix.lower() in (".jpg", ".jpeg", ".png")
)
SHOTS = Path(__file__).resolve().parent / "screenshots"
# The worst Hamming distance measured between pdq.js in Chromium and the Python PDQ of the
# same files (docs/BENCHMARKS.md): 0 bits on all 23 reference images and their EXIF-rotated
# copies. The bound leaves two bits for a future decoder's rounding, far inside PDQ's
# match threshold of 31.
PDQ_JS_MAX_DISTANCE = 2
PHONE = {"width": 390, "height": 844}
_HASH_IN_PAGE = """async ([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const file = new File([bytes], name);
  const pdq = await PDQ.fromFile(file);
  return {pdq: pdq.hash, quality: pdq.quality, md5: MD5.hex(bytes)};
}"""


def python_pdq(data: bytes) -> str:
    """The hash triage matches with (moderation/media/analysis.py), original orientation."""
    return analyse_image(data, ImageLimits()).dihedral[0]


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def exif_rotated(data: bytes, orientation: int) -> bytes:
    """`data` re-encoded with its pixels stored transformed and an EXIF Orientation tag that
    undoes it, as phone cameras write them."""
    undo = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }[orientation]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    for step in undo:
        image = image.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def _reencoded_rotation(data: bytes, degrees: int) -> bytes:
    out = io.BytesIO()
    rotated = Image.open(io.BytesIO(data)).convert("RGB").rotate(degrees, expand=True)
    rotated.save(out, format="JPEG", quality=75)
    return out.getvalue()


def _record_requests(page: Page) -> list[tuple[str, str, bytes]]:
    seen: list[tuple[str, str, bytes]] = []
    # The whole context: a request from a worker or another frame of the page counts too.
    page.context.on("request", lambda r: seen.append((r.method, r.url, r.post_data_buffer or b"")))
    return seen


def _carries_image(body: bytes, images: list[bytes]) -> bool:
    """Whether `body` holds a recognisable piece of any image: 48 raw bytes from its start,
    middle or end, or 40 characters of its base64 (standard, URL-safe or percent-encoded)."""
    for data in images:
        for start in (0, len(data) // 2, max(0, len(data) - 48)):
            if data[start : start + 48] in body:
                return True
        encoded = base64.b64encode(data)
        for start in (0, (len(encoded) // 2) // 4 * 4, max(0, len(encoded) - 64) // 4 * 4):
            window = encoded[start : start + 40]
            variants = (window, window.replace(b"+", b"-").replace(b"/", b"_"))
            if any(v in body or quote_from_bytes(v).encode() in body for v in variants):
                return True
    return False


def _choose(page: Page, paths: list[Path], input_id: str = "photos") -> None:
    with page.expect_file_chooser() as chooser:
        page.click(f"label[for={input_id}]")  # the visible button; the input is hidden
    chooser.value.set_files([str(path) for path in paths])
    form = page.locator("form[data-protect-form]").first
    expect(form).to_have_attribute("data-protect-hashed", str(len(paths)), timeout=30_000)


def test_pdq_js_agrees_with_python_on_every_reference_image(app, page: Page):
    page.goto("/protect")
    worst, rows = 0, []
    samples = [
        (path.relative_to(PDQ_DIR).as_posix(), path.read_bytes()) for path in REFERENCE_IMAGES
    ]
    original = (PDQ_DIR / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    samples += [(f"exif-orientation-{n}.jpg", exif_rotated(original, n)) for n in range(2, 9)]
    for name, data in samples:
        browser = page.evaluate(_HASH_IN_PAGE, [base64.b64encode(data).decode(), name])
        bits = distance(browser["pdq"], python_pdq(data))
        rows.append((name, bits))
        worst = max(worst, bits)
        assert browser["md5"] == hashlib.md5(data).hexdigest(), name  # noqa: S324 - bank format
    assert len(rows) == len(REFERENCE_IMAGES) + 7 >= 30
    assert worst <= PDQ_JS_MAX_DISTANCE, rows
    # The EXIF-rotated copies are upright after decoding, like Pillow's exif_transpose.
    upright = python_pdq(original)
    for orientation in range(2, 9):
        data = exif_rotated(original, orientation)
        browser = page.evaluate(_HASH_IN_PAGE, [base64.b64encode(data).decode(), "x.jpg"])
        assert distance(browser["pdq"], upright) <= 8, orientation
    # Browsers whose createImageBitmap cannot decode a Blob fall back to <img>: same bits.
    fallback = [
        ("bridge-mods/aaa-orig.jpg", original),
        ("formats/LA.png", (PDQ_DIR / "formats" / "LA.png").read_bytes()),
        ("exif-orientation-6.jpg", exif_rotated(original, 6)),
    ]
    page.evaluate("window.createImageBitmap = undefined")
    for name, data in fallback:
        browser = page.evaluate(_HASH_IN_PAGE, [base64.b64encode(data).decode(), name])
        assert distance(browser["pdq"], python_pdq(data)) <= PDQ_JS_MAX_DISTANCE, name
    # Flat pictures are told apart by quality, as on the server.
    flat = io.BytesIO()
    Image.new("RGB", (200, 200), (120, 130, 140)).save(flat, format="PNG")
    browser = page.evaluate(_HASH_IN_PAGE, [base64.b64encode(flat.getvalue()).decode(), "f.png"])
    assert browser["quality"] < 50
    _no_csp_violation(page)


def _wrong_pin_attempt(page: Page, number: str) -> int:
    page.goto("/protect/case")
    page.fill("#case", number)
    page.fill("#pin", "00000000")
    with page.expect_response(lambda r: r.url.endswith("/protect/case")) as answer:
        page.click("button[type=submit]")
    return answer.value.status


def test_register_through_the_page_match_withdraw_and_pins(app, page: Page, client, tmp_path):
    app.config.update(PROTECT_MAX_IMAGES=30, RATE_LIMIT_PROTECT_CASE="3/hour")
    requests = _record_requests(page)
    images = [path.read_bytes() for path in REFERENCE_IMAGES]

    page.set_viewport_size(PHONE)
    page.goto("/protect")
    expect(page.locator("html[data-protect-ready]")).to_have_count(1)
    _choose(page, REFERENCE_IMAGES)
    # Every chosen photo has a preview drawn on the page and is ready (none is flat).
    expect(page.locator("[data-protect-chosen] li canvas")).to_have_count(len(REFERENCE_IMAGES))
    expect(page.locator("[data-protect-chosen] li.ready")).to_have_count(len(REFERENCE_IMAGES))
    page.check("input[name=category][value=synthetic_sexual]")
    page.check("#consent")
    page.fill("#contact", "registrant@mail.example")
    page.click("[data-protect-submit]")
    page.wait_for_url("**/protect/registered")
    number = page.locator("[data-case-number]").inner_text()
    pin = page.locator("[data-case-pin]").inner_text()
    _no_csp_violation(page)

    # Nothing the page sent held image bytes; the registration was hashes and answers.
    posts = [body for method, _url, body in requests if method == "POST"]
    assert len(posts) == 1 and b"hashes=" in posts[0] and len(posts[0]) < 20_000
    assert not [url for _m, url, body in requests if _carries_image(body, images)]
    assert all(url.startswith(page.url.split("/protect")[0]) for _m, url, _b in requests)

    # Each file's stored PDQ is within the measured bound of Python's hash of that file: the
    # page sends the photos in the order chosen, and the registration numbers them so (the
    # two identical files count once), so stored hashes pair with files one to one.
    with app.app_context():
        rows = db.session.execute(
            select(ProtectHash.image_index, BankEntry.signal_type, BankEntry.signal_value)
            .join(BankEntry, BankEntry.id == ProtectHash.bank_entry_id)
            .order_by(ProtectHash.image_index)
        ).all()
    stored: dict[int, dict[str, str]] = {}
    for index, kind, value in rows:
        stored.setdefault(index, {})[str(kind)] = value
    unique = list({hashlib.md5(data).hexdigest(): data for data in reversed(images)}.items())  # noqa: S324
    unique = sorted(unique, key=lambda item: images.index(item[1]))
    assert len(stored) == len(unique)
    for index, (md5, data) in enumerate(unique):
        assert stored[index]["md5"] == md5
        assert distance(stored[index]["pdq"], python_pdq(data)) <= PDQ_JS_MAX_DISTANCE, index

    # A platform report of a rotated, re-encoded copy ranks above unrelated reports.
    platform = make_platform(app)
    registered = (PDQ_DIR / "bridge-mods" / "aaa-orig.jpg").read_bytes()

    def report(data: bytes) -> int:
        response = post_report(client, platform, report_body(media=[data]))
        assert response.status_code == 202
        return response.get_json()["id"]

    copy_id = report(_reencoded_rotation(registered, 90))
    unrelated = [report(make_image(seed, size=(400, 300))) for seed in (71, 72, 73)]
    run_worker_burst(app)
    with app.app_context():
        copy = db.session.get(Report, copy_id)
        others = [db.session.get(Report, report_id) for report_id in unrelated]
        assert all(copy.priority > other.priority for other in others), [
            (r.priority, r.priority_reasons) for r in [copy, *others]
        ]
        assert copy.priority_reasons[0]["code"] == "bank.victim_submitted"
        assert copy.priority_reasons[0]["detail"] == "matches a photo its subject registered"
    make_user(app, "senior@example.org", role="senior")
    assert login(client, "senior@example.org").status_code == 302
    item = client.get(f"/review/{copy_id}?lang=en").get_data(as_text=True)
    assert "matches a photo its subject registered" in item and "data-registered-match" in item
    assert "there is no registered image to compare" in item

    # Wrong PINs from a stranger's browser are refused, then throttled.
    stranger = page.context.browser.new_context(base_url=page.url.split("/protect")[0])
    other = stranger.new_page()
    assert [_wrong_pin_attempt(other, number) for _ in range(3)] == [404, 404, 404]
    expect(other.locator("[role=alert]")).to_contain_text("could not find a registration")
    assert _wrong_pin_attempt(other, number) == 429
    stranger.close()

    # The owner opens the case: one match, a date, no content; then withdraws everything.
    page.goto("/protect/case")
    page.fill("#case", number)
    page.fill("#pin", pin)
    page.click("button[type=submit]")
    page.wait_for_url("**/protect/case/view**")
    expect(page.locator("[data-case-matches]")).to_have_text("1")
    # Two reference files are the same bytes (aaa-orig and bridge-1-original): one photo.
    distinct = len({hashlib.md5(data).hexdigest() for data in images})  # noqa: S324
    expect(page.locator("[data-case-images]")).to_have_text(str(distinct))
    assert page.locator(".match-dates li").count() == 1
    assert page.locator("main img").count() == 0
    # More photos through the case page's own picker, hashes only again.
    extra = tmp_path / "another.jpg"
    extra.write_bytes(make_image(74, size=(400, 300)))
    _choose(page, [extra], input_id="more-photos")
    page.click("[data-protect-submit]")
    page.wait_for_url("**done=added**")
    expect(page.locator("[data-case-images]")).to_have_text(str(distinct + 1))
    assert not [url for _m, url, body in requests if _carries_image(body, [extra.read_bytes()])]
    SHOTS.mkdir(exist_ok=True)
    for lang in ("en", "ko"):
        page.goto(f"/protect/case/view?lang={lang}")
        page.screenshot(path=str(SHOTS / f"protect-case-{lang}.png"), full_page=True)
    page.goto("/protect/case/view?lang=en")
    page.check("#confirm")
    page.click("[data-protect-withdraw]")
    page.wait_for_url("**done=withdrawn**")
    expect(page.locator("[data-case-status]")).to_contain_text("Withdrawn")

    after_id = report(_reencoded_rotation(registered, 180))
    run_worker_burst(app)
    with app.app_context():
        after = db.session.get(Report, after_id)
        assert "bank.victim_submitted" not in {r["code"] for r in after.priority_reasons}
    _no_csp_violation(page)


def test_protect_page_screenshots_in_korean_and_english(app, page: Page):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    flat = SHOTS / "flat-sample.png"
    Image.new("RGB", (300, 300), (200, 190, 180)).save(flat)
    for lang, heading in (("en", "Protect your photos"), ("ko", "내 사진 보호하기")):
        page.goto(f"/protect?lang={lang}")
        expect(page.locator("h1")).to_contain_text(heading)
        _choose(
            page, [PDQ_DIR / "bridge-mods" / "aaa-orig.jpg", PDQ_DIR / "formats" / "rgb.jpeg", flat]
        )
        expect(page.locator("[data-protect-chosen] li.refused")).to_have_count(1)
        page.screenshot(path=str(SHOTS / f"protect-{lang}.png"), full_page=True)
        # Nothing is wider than a phone screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _no_csp_violation(page)
