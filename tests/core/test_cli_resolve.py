"""``vaults resolve``: output shapes and every documented exit code, against a real KeePass
database (vaults-keepass) and a throwaway plugin for an unreachable vault."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.core.conftest import (
    CANARY,
    CANARY_PASSWORD,
    CANARY_SECRET,
    VAULTS_BIN,
    FakeSite,
    backend_plugin,
    no_leak,
    one_error_line,
    run_vaults,
)
from vaults.cli.main import cli
from vaults.totp import code_at, code_for_entry

keepass_testing = pytest.importorskip("vaults_keepass.testing")

MASTER = f"master-{CANARY}-pw"
OTP_URI = f"otpauth://totp/Acme:alice?secret={CANARY_SECRET}&issuer=Acme"
HIDDEN = f"hidden-{CANARY}"


@pytest.fixture(scope="module")
def kdbx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = keepass_testing.EntrySpec
    path = tmp_path_factory.mktemp("cli") / "cli.kdbx"
    keepass_testing.create_database(
        path,
        MASTER,
        [
            spec(
                "Acme",
                "alice",
                CANARY_PASSWORD,
                url="https://acme.example.test",
                group=("Work",),
                attributes={"otp": OTP_URI, "api key": HIDDEN, "note": "visible"},
                protected=frozenset({"otp", "api key"}),
            ),
            spec("No Code", "bob", f"bob-{CANARY}"),
            spec(
                "Counter Login",
                "carol",
                f"carol-{CANARY}",
                attributes={"otp": f"otpauth://hotp/C:carol?secret={CANARY_SECRET}&counter=4"},
            ),
            spec("Twin", "twin-a", f"a-{CANARY}", group=("A",)),
            spec("Twin", "twin-b", f"b-{CANARY}", group=("B",)),
        ],
    )
    return path


def keepass_env(fake_site: FakeSite, kdbx: Path, **extra: str) -> dict[str, str]:
    settings = {
        "VAULTS_LOAD_PLUGINS": "keepass",
        "VAULTS_KEEPASS_DB": str(kdbx),
        "VAULTS_KEEPASS_PASSWORD": MASTER,
    }
    return fake_site.env(**{**settings, **extra})


def expected_codes(before: float, after: float) -> set[str]:
    return {code_for_entry(CANARY_SECRET, before).code, code_for_entry(CANARY_SECRET, after).code}


SECRETS = [CANARY, "pässwörd"]


def test_exit_0_human(fake_site: FakeSite, kdbx: Path) -> None:
    before = time.time()
    result = run_vaults("resolve", "keepass://Work/Acme", env=keepass_env(fake_site, kdbx))
    after = time.time()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Acme  (keepass, id " in out
    assert "username  alice" in out
    assert "password  ******** (--reveal to show)" in out
    assert "uri       https://acme.example.test" in out
    assert "field     api key: ********" in out
    assert "field     note: visible" in out
    code_line = next(line for line in out.splitlines() if line.strip().startswith("code"))
    assert code_line.split()[1] in expected_codes(before, after)
    assert "source: vault" in code_line
    no_leak([out, result.stderr], SECRETS)


def test_exit_0_json_and_reveal(fake_site: FakeSite, kdbx: Path) -> None:
    env = keepass_env(fake_site, kdbx)
    masked = run_vaults("resolve", "--json", "keepass://Acme", env=env)
    assert masked.returncode == 0, masked.stderr
    data = json.loads(masked.stdout)
    assert data["ref"] == "keepass://Acme"
    assert (data["vault"], data["name"], data["username"]) == ("keepass", "Acme", "alice")
    assert data["password"] == "********"
    assert data["totp_source"] == "vault"
    assert set(data["totp"]) == {"code", "valid_from", "valid_until", "period", "digits"}
    no_leak([masked.stdout], SECRETS)

    revealed = run_vaults("resolve", "--json", "--reveal", "keepass://Acme", env=env)
    data = json.loads(revealed.stdout)
    assert data["password"] == CANARY_PASSWORD
    assert CANARY_SECRET in data["totp"]["secret"]
    assert {f["name"]: f["value"] for f in data["fields"]}["api key"] == HIDDEN


@pytest.mark.parametrize(
    ("field", "expected"),
    [("password", CANARY_PASSWORD), ("username", "alice"), ("api key", HIDDEN), ("name", "Acme")],
)
def test_field(fake_site: FakeSite, kdbx: Path, field: str, expected: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["resolve", "keepass://Acme", "--field", field], env=keepass_env(fake_site, kdbx)
    )
    assert (result.exit_code, result.stdout) == (0, f"{expected}\n"), result.stderr


def test_field_code_and_min_remaining(fake_site: FakeSite, kdbx: Path) -> None:
    env = keepass_env(fake_site, kdbx)
    before = time.time()
    result = run_vaults("resolve", "keepass://Acme", "--field", "code", env=env)
    after = time.time()
    assert result.stdout.strip() in expected_codes(before, after)
    result = CliRunner().invoke(
        cli, ["resolve", "keepass://Acme", "--field", "totp", "--min-remaining", "0"], env=env
    )
    assert result.stdout.strip() in {code_at(CANARY_SECRET, t).code for t in (before, time.time())}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keepass://Nope"], "no KeePass entry"),
        (["keepass://Twin"], "candidates"),
        (["keepass://No Code", "--field", "code"], "no one-time code"),
        (["keepass://Acme", "--field", "missing"], "no field"),
    ],
)
def test_exit_1(fake_site: FakeSite, kdbx: Path, args: list[str], message: str) -> None:
    result = run_vaults("resolve", *args, env=keepass_env(fake_site, kdbx))
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in one_error_line(result.stderr)
    no_leak([result.stderr], SECRETS)


@pytest.mark.parametrize(
    ("ref", "env_change", "message"),
    [
        ("no-scheme", {}, "no scheme"),
        ("nope://x", {}, "installed schemes: keepass"),
        ("keepass://Acme", {"VAULTS_KEEPASS_DB": ""}, "VAULTS_KEEPASS_DB"),
        ("keepass://Acme", {"VAULTS_KEEPASS_DB": "/nonexistent/x.kdbx"}, "does not exist"),
    ],
)
def test_exit_2(
    fake_site: FakeSite, kdbx: Path, ref: str, env_change: dict[str, str], message: str
) -> None:
    result = run_vaults("resolve", ref, env=keepass_env(fake_site, kdbx, **env_change))
    assert result.returncode == 2
    assert message in one_error_line(result.stderr)
    no_leak([result.stderr], SECRETS)


def test_exit_3_wrong_master_password(fake_site: FakeSite, kdbx: Path) -> None:
    env = keepass_env(fake_site, kdbx, VAULTS_KEEPASS_PASSWORD=f"wrong-{CANARY}")
    result = run_vaults("resolve", "keepass://Acme", env=env)
    assert result.returncode == 3
    assert "wrong master password" in one_error_line(result.stderr)
    no_leak([result.stderr], SECRETS)


def test_exit_4_corrupt_database(fake_site: FakeSite, kdbx: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.kdbx"
    broken.write_bytes(kdbx.read_bytes()[:300])
    result = run_vaults("resolve", "keepass://Acme", env=keepass_env(fake_site, broken))
    assert result.returncode == 4, result.stderr
    one_error_line(result.stderr)


def test_exit_4_vault_unavailable_plugin(fake_site: FakeSite) -> None:
    module = fake_site.module(
        "vaults_core_down",
        backend_plugin(
            "down",
            "raise VaultUnavailable('down.example.test:443 did not answer')",
            error="VaultUnavailable",
        ),
    )
    fake_site.dist("vaults-down", {"down": module})
    env = fake_site.env(VAULTS_LOAD_PLUGINS="down")
    result = run_vaults("resolve", "down://Item", env=env)
    assert result.returncode == 4
    assert one_error_line(result.stderr) == "error: down.example.test:443 did not answer"


def test_internal_error_exit_70_without_traceback(fake_site: FakeSite) -> None:
    module = fake_site.module(
        "vaults_core_bug", backend_plugin("bug", f"raise KeyError('{CANARY}')")
    )
    fake_site.dist("vaults-bug", {"bug": module})
    result = run_vaults("resolve", "bug://Item", env=fake_site.env(VAULTS_LOAD_PLUGINS="bug"))
    assert result.returncode == 70
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("internal error: KeyError")
    no_leak([result.stderr], [CANARY])


def one_warning_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: "), stderr
    return lines[0]


def test_unusable_totp_prints_the_login_and_one_warning(fake_site: FakeSite, kdbx: Path) -> None:
    env = keepass_env(fake_site, kdbx)
    human = run_vaults("resolve", "keepass://Counter Login", env=env)
    assert human.returncode == 0, human.stderr
    assert "username  carol" in human.stdout and "code      -" in human.stdout
    warning = one_warning_line(human.stderr)
    assert warning.startswith("warning: 'Counter Login'") and "HOTP" in warning
    as_json = run_vaults("resolve", "--json", "keepass://Counter Login", env=env)
    data = json.loads(as_json.stdout)
    assert data["totp"] is None and "HOTP" in data["totp_error"]
    password = run_vaults("resolve", "keepass://Counter Login", "--field", "password", env=env)
    assert (password.returncode, password.stdout) == (0, f"carol-{CANARY}\n")
    assert "HOTP" in one_warning_line(password.stderr)
    code = run_vaults("resolve", "keepass://Counter Login", "--field", "code", env=env)
    assert (code.returncode, code.stdout) == (1, "")
    line = one_error_line(code.stderr)
    assert line.startswith("error: ") and "HOTP" in line
    for result in (human, as_json, password, code):
        no_leak([result.stdout if result is not password else "", result.stderr], [CANARY_SECRET])


# -- the fast path: no pydantic on the way to a vault's own code -----------------------------
_HEAVY = ("pydantic", "pydantic_core", "httpx", "anyio", "fastapi")


def test_keepass_resolve_imports_no_pydantic_and_prints_what_resolve_returns(
    fake_site: FakeSite, kdbx: Path
) -> None:
    """``vaults resolve`` prints the plain credential; it is what ``Vaults.resolve`` gives."""
    from vaults.resolver import Vaults
    from vaults.testing.imports import run_and_list_imports

    env = keepass_env(fake_site, kdbx)
    done, imported = run_and_list_imports(
        Path(VAULTS_BIN), ["resolve", "--json", "--reveal", "keepass://Work/Acme"], env
    )
    assert done.returncode == 0, done.stderr
    assert "vaults_keepass.backend" in imported  # the list is real
    assert not imported & set(_HEAVY), f"imported {sorted(imported & set(_HEAVY))}"
    printed = json.loads(done.stdout)
    with Vaults(env=env) as vaults:
        model = vaults.resolve("keepass://Work/Acme").public_dict(reveal=True)
    for data in (printed, model):  # the code may come from the next window: compared apart
        assert data["totp"]["code"] in {code_at(CANARY_SECRET, data["totp"]["valid_from"]).code}
        data.pop("totp")
    assert printed == model


def test_plugins_imports_no_pydantic(fake_site: FakeSite) -> None:
    from vaults.testing.imports import run_and_list_imports

    done, imported = run_and_list_imports(Path(VAULTS_BIN), ["plugins"], fake_site.env())
    assert done.returncode == 0, done.stderr
    assert "keepass" in done.stdout
    assert not imported & set(_HEAVY), f"imported {sorted(imported & set(_HEAVY))}"


def test_a_plugin_warning_prints_as_a_warning_line(fake_site: FakeSite) -> None:
    body = (
        "import logging; logging.getLogger('vaults_core_warns').warning("
        "'entry %r expired on 2020-01-01; using it anyway', ref.path); "
        "return Credential(vault=self.scheme, id='1', name=ref.path)"
    )
    module = fake_site.module("vaults_core_warns", backend_plugin("warns", body))
    fake_site.dist("vaults-warns", {"warns": module})
    result = run_vaults("resolve", "warns://Old", env=fake_site.env(VAULTS_LOAD_PLUGINS="warns"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: entry 'Old' expired on 2020-01-01; using it anyway"
    ]
