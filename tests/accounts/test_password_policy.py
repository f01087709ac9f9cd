"""Common and easily guessed passwords are refused wherever a password is chosen (finding 14)."""

from __future__ import annotations

import json

import pytest

from moderation.accounts.users import check_new_password
from moderation.core.errors import ValidationError
from tests.accounts.test_admin_users import _accept, _admin, _invite
from tests.factories import PASSWORD, csrf_token, login, make_user, totp_code_for

COMMON = "password1234"


@pytest.mark.parametrize("weak", [COMMON, "qwerty123456", "iloveyou1234", "Password1234!"])
def test_common_passwords_are_refused(weak):
    with pytest.raises(ValidationError) as refused:
        check_new_password(weak)
    assert refused.value.code == "weak_password"


def test_a_password_made_of_the_email_is_refused():
    with pytest.raises(ValidationError) as refused:
        check_new_password("mod@example.org1234", user_inputs=("mod@example.org",))
    assert refused.value.code == "weak_password"


def test_long_uncommon_passphrases_pass():
    check_new_password(PASSWORD)
    check_new_password("a brand new long passphrase")


def _change_password(client, new: str, lang: str = "en"):
    page = client.get(f"/account/password?lang={lang}").get_data(as_text=True)
    return client.post(
        f"/account/password?lang={lang}",
        data={
            "current": PASSWORD,
            "code": totp_code_for(client.application),
            "new": new,
            "confirm": new,
            "csrf_token": csrf_token(page),
        },
    )


def test_the_password_page_says_why_in_english_and_korean(app, client):
    make_user(app)
    login(client)
    english = _change_password(client, COMMON)
    assert english.status_code == 422
    assert "too common or too easy to guess" in english.get_data(as_text=True)
    korean = _change_password(client, COMMON, lang="ko")
    assert korean.status_code == 422
    assert "추측하기 쉬운 비밀번호" in korean.get_data(as_text=True)
    short = _change_password(client, "short", lang="ko")
    assert short.status_code == 422 and "12자 이상" in short.get_data(as_text=True)
    assert login(app.test_client(), password=COMMON).status_code == 401  # nothing changed


def test_an_invitee_cannot_choose_a_common_password(app, client):
    _admin(app, client)
    path = _invite(client)
    _, answer = _accept(app, path, password=COMMON)
    assert answer.status_code == 422
    assert "too common or too easy to guess" in answer.get_data(as_text=True)


def test_the_cli_refuses_a_common_password(app, runner):
    result = runner.invoke(
        args=["user", "add", "x@example.org", "--role", "admin", "--password-stdin", "--json"],
        input=f"{COMMON}\n",
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "weak_password"
