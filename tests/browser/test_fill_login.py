"""fill_login in real Chromium: one-step, two-step, e-mail and localized logins are signed in;
signup and password-change forms are never filled."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from tests.browser.conftest import result
from tests.browser.testsite import Website
from vaults.browser import fill_login
from vaults.errors import LoginFieldNotFound, VaultsError
from vaults.models import Credential

PASSWORD = "s3cret-horse-battery"
CRED = Credential(
    vault="memory", id="1", name="Acme", username="alice@example.com", password=SecretStr(PASSWORD)
)


def open_login(page: Any, site: Website, name: str) -> str:
    sid = site.session(username=CRED.username, password=PASSWORD)
    page.goto(site.page_url(name, sid))
    return sid


@pytest.mark.parametrize("name", ["login-single", "login-email", "login-de", "acme"])
def test_one_step_login(page: Any, site: Website, name: str) -> None:
    sid = open_login(page, site, name)
    filled = fill_login(page, CRED, submit=True)
    assert filled.step == "both"
    assert filled.submitted
    if name != "acme":  # acme goes on to its 2FA page
        assert result(page) == "accepted: signed in"
    assert site.answers(sid) == [(True, "ok")]


def test_filled_without_submitting(page: Any, site: Website) -> None:
    sid = open_login(page, site, "login-single")
    filled = fill_login(page, CRED)
    assert (filled.step, filled.submitted) == ("both", False)
    assert page.input_value("#username") == CRED.username
    assert page.input_value("#password") == PASSWORD
    assert site.answers(sid) == []


def test_two_step_login(page: Any, site: Website) -> None:
    sid = open_login(page, site, "login-two-step")
    first = fill_login(page, CRED, submit=True)
    assert (first.step, first.password) == ("username", None)
    second = fill_login(page, CRED, submit=True)
    assert (second.step, second.username) == ("password", None)
    assert result(page) == "accepted: signed in"
    assert site.answers(sid) == [(True, "ok"), (True, "ok")]


def test_login_form_next_to_a_signup_form(page: Any, site: Website) -> None:
    sid = open_login(page, site, "login-and-signup")
    fill_login(page, CRED)
    for signup_field in ("#s_email", "#s_pw", "#s_pw2"):
        assert page.input_value(signup_field) == ""
    assert page.input_value("#l_email") == CRED.username
    page.click("#signin button")
    assert result(page) == "accepted: signed in"
    assert site.answers(sid) == [(True, "ok")]


def test_signup_form_is_never_filled(page: Any, site: Website) -> None:
    sid = open_login(page, site, "signup")
    with pytest.raises(LoginFieldNotFound) as caught:
        fill_login(page, CRED, submit=True, timeout=0.3)
    assert "signup or password-change form" in str(caught.value)
    assert isinstance(caught.value, VaultsError) and caught.value.exit_code == 1
    for field in ("#name", "#email", "#np", "#cp"):
        assert page.input_value(field) == ""
    assert site.answers(sid) == []


def test_password_change_form_is_never_filled(page: Any) -> None:
    page.set_content(
        """<form><input name="username" autocomplete="username" value="alice">
        <input type="password" name="current" autocomplete="current-password">
        <input type="password" name="new" autocomplete="new-password">
        <input type="password" name="confirm"></form>"""
    )
    with pytest.raises(LoginFieldNotFound):
        fill_login(page, CRED, timeout=0)
    assert page.eval_on_selector_all("input[type=password]", "els => els.map(e => e.value)") == [
        "",
        "",
        "",
    ]


def test_a_credential_without_username_is_refused(page: Any, site: Website) -> None:
    open_login(page, site, "login-two-step")
    nameless = Credential(vault="memory", id="2", name="Nameless", password=SecretStr(PASSWORD))
    with pytest.raises(LoginFieldNotFound, match="'Nameless' has no username"):
        fill_login(page, nameless)


def test_hidden_password_on_the_username_step_is_left_alone(page: Any) -> None:
    # identifier-first pages often keep the password field in the DOM, hidden, until step 2
    page.set_content(
        """<form><label for=id>Email or phone</label><input id=id type=email>
        <div style="display:none"><input id=pw type=password name=password></div>
        <button>Next</button></form>"""
    )
    filled = fill_login(page, CRED)
    assert (filled.step, filled.password) == ("username", None)
    assert page.input_value("#id") == CRED.username
    assert page.input_value("#pw") == ""


def test_login_form_in_a_same_origin_frame(page: Any, site: Website) -> None:
    sid = site.session(username=CRED.username, password=PASSWORD)
    page.goto(site.page_url("login-single", site.session()))
    page.set_content(f'<h1>Portal</h1><iframe src="{site.page_url("login-single", sid)}"></iframe>')
    page.frames[-1].wait_for_selector("#password")
    assert fill_login(page, CRED, submit=True).step == "both"
    assert site.answers(sid) == [(True, "ok")]


def test_a_signup_form_with_one_password_is_not_filled(page: Any) -> None:
    # no confirm field and no autocomplete: only its button says it registers
    page.set_content(
        """<form method="post" action="signupResult.php">
        <label for="user_name">Nom d'utilisateur</label><input id="user_name" name="user_name">
        <label for="email">Courriel</label><input id="email" name="email">
        <label for="pwd">Mot de passe</label><input id="pwd" type="password" name="pwd">
        <button type="submit">Soumettre mon enregistrement</button></form>"""
    )
    with pytest.raises(LoginFieldNotFound, match="signup"):
        fill_login(page, CRED, timeout=0)
    assert page.input_value("#pwd") == ""


def test_a_french_login_form_is_filled(page: Any) -> None:
    page.set_content(
        """<form method="post" action="/connexion">
        <label for="u">Identifiant</label><input id="u" name="identifiant">
        <label for="m">Mot de passe</label><input id="m" type="password" name="mdp">
        <button type="submit">Se connecter</button></form>"""
    )
    assert fill_login(page, CRED).step == "both"
    assert page.input_value("#u") == CRED.username
