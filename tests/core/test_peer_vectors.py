"""Every TOTP test vector of the peers (tests/data/peers/totp/*.json), run against our engine.

Each case holds what the peer expects (``expect``). Where we deliberately differ, the case
also holds ``ours`` and ``deliberate`` (the reason): the test then asserts ``ours``. The
agreement figure is the share of cases without ``ours``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vaults.errors import InvalidTotpSecret
from vaults.migration import parse_migration
from vaults.models import TotpSecret
from vaults.totp import DEFAULT_RULES, Base32Rules, parse_secret
from vaults.totp_core import OtpParams, code_for_counter, parse_params

bitwarden_decode = pytest.importorskip("vaults_bitwarden.decode")
keepass_totp = pytest.importorskip("vaults_keepass.totp_fields")

PEERS = Path(__file__).resolve().parents[1] / "data" / "peers" / "totp"
RULES: dict[str, Base32Rules] = {
    "default": DEFAULT_RULES,
    "bitwarden": bitwarden_decode.TOTP_RULES,
    "keepassxc": keepass_totp.KEEPASSXC_RULES,
}
FIELDS = ("secret", "algorithm", "digits", "period", "encoder", "issuer", "account", "counter")


def _load() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(PEERS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["source"]["repository"] and data["source"]["path"] and data["source"]["licence"]
        for case in data["cases"]:
            cases.append((f"{path.stem}: {case['id']}", case))
    return cases


CASES = _load()


def _params_of(case: dict[str, Any]) -> OtpParams | TotpSecret | None:
    rules = RULES[case.get("rules", "default")]
    if "attributes" in case:
        secret, problem = keepass_totp.totp_from_attributes(case["attributes"])
        if problem is not None:
            raise InvalidTotpSecret(problem)
        return secret
    if "round_trip" in case:
        spec = dict(case["round_trip"])
        uri = TotpSecret(
            secret=spec.pop("secret"), issuer=spec.get("issuer"), account=spec.get("account")
        ).to_uri()
        return parse_params(uri, rules)
    return parse_params(case["input"], rules)


def _value(found: OtpParams | TotpSecret, name: str) -> Any:
    if name == "secret":
        raw = found.secret
        return raw if isinstance(raw, str) else raw.get_secret_value()
    if name == "type":
        return getattr(found, "kind", "totp")
    return getattr(found, name, None)


def _code(found: OtpParams | TotpSecret, at: float | None) -> str:
    params = (
        found
        if isinstance(found, OtpParams)
        else OtpParams(
            secret=found.secret.get_secret_value(),
            algorithm=found.algorithm,
            digits=found.digits,
            period=found.period,
            encoder=found.encoder,
        )
    )
    counter = params.counter if params.kind == "hotp" else int((at or 0) // params.period)
    return code_for_counter(params, counter)


def check(case: dict[str, Any], expected: dict[str, Any]) -> None:
    if "migration" in expected:
        accounts = parse_migration(case["input"])
        got = [
            {
                "name": a.name,
                "issuer": a.issuer,
                "type": a.kind,
                "secret": parse_params(a.uri).secret if a.uri else None,
                "digits": parse_params(a.uri).digits if a.uri else None,
            }
            for a in accounts
        ]
        assert got == expected["migration"]
        return
    if "vault_error" in expected:
        rules = RULES[case.get("rules", "default")]
        with pytest.raises(InvalidTotpSecret) as caught:
            parse_secret(case["input"], rules)
        assert expected["vault_error"].lower() in caught.value.message.lower()
        return
    if "error" in expected:
        with pytest.raises(InvalidTotpSecret) as caught:
            _params_of(case)
        assert expected["error"].lower() in caught.value.message.lower()
        return
    found = _params_of(case)
    if expected.get("none"):
        assert found is None
        return
    assert found is not None
    for name in (*FIELDS, "type"):
        if name in expected:
            assert _value(found, name) == expected[name], name
    if "code" in expected:
        assert _code(found, case.get("at")) == expected["code"]


@pytest.mark.parametrize(("case_id", "case"), CASES, ids=[c[0] for c in CASES])
def test_peer_vector(case_id: str, case: dict[str, Any]) -> None:
    if "ours" in case:
        assert case.get("deliberate"), f"{case_id}: a difference without its reason"
        check(case, case["ours"])
    else:
        check(case, case["expect"])


def test_agreement_is_recorded() -> None:
    """The figures in tests/data/peers/README.md are the ones the data gives."""
    total = len(CASES)
    differing = sum(1 for _, case in CASES if "ours" in case)
    readme = (PEERS.parent / "README.md").read_text(encoding="utf-8")
    assert f"{total - differing} of {total} TOTP vectors agree" in readme
    assert f"{differing} documented deliberate differences" in readme
