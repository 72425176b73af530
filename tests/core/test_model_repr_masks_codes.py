"""repr()/str() of the models a host gets never show a one-time code or a magic link
(issue 12: ``repr(Credential)`` showed both), yet the values stay readable as fields."""

from __future__ import annotations

from datetime import UTC, datetime

from vaults.codes.extract import ExtractedCode
from vaults.codes.records import PushedCode
from vaults.codes.server import TotpCodeOut
from vaults.delivery import Delivered
from vaults.models import Credential, TotpCode

CODE = "482913"
LINK = "https://acme.example/magic?token=LinkCanary0123456789"


def test_no_model_shows_a_code_or_a_link() -> None:
    totp = TotpCode(code=CODE, valid_from=1, valid_until=31, period=30, digits=6)
    cred = Credential(vault="x", id="1", name="Acme", totp=totp, magic_link=LINK)
    pushed = PushedCode(
        id="otp_1", identifier="u@example.com", otp_type="totp", value=CODE,
        created_at=1.0, expires_at=2.0,
    )  # fmt: skip
    shown = [
        totp,
        cred,
        pushed,
        ExtractedCode(otp_type="magic_link", value=LINK),
        Delivered(source="inbox", otp_type="totp", value=CODE, created_at=1, expires_at=2),
        TotpCodeOut(
            totp_code_id="otp_1",
            totp_identifier="u",
            code=LINK,
            otp_type="magic_link",
            created_at=datetime.now(UTC),
            expired_at=datetime.now(UTC),
        ),
    ]
    for model in shown:
        for text in (repr(model), str(model), f"{model!r:>10}"):
            assert CODE not in text and "LinkCanary" not in text, text
    assert "code='**********'" in repr(totp)
    assert "magic_link='**********'" in repr(cred)
    assert cred.totp is not None and cred.totp.code == CODE and cred.magic_link == LINK
    assert cred.public_dict()["magic_link"] == LINK
    assert Credential(vault="x", id="1", name="Acme").__repr__().count("magic_link=None") == 1
