"""Service-account SDK transport: what can be checked offline.

The SDK talks to 1Password.com only, so these tests cover configuration errors, the missing
package and the mapping of the SDK's item shape (documented ``onepassword.types.Item``).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.credentials import build_credential
from vaults_onepassword.items import from_sdk_item
from vaults_onepassword.references import parse_op_reference
from vaults_onepassword.sdk import sdk_available
from vaults_onepassword.testing.seed import CANARY, GITHUB_OTP_URI, SERVICE_ACCOUNT_TOKEN

from vaults.errors import ConfigurationError
from vaults.refs import parse_reference


def test_sdk_transport_needs_a_service_account_token() -> None:
    with pytest.raises(ConfigurationError) as caught:
        OnePasswordBackend.from_env({"VAULTS_ONEPASSWORD_TRANSPORT": "sdk"})
    assert "OP_SERVICE_ACCOUNT_TOKEN" in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.skipif(sdk_available(), reason="onepassword-sdk is installed")
def test_missing_sdk_is_a_configuration_error_naming_the_extra() -> None:
    with pytest.raises(ConfigurationError) as caught:
        OnePasswordBackend.from_env(
            {
                "VAULTS_ONEPASSWORD_TRANSPORT": "sdk",
                "OP_SERVICE_ACCOUNT_TOKEN": SERVICE_ACCOUNT_TOKEN,
            }
        )
    assert "vaults-onepassword[sdk]" in caught.value.message
    assert SERVICE_ACCOUNT_TOKEN not in str(caught.value)


def test_sdk_items_map_to_the_same_credential() -> None:
    """Field names of ``onepassword.types``: ``title``, ``field_type``, ``section_id``,
    ``details.content.code``; built-in login fields have ids username/password."""
    item = SimpleNamespace(
        id="x" * 26,
        title="GitHub",
        vault_id="v" * 26,
        category=SimpleNamespace(value="Login"),
        sections=[SimpleNamespace(id="", title=""), SimpleNamespace(id="s1", title="Extra")],
        websites=[SimpleNamespace(url="https://github.com/login", label="website")],
        fields=[
            SimpleNamespace(
                id="username",
                title="username",
                section_id=None,
                field_type="Text",
                value="octocat",
                details=None,
            ),
            SimpleNamespace(
                id="password",
                title="password",
                section_id=None,
                field_type="Concealed",
                value=f"pw-{CANARY}",
                details=None,
            ),
            SimpleNamespace(
                id="TOTP_1",
                title="one-time password",
                section_id="s1",
                field_type="Totp",
                value=GITHUB_OTP_URI,
                details=SimpleNamespace(
                    type="Otp", content=SimpleNamespace(code="123456", error_message=None)
                ),
            ),
        ],
    )
    normalised = from_sdk_item(item)
    otp = normalised.otp_field()
    assert otp is not None and otp.totp == "123456" and otp.section_label == "Extra"
    cred = build_credential(normalised, parse_op_reference(parse_reference("op://V/GitHub")))
    assert cred.username == "octocat"
    assert cred.password is not None and cred.password.get_secret_value() == f"pw-{CANARY}"
    assert cred.totp_secret is not None  # the secret wins over the SDK's code
    assert cred.uris == ["https://github.com/login"]
