"""Every KeePass database from KeePassXC's, pykeepass' and kdbxweb's test suites
(tests/data/peers/keepass, with their licences): it opens, or is refused with the right
error, message and CLI exit code. Each database is opened once per session (KDFs are slow)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from vaults_keepass import KeePassBackend

from vaults.cli.main import cli
from vaults.errors import VaultsError
from vaults.refs import parse_reference

PEERS = Path(__file__).resolve().parents[3] / "tests" / "data" / "peers" / "keepass"
MANIFEST = json.loads((PEERS / "databases.json").read_text(encoding="utf-8"))
DATABASES: list[dict[str, Any]] = MANIFEST["databases"]


def _id(spec: dict[str, Any]) -> str:
    return f"{spec['file']}{'+key' if spec.get('keyfile') else ''}:{spec.get('password')!r}"


def _param(spec: dict[str, Any]) -> Any:
    marks = [pytest.mark.slow] if spec.get("slow") else []
    return pytest.param(spec, id=_id(spec), marks=marks)


def _backend(spec: dict[str, Any]) -> KeePassBackend:
    return KeePassBackend(
        PEERS / spec["file"],
        spec.get("password"),
        PEERS / spec["keyfile"] if spec.get("keyfile") else None,
    )


@pytest.fixture(scope="session")
def opened() -> dict[str, tuple[KeePassBackend, Any]]:
    """Spec id -> (backend, the opened database or the error), filled on first use."""
    return {}


def open_once(spec: dict[str, Any], cache: dict[str, tuple[KeePassBackend, Any]]) -> Any:
    key = _id(spec)
    if key not in cache:
        backend = _backend(spec)
        try:
            cache[key] = (backend, backend._open())
        except VaultsError as exc:
            cache[key] = (backend, exc)
    return cache[key]


def test_the_data_is_vendored_with_its_licences() -> None:
    for name, source in MANIFEST["sources"].items():
        assert source["repository"] and source["licence"] and source["commit"]
        assert any((PEERS / name / f).is_file() for f in ("LICENSE", "COPYING"))
    size = sum(p.stat().st_size for p in PEERS.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024
    listed = {spec["file"] for spec in DATABASES}
    on_disk = {str(p.relative_to(PEERS)) for p in PEERS.rglob("*") if p.suffix in (".kdbx", ".kdb")}
    assert on_disk <= listed, f"vendored but never opened: {sorted(on_disk - listed)}"


@pytest.mark.parametrize("spec", [_param(s) for s in DATABASES])
def test_every_peer_database(
    spec: dict[str, Any],
    opened: dict[str, tuple[KeePassBackend, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, result = open_once(spec, opened)
    if "error" in spec:
        assert isinstance(result, VaultsError), f"{spec['file']} opened but must be refused"
        assert type(result).__name__ == spec["error"]
        assert result.exit_code == spec["exit"]
        assert spec["message"] in result.message
        if len(spec.get("password") or "") >= 4:
            assert spec["password"] not in result.message
        return
    assert not isinstance(result, VaultsError), f"{spec['file']}: {result}"
    if "version" in spec:
        assert f"{result.version[0]}.{result.version[1]}" == spec["version"] or spec[
            "version"
        ].startswith("2.")
    if "name" in spec:
        assert result.database_name == spec["name"]
    if "entry" in spec:
        ref, username = spec["entry"]
        caplog.set_level(logging.WARNING, logger="vaults_keepass.backend")
        cred = backend.fetch(parse_reference(ref))
        assert cred.username == username
        if spec.get("expired"):
            assert any("expired on" in r.getMessage() for r in caplog.records)


REFUSED = [s for s in DATABASES if "error" in s]


@pytest.mark.parametrize("spec", [_param(s) for s in REFUSED])
def test_refusals_in_the_cli(spec: dict[str, Any]) -> None:
    env = {
        "VAULTS_LOAD_PLUGINS": "keepass",
        "VAULTS_KEEPASS_DB": str(PEERS / spec["file"]),
        "VAULTS_KEEPASS_PASSWORD": spec.get("password") or "",
        "VAULTS_KEEPASS_KEYFILE": str(PEERS / spec["keyfile"]) if spec.get("keyfile") else "",
        "VAULTS_DEBUG": "",
    }
    result = CliRunner().invoke(cli, ["resolve", "keepass://Anything"], env=env)
    assert result.exit_code == spec["exit"], result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and spec["message"] in lines[0]
    assert "Traceback" not in result.output


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    env = {
        "VAULTS_LOAD_PLUGINS": "keepass",
        "VAULTS_KEEPASS_DB": str(tmp_path),
        "VAULTS_KEEPASS_PASSWORD": "x",
    }
    result = CliRunner().invoke(cli, ["resolve", "keepass://Anything"], env=env)
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_references_resolve_as_keepass_does(
    opened: dict[str, tuple[KeePassBackend, Any]],
) -> None:
    spec = next(s for s in DATABASES if s["file"] == "pykeepass/test3.kdbx" and "error" not in s)
    backend, _ = open_once(spec, opened)
    clone = backend.fetch(parse_reference("keepass://foobar_entry - Clone of clone"))
    assert clone.username == "foobar"  # a reference to a reference
    wrapped = backend.fetch(
        parse_reference("keepass://foobar_entry - Clone with prefix and suffix")
    )
    assert wrapped.username == "domain\\foobar2"


def test_ambiguous_titles_list_group_paths_and_uuids(
    opened: dict[str, tuple[KeePassBackend, Any]],
) -> None:
    spec = next(s for s in DATABASES if s["file"] == "pykeepass/test3.kdbx" and "error" not in s)
    backend, _ = open_once(spec, opened)
    with pytest.raises(VaultsError) as caught:
        backend.fetch(parse_reference("keepass://foobar_entry"))
    message = caught.value.message
    # one entry at the root, two in groups: each named with its group path and UUID
    listed = message.split("candidates: ", 1)[1]
    assert listed.startswith("foobar_entry (") and listed.count("/foobar_entry (") == 2
    for candidate in caught.value.candidates:  # type: ignore[attr-defined]
        assert candidate in message
