"""Banking confirmed content: a final removal banks the media's hashes, so a rotated, re-encoded
re-share is matched by triage and ranked first; a reversal withdraws them at once. Everything
through intake, triage, the decision service and the reversal service."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from models import Bank, BankEntry, EntryStatus, Report
from moderation.core.db import db
from moderation.outcomes import effects
from tests.cases.case_factories import fast_triage
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.outcomes.outcome_factories import decide

ORIGINAL = make_image(41, (480, 360))


def _rotated_copy() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(ORIGINAL)).rotate(90, expand=True).save(out, format="PNG")
    return out.getvalue()


def _post(app, client, platform, media: bytes) -> int:
    response = post_report(client, platform, report_body([media], category="ncii"))
    assert response.status_code == 202
    return response.get_json()["id"]


def _reasons(app, report_id: int) -> tuple[int, list[str]]:
    with app.app_context():
        report = db.session.get(Report, report_id)
        return report.priority, [reason["code"] for reason in report.priority_reasons]


def test_a_removal_banks_the_content_and_a_reversal_withdraws_it(app, client, tmp_path):
    fast_triage(app, tmp_path)
    platform = make_platform(app)
    first = _post(app, client, platform, ORIGINAL)
    run_worker_burst(app)
    user_id = decide(app, first, "remove.ncii")

    with app.app_context():
        bank = db.session.execute(select(Bank)).scalar_one()
        assert (bank.name, str(bank.kind)) == ("confirmed", "confirmed")
        entries = db.session.execute(select(BankEntry)).scalars().all()
        assert sorted(str(e.signal_type) for e in entries) == ["md5", "pdq", "sha256"]
        assert {e.source for e in entries} == {"decision:1"}
        assert all(e.added_by_user_id == user_id for e in entries)

    reshare = _post(app, client, platform, _rotated_copy())
    unrelated = _post(app, client, platform, make_image(42, (480, 360)))
    run_worker_burst(app)
    reshare_priority, reshare_reasons = _reasons(app, reshare)
    unrelated_priority, _ = _reasons(app, unrelated)
    assert "bank.confirmed" in reshare_reasons
    assert reshare_priority > unrelated_priority

    with app.app_context():
        effects.reverse(db.session, first, user_id, "the appeal showed consent")
        statuses = db.session.execute(select(BankEntry.status)).scalars().all()
    assert set(statuses) == {EntryStatus.WITHDRAWN}
    later = _post(app, client, platform, _rotated_copy())
    run_worker_burst(app)
    assert "bank.confirmed" not in _reasons(app, later)[1]


def test_an_entry_confirmed_twice_survives_one_reversal(app, client, tmp_path):
    fast_triage(app, tmp_path)
    platform = make_platform(app)
    first = _post(app, client, platform, ORIGINAL)
    second = _post(app, client, platform, ORIGINAL)  # the same bytes, reported again
    run_worker_burst(app)
    user_id = decide(app, first, "remove.ncii")
    decide(app, second, "remove.ncii")
    with app.app_context():
        effects.reverse(db.session, first, user_id, "reviewed again")
        entries = db.session.execute(select(BankEntry)).scalars().all()
        # Still confirmed by the second decision, which now carries them.
        assert {(str(e.status), e.source) for e in entries} == {("active", "decision:2")}


def test_no_violation_banks_nothing_and_an_emptied_policy_list_stops_banking(app, client, tmp_path):
    fast_triage(app, tmp_path)
    platform = make_platform(app)
    ids = [_post(app, client, platform, make_image(seed)) for seed in (43, 44, 45)]
    run_worker_burst(app)
    decide(app, ids[0], "no_violation")
    with app.app_context():
        assert db.session.execute(select(BankEntry)).first() is None
    decide(app, ids[1], "remove.ncii")
    result = app.test_cli_runner().invoke(args=["bank", "policies", "confirmed", "--json"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(Bank.decision_policies)).scalar_one() == []
        count = len(db.session.execute(select(BankEntry)).all())
    decide(app, ids[2], "remove.ncii")
    with app.app_context():
        assert len(db.session.execute(select(BankEntry)).all()) == count


def test_a_senior_adds_a_report_to_the_confirmed_bank_from_the_item_page(app, client, tmp_path):
    from tests.factories import csrf_token, login, make_user

    fast_triage(app, tmp_path)
    platform = make_platform(app)
    first = _post(app, client, platform, ORIGINAL)
    run_worker_burst(app)
    make_user(app, "lead@example.org", "senior")
    make_user(app, "mod@example.org")
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    page = moderator.get(f"/review/{first}").get_data(as_text=True)
    assert "confirmed bank" not in page
    refused = moderator.post(f"/review/{first}/bank", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    senior = app.test_client()
    login(senior, "lead@example.org")
    page = senior.get(f"/review/{first}?lang=en").get_data(as_text=True)
    assert "Add its media to the confirmed bank" in page
    senior.post(f"/review/{first}/bank", data={"csrf_token": csrf_token(page)})
    with app.app_context():
        entries = db.session.execute(select(BankEntry)).scalars().all()
        assert sorted(str(e.signal_type) for e in entries) == ["md5", "pdq", "sha256"]
        assert {e.source for e in entries} == {f"review:{first}"}
    reshare = _post(app, client, platform, _rotated_copy())
    run_worker_burst(app)
    assert "bank.confirmed" in _reasons(app, reshare)[1]


def test_exact_reshares_are_decided_automatically_only_when_switched_on(app, client, tmp_path):
    from models import AuditEvent, Decision
    from moderation.review import finalize
    from tests.factories import csrf_token, login, make_user

    fast_triage(app, tmp_path)
    platform = make_platform(app)
    first = _post(app, client, platform, ORIGINAL)
    run_worker_burst(app)
    decide(app, first, "remove.ncii")
    off = _post(app, client, platform, ORIGINAL)  # the same bytes, with the switch off
    run_worker_burst(app)
    with app.app_context():
        assert db.session.execute(select(Decision).where(Decision.report_id == off)).first() is None

    app.config["AUTO_DECIDE_RESHARES"] = True
    exact = _post(app, client, platform, ORIGINAL)
    near = _post(app, client, platform, _rotated_copy())  # a near copy still goes to a person
    run_worker_burst(app)
    with app.app_context():
        auto = db.session.execute(select(Decision).where(Decision.report_id == exact)).scalar_one()
        assert (auto.user_id, auto.action, auto.state) == (None, "remove.ncii", "pending")
        assert (
            db.session.execute(select(Decision).where(Decision.report_id == near)).first() is None
        )
        assert (
            db.session.execute(select(AuditEvent).where(AuditEvent.action == "decision.auto"))
            .scalar_one()
            .actor_kind
            == "system"
        )
    # A senior may undo it while its window is open; a moderator may not.
    make_user(app, "lead@example.org", "senior")
    senior = app.test_client()
    login(senior, "lead@example.org")
    page = senior.get(f"/review/{exact}?lang=en").get_data(as_text=True)
    assert "Undo the automatic decision" in page
    senior.post(f"/review/undo/{auto.batch_id}", data={"csrf_token": csrf_token(page)})
    with app.app_context():
        assert db.session.get(Decision, auto.id) is None
        finalize.finalize_due(db.session)
