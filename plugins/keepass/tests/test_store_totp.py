"""Storing TOTP secrets in KeePass files, checked with the real KeePassXC CLI.

Every file written is opened by ``keepassxc-cli`` (Debian package ``keepassxc``), whose
``show -t`` must print the code ``vaults`` computes; other implementations' databases
(pykeepass, KeePassXC: KDBX 3.0/3.1/4, AES/ChaCha20/Twofish, AES-KDF/Argon2) keep every other
entry identical in KeePassXC's own XML export, and their version, cipher and KDF.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pykeepass import PyKeePass
from vaults_keepass import KeePassBackend
from vaults_keepass.atomic import backup_path
from vaults_keepass.testing import (
    REQUIRE_KEEPASSXC_ENV,
    EntrySpec,
    KeePassXCCli,
    create_database,
)

from vaults.errors import InvalidInput, TotpAlreadySet, WriteConflict
from vaults.refs import parse_reference
from vaults.resolver import Vaults
from vaults.totp import code_at, parse_secret

PEERS = Path(__file__).resolve().parents[3] / "tests" / "data" / "peers" / "keepass"
CANARY = "VAULTSCANARY"
MASTER = f"{CANARY}-master"
SECRET = f"{CANARY}STOREDSECRET234567"
URI = f"otpauth://totp/Acme:alice?secret={SECRET}&issuer=Acme"
VAULTS_BIN = str(Path(sys.executable).with_name("vaults"))


@pytest.fixture(scope="module")
def keepassxc() -> KeePassXCCli:
    found = KeePassXCCli.find()
    if found is None:
        if os.environ.get(REQUIRE_KEEPASSXC_ENV) == "1":
            pytest.fail(f"{REQUIRE_KEEPASSXC_ENV}=1 but keepassxc-cli is not installed")
        pytest.skip("keepassxc-cli is not installed (Debian package keepassxc)")
    return found


def same_code(keepassxc_code: Any, secret: str, before: float, after: float) -> bool:
    """KeePassXC's code is the secret's code at some moment of [before, after]."""
    return keepassxc_code in {code_at(secret, before).code, code_at(secret, after).code}


def xc_code(xc: KeePassXCCli, db: Path, entry: str, secret: str, **kw: Any) -> None:
    """Assert ``keepassxc-cli show -t`` prints the code of ``secret``."""
    before = time.time()
    shown = xc.totp(db, entry, kw.pop("password", MASTER), kw.pop("keyfile", None))
    after = time.time()
    assert same_code(shown, secret, before, after), (
        f"KeePassXC shows {shown!r}, the stored secret gives "
        f"{code_at(secret, before).code!r}/{code_at(secret, after).code!r}"
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "vaults-" in p.name or p.suffix == ".bak")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "work.kdbx"
    create_database(
        path,
        MASTER,
        [
            EntrySpec("Acme", "alice", f"pw-{CANARY}", url="https://acme.test", group=("Work",)),
            EntrySpec(
                "Other",
                "bob",
                f"bob-{CANARY}",
                group=("Work",),
                attributes={"otp": f"otpauth://totp/O:bob?secret={CANARY}OTHERSECRET2345"},
                protected=frozenset({"otp"}),
            ),
            EntrySpec(
                "Legacy",
                "carol",
                "pw",
                attributes={"TOTP Seed": "JBSWY3DPEHPK3PXP", "TOTP Settings": "30;6"},
            ),
        ],
    )
    return path


@pytest.fixture
def work_db(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "work.kdbx"
    shutil.copy(template_db, path)
    return path


def vaults_for(db: Path, password: str | None = MASTER, keyfile: Path | None = None) -> Vaults:
    return Vaults(backends=[KeePassBackend(db, password, keyfile)], env={})


# -- the done-when pipeline ---------------------------------------------------------------


def test_qr_piped_into_set_totp_shows_the_same_code_in_keepassxc(
    keepassxc: KeePassXCCli, work_db: Path, tmp_path: Path
) -> None:
    segno = pytest.importorskip("segno")
    pytest.importorskip("zxingcpp")
    qr = tmp_path / "setup.png"
    segno.make(URI, error="m").save(str(qr), kind="png", scale=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    env.update(
        VAULTS_LOAD_PLUGINS="keepass",
        VAULTS_KEEPASS_DB=str(work_db),
        VAULTS_KEEPASS_PASSWORD=MASTER,
        PATH=f"{Path(VAULTS_BIN).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    before = time.time()
    result = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            'vaults qr setup.png | vaults set-totp "keepass://Work/Acme" -',
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stored the TOTP secret" in result.stdout
    assert (
        code_at(URI, before).code in result.stdout
        or code_at(URI, before + 30).code in result.stdout
    )
    for text in (result.stdout, result.stderr):
        assert CANARY not in text
    for _ in range(3):  # a window may turn between the two programs: then ask both again
        started = time.time()
        shown = keepassxc.totp(work_db, "/Work/Acme", MASTER)
        resolved = subprocess.run(
            [
                VAULTS_BIN,
                "resolve",
                "keepass://Work/Acme",
                "--field",
                "code",
                "--min-remaining",
                "0",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        if int(started // 30) == int(time.time() // 30):
            break
    assert shown == resolved == code_at(URI, started).code
    # the same secret again: nothing written (exit 0)
    stamp = work_db.stat().st_mtime_ns
    again = subprocess.run(
        [VAULTS_BIN, "set-totp", "keepass://Work/Acme", "-", "--json"],
        input=URI,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert '"stored": false' in again.stdout and CANARY not in again.stdout
    assert work_db.stat().st_mtime_ns == stamp
    # a different one without --replace: exit 1, nothing written
    other = subprocess.run(
        [VAULTS_BIN, "set-totp", "keepass://Work/Acme", "-"],
        input=f"{CANARY}DIFFERENTSECRET234",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert other.returncode == 1
    assert "already has a TOTP secret" in other.stderr and CANARY not in other.stderr
    assert work_db.stat().st_mtime_ns == stamp
    assert leftovers(tmp_path) == []


# -- what is written ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        f"otpauth://totp/X:y?secret={SECRET}&algorithm=SHA256&digits=8&period=60",
        f"otpauth://totp/X:y?secret={SECRET}&algorithm=SHA512&digits=7&period=15",
        f"steam://{SECRET}",
    ],
    ids=["raw", "sha256-8-60", "sha512-7-15", "steam"],
)
def test_keepassxc_shows_the_stored_code(
    keepassxc: KeePassXCCli, work_db: Path, secret: str
) -> None:
    vaults = vaults_for(work_db)
    cred = vaults.set_totp("keepass://Work/Acme", secret)
    assert cred.totp is not None
    xc_code(keepassxc, work_db, "/Work/Acme", secret)
    kp = PyKeePass(str(work_db), MASTER)
    entry = kp.find_entries(title="Acme", first=True)
    assert _protected(entry, "otp"), "KeePassXC stores otp protected"
    assert entry.otp.startswith("otpauth://totp/")
    assert len(entry.history) == 1, "the previous version goes to the entry's history"
    assert (entry.username, entry.password, entry.url) == (
        "alice",
        f"pw-{CANARY}",
        "https://acme.test",
    )
    assert leftovers(work_db.parent) == []


def _protected(entry: Any, key: str) -> bool:
    for string in entry._element.findall("String"):
        if string.findtext("Key") == key:
            return string.find("Value").get("Protected") == "True"
    return False


def test_replace_and_restore_keep_keepassxc_in_step(keepassxc: KeePassXCCli, work_db: Path) -> None:
    vaults = vaults_for(work_db)
    with pytest.raises(TotpAlreadySet):
        vaults.set_totp("keepass://Work/Other", SECRET)
    vaults.set_totp("keepass://Work/Other", SECRET, replace=True)
    xc_code(keepassxc, work_db, "/Work/Other", SECRET)
    backend = KeePassBackend(work_db, MASTER)
    ref = parse_reference("keepass://Work/Other")
    backend.store_totp(ref, backend.fetch(ref), None)
    assert backend.fetch(ref).totp_secret is None
    with pytest.raises(AssertionError, match="no TOTP"):
        keepassxc.totp(work_db, "/Work/Other", MASTER)


def test_period_keepassxc_cannot_show_is_refused(work_db: Path) -> None:
    before = work_db.read_bytes()
    with pytest.raises(InvalidInput, match="up to 60 s"):
        vaults_for(work_db).set_totp(
            "keepass://Work/Acme", f"otpauth://totp/x?secret={SECRET}&period=90"
        )
    assert work_db.read_bytes() == before


def test_legacy_fields_are_left_alone(keepassxc: KeePassXCCli, work_db: Path) -> None:
    before = work_db.read_bytes()
    vaults = vaults_for(work_db)
    assert vaults.store_totp("keepass://Legacy", "JBSWY3DPEHPK3PXP").changed is False
    with pytest.raises(InvalidInput, match="legacy 'TOTP Seed'/'TOTP Settings'"):
        vaults.set_totp("keepass://Legacy", SECRET, replace=True)
    assert work_db.read_bytes() == before
    xc_code(keepassxc, work_db, "Legacy", "JBSWY3DPEHPK3PXP")


# -- other implementations' files ------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    file: str
    password: str | None
    keyfile: str | None = None


# KDBX 3.x/4 files of pykeepass and KeePassXC, vendored once for the whole repository in
# tests/data/peers/keepass (sources, commits and licences: databases.json and README.md there)
PEER_FILES = [
    Peer("pykeepass/test3.kdbx", "password", "pykeepass/test3.key"),
    Peer("pykeepass/test4_aes.kdbx", "password", "pykeepass/test4.key"),
    Peer("pykeepass/test4_chacha20.kdbx", "password", "pykeepass/test4.key"),
    Peer("pykeepass/test4_twofish.kdbx", "password", "pykeepass/test4.key"),
    Peer("pykeepass/test4_aeskdf.kdbx", "password", "pykeepass/test4.key"),
    Peer("keepassxc/Format300.kdbx", "a"),
    Peer("keepassxc/Format400.kdbx", "t"),
    Peer("keepassxc/NewDatabase.kdbx", "a"),
    Peer("keepassxc/ProtectedStrings.kdbx", "masterpw"),
    Peer("keepassxc/NonAscii.kdbx", "\u0394\u00f6\u0636"),
]


def _canonical(xml: str) -> ET.Element:
    """A KeePassXC export made comparable: attachments inlined where entries refer to them
    (KeePassXC numbers its attachment pool in a different order on every export), no
    whitespace between elements."""
    root = ET.fromstring(xml)
    meta = root.find("Meta")
    assert meta is not None
    pool: dict[str, str] = {}
    for binaries in meta.findall("Binaries"):
        for binary in binaries.findall("Binary"):
            pool[binary.get("ID", "")] = f"{binary.get('Compressed', '')}:{binary.text or ''}"
        meta.remove(binaries)
    for value in root.iter("Value"):
        ref = value.attrib.pop("Ref", None)
        if ref is not None:
            # KDBX 4 keeps attachments in its inner header, which the export leaves out
            value.text = pool.get(ref, f"inner-header attachment {ref}")
    for element in root.iter():
        if element.text is not None and not element.text.strip():
            element.text = None
        element.tail = None
    return root


def _entries(xml: str) -> dict[str, str]:
    """UUID -> the serialised <Entry> (with its history) of every entry in an export."""
    found: dict[str, str] = {}
    for group in _canonical(xml).iter("Group"):
        for entry in group.findall("Entry"):
            found[entry.findtext("UUID") or ""] = ET.tostring(entry, encoding="unicode")
    return found


def _without_entries(xml: str) -> str:
    """The export minus its entries, the KDBX 3.1 header hash (a new header is hashed anew)
    and the "_LAST_MODIFIED" stamp KeePassXC derives from the newest modification."""
    root = _canonical(xml)
    for group in root.iter("Group"):
        for entry in group.findall("Entry"):
            group.remove(entry)
    meta = root.find("Meta")
    assert meta is not None
    for hashed in meta.findall("HeaderHash"):
        meta.remove(hashed)
    for custom in meta.findall("CustomData"):
        for item in custom.findall("Item"):
            if item.findtext("Key") == "_LAST_MODIFIED":
                custom.remove(item)
    return ET.tostring(root, encoding="unicode")


def _strings(entry_xml: str) -> dict[str, str]:
    entry = ET.fromstring(entry_xml)
    return {s.findtext("Key") or "": s.findtext("Value") or "" for s in entry.findall("String")}


def _target(kp: Any) -> Any:
    recycle = kp.recyclebin_group
    for entry in kp.entries:
        inside_bin = recycle is not None and entry.group.uuid == recycle.uuid
        legacy = entry.get_custom_property("TOTP Settings") is not None  # refused, tested above
        usable = not entry.is_a_history_entry and not inside_bin and not legacy
        if usable and "/" not in (entry.title or ""):
            return entry
    raise AssertionError("no entry to write")


@pytest.mark.slow  # ~10 files, each decrypted ~6 times (Argon2 with the peers' parameters)
@pytest.mark.parametrize("peer", PEER_FILES, ids=[p.file for p in PEER_FILES])
def test_peer_databases_round_trip(keepassxc: KeePassXCCli, tmp_path: Path, peer: Peer) -> None:
    db = tmp_path / Path(peer.file).name
    shutil.copy(PEERS / peer.file, db)
    keyfile = None
    if peer.keyfile:
        keyfile = tmp_path / Path(peer.keyfile).name
        shutil.copy(PEERS / peer.keyfile, keyfile)
    original = PyKeePass(str(db), peer.password, str(keyfile) if keyfile else None)
    shape = (original.version, original.encryption_algorithm, original.kdf_algorithm)
    target = _target(original)
    xc_path = "/" + "/".join([*target.path[:-1], target.title]) if target.path else target.title
    before = keepassxc.export_xml(db, peer.password, keyfile)

    vaults = vaults_for(db, peer.password, keyfile)
    vaults.set_totp(f"keepass://{target.uuid.hex}", URI, replace=True)

    written = PyKeePass(str(db), peer.password, str(keyfile) if keyfile else None)
    assert (written.version, written.encryption_algorithm, written.kdf_algorithm) == shape
    assert sorted(written.binaries) == sorted(original.binaries), "attachments changed"
    xc_code(keepassxc, db, xc_path, URI, password=peer.password, keyfile=keyfile)
    after = keepassxc.export_xml(db, peer.password, keyfile)
    old_entries, new_entries = _entries(before), _entries(after)
    assert old_entries.keys() == new_entries.keys()
    target_id = next(
        k for k in old_entries if _strings(old_entries[k]).get("Title") == target.title
    )
    changed = [k for k in old_entries if k != target_id and old_entries[k] != new_entries[k]]
    assert changed == [], f"entries other than the written one changed: {changed}"
    old_fields, new_fields = _strings(old_entries[target_id]), _strings(new_entries[target_id])
    old_fields.pop("otp", None)
    assert new_fields.pop("otp").startswith("otpauth://totp/")
    assert new_fields == old_fields
    assert _without_entries(before) == _without_entries(after), "groups or metadata changed"
    assert leftovers(tmp_path) == []


# -- concurrent edits and crashes ------------------------------------------------------------


def test_an_edit_in_keepassxc_after_the_read_is_never_overwritten(
    keepassxc: KeePassXCCli, work_db: Path
) -> None:
    backend = KeePassBackend(work_db, MASTER)
    ref = parse_reference("keepass://Work/Acme")
    item = backend.fetch(ref)
    keepassxc.run(
        "edit", "--username=edited-in-keepassxc", "/Work/Other", database=work_db, password=MASTER
    )
    edited = work_db.read_bytes()
    with pytest.raises(WriteConflict, match="changed since it was read") as caught:
        backend.store_totp(ref, item, parse_secret(SECRET))
    assert caught.value.exit_code == 4
    assert work_db.read_bytes() == edited
    assert leftovers(work_db.parent) == []


def test_a_save_by_another_program_during_the_write_is_never_overwritten(
    work_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaults_keepass import atomic

    real_write = atomic._write_temp
    edited: list[bytes] = []

    def write_then_someone_saves(path: Path, data: bytes) -> Path:
        temp = real_write(path, data)
        kp = PyKeePass(str(path), MASTER)
        kp.find_entries(title="Other", first=True).username = "saved-meanwhile"
        kp.save()
        edited.append(path.read_bytes())
        return temp

    monkeypatch.setattr(atomic, "_write_temp", write_then_someone_saves)
    with pytest.raises(WriteConflict, match="changed by another program"):
        vaults_for(work_db).set_totp("keepass://Work/Acme", SECRET)
    assert work_db.read_bytes() == edited[0]
    assert leftovers(work_db.parent) == []
    assert vaults_for(work_db).resolve("keepass://Work/Acme").totp is None


def _writer(db: Path, first: str, second: str, report: int) -> None:
    """The forked child: one timed write (reported), then writes until it is killed."""
    vaults = vaults_for(db)
    started = time.perf_counter()
    vaults.set_totp("keepass://Work/Acme", first, replace=True)
    os.write(report, f"{time.perf_counter() - started}\n".encode())
    n = 0
    while True:
        n += 1
        vaults.set_totp("keepass://Work/Acme", second if n % 2 else first, replace=True)


def _fork_writer(db: Path, first: str, second: str) -> tuple[int, float]:
    """A writer process (forked: no interpreter start-up) and how long one write takes."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child is killed
        try:
            os.close(read_end)
            _writer(db, first, second, write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as report:
        line = report.readline()
    if not line:
        os.waitpid(pid, 0)
        raise AssertionError("the writer process failed before its first write")
    return pid, float(line)


@pytest.mark.slow  # 50 writer processes killed with SIGKILL at random points (~10 s)
def test_sigkill_mid_save_leaves_the_old_or_the_new_file(
    keepassxc: KeePassXCCli, work_db: Path
) -> None:
    first, second = SECRET, f"{CANARY}SECONDSECRET234567"
    keys = {parse_secret(s).secret.get_secret_value(): s for s in (first, second)}
    rng = random.Random(18)
    other = PyKeePass(str(work_db), MASTER).find_entries(title="Other", first=True)
    other_fields = (other.username, other.password, other.otp)
    seen: set[str] = set()
    mid_save = 0
    for trial in range(50):
        pid, one_write = _fork_writer(work_db, first, second)
        try:
            time.sleep(rng.uniform(0.0, 2.5 * one_write))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        strays = leftovers(work_db.parent)
        mid_save += bool(strays)
        for stray in strays:  # a killed save's temporary file or backup (never the database)
            (work_db.parent / stray).unlink()
        kp = PyKeePass(str(work_db), MASTER)  # raises on a truncated or corrupt file
        acme = kp.find_entries(title="Acme", first=True)
        stored = parse_secret(acme.otp).secret.get_secret_value()
        assert stored in keys, f"trial {trial}: the entry holds neither secret"
        seen.add(stored)
        again = kp.find_entries(title="Other", first=True)
        assert (again.username, again.password, again.otp) == other_fields
        if trial % 10 == 9:
            xc_code(keepassxc, work_db, "/Work/Acme", keys[stored])  # KeePassXC opens it too
    assert len(seen) == 2, "no writer was killed after a second save: the test proves nothing"
    assert mid_save >= 5, f"only {mid_save} of 50 kills landed inside a save"
    assert backup_path(work_db).name == "work.kdbx.bak"
    # leftovers of killed writers do not stop the next write, and are not the database
    vaults_for(work_db).set_totp("keepass://Work/Acme", first, replace=True)
    xc_code(keepassxc, work_db, "/Work/Acme", first)
