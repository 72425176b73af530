"""The offline demo database (``make demo``): same entry ids on every run, as the README shows."""

from __future__ import annotations

from pathlib import Path

from vaults_keepass import KeePassBackend
from vaults_keepass.demo import DEMO_PASSWORD, main

from vaults.resolver import Vaults

README = Path(__file__).resolve().parents[3] / "README.md"


def demo_ids(path: Path) -> dict[str, str]:
    assert main([str(path)]) == 0
    with Vaults(backends=[KeePassBackend(path, DEMO_PASSWORD)]) as vaults:
        creds = [vaults.resolve(f"keepass://Demo/{t}") for t in ("Acme Cloud", "Intranet")]
    return {cred.name: cred.id for cred in creds}


def test_demo_ids_are_the_same_on_every_run(tmp_path: Path) -> None:
    first = demo_ids(tmp_path / "one" / "demo.kdbx")
    again = demo_ids(tmp_path / "one" / "demo.kdbx")  # rewritten in place, as make demo does
    other = demo_ids(tmp_path / "two" / "demo.kdbx")
    assert first == again == other
    assert len(set(first.values())) == 2
    assert f"(keepass, id {first['Acme Cloud']})" in README.read_text(encoding="utf-8")
