"""The ``bw`` subprocess transport's process handling, with a stand-in ``bw`` script.

A real ``bw`` costs ~1.5-3.5 s a run, so argument/environment hygiene, timeouts, kills and
the early return on a complete answer are checked here with a small executable script
that behaves like ``bw`` (stdout answer, stderr messages, exit codes, idle tail). The
real CLI is exercised in ``test_bw_cli.py``.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.cli_transport import CliTransport
from vaults_bitwarden.process import end_lingering, lingering_count

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ItemNotFound,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
)
from vaults.refs import parse_reference

ITEM_ID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
SESSION = "c2Vzc2lvbi1jYW5hcnktMTIz"
NEW_SESSION = "bmV3LXNlc3Npb24tY2FuYXJ5"
PASSWORD = "master-canary-0451"

FAKE_BW = (
    textwrap.dedent(
        """\
    import json, os, sys, time
    args = sys.argv[1:]
    record = os.environ["BW_FAKE_RECORD"]
    with open(record, "a") as fh:
        fh.write(json.dumps({"argv": args, "env": {k: v for k, v in os.environ.items()
                 if k.startswith(("BW_", "BITWARDENCLI", "VAULTS_BW", "NO_COLOR", "NODE_"))},
                 "pid": os.getpid()}) + "\\n")
    mode = os.environ.get("BW_FAKE_MODE", "ok")
    item = {"object": "item", "id": "@ID@", "type": 1, "name": "GitHub",
            "login": {"username": "octo", "password": "pw", "totp": "JBSWY3DPEHPK3PXP",
                      "uris": [{"uri": "https://github.com/", "match": None}]}, "fields": []}
    def answer(data, tail=0.0):
        # like bw: the last line has no newline when stdout is a pipe; sent in two parts
        text = json.dumps(data)
        sys.stdout.write(text[:20]); sys.stdout.flush(); time.sleep(0.05)
        sys.stdout.write(text[20:]); sys.stdout.flush(); time.sleep(tail)
    if mode == "hang":
        if os.environ.get("BW_FAKE_CHILD"):
            import subprocess
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open(os.environ["BW_FAKE_CHILD"], "w").write(str(child.pid))
        time.sleep(60)
    if args[0] == "unlock":
        if os.environ.get("VAULTS_BW_UNLOCK_PASSWORD") == "@PASSWORD@":
            print("@NEW_SESSION@"); sys.exit(0)
        sys.stderr.write("Invalid master password.\\n"); sys.exit(1)
    if mode == "locked-until-unlock" and os.environ.get("BW_SESSION") != "@NEW_SESSION@":
        sys.stderr.write("Vault is locked.\\n"); sys.exit(1)
    if mode.startswith("stderr:"):
        sys.stderr.write(mode[7:].replace("|", "\\n") + "\\n"); sys.exit(1)
    if mode == "silent":
        sys.exit(0)
    if mode == "garbage":
        print("not json at all"); sys.exit(0)
    tail = float(os.environ.get("BW_FAKE_TAIL", "0"))
    if args[:2] == ["get", "item"]:
        answer(item, tail)
    elif args[:2] == ["list", "items"]:
        answer([item], tail)
    elif args[0] == "status":
        answer({"status": "unlocked"}, tail)
    """
    )
    .replace("@ID@", ITEM_ID)
    .replace("@PASSWORD@", PASSWORD)
    .replace("@NEW_SESSION@", NEW_SESSION)
)


@pytest.fixture
def fake_bw(tmp_path: Path) -> Path:
    script = tmp_path / "bw"
    script.write_text(f"#!{sys.executable}\n{FAKE_BW}", encoding="utf-8")
    script.chmod(0o755)
    return script


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("BW_FAKE_RECORD", str(path))
    return path


def calls(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def backend_for(fake_bw: Path, **env: str) -> BitwardenBackend:
    return BitwardenBackend.from_env({"VAULTS_BITWARDEN_BW": str(fake_bw), **env})


def fetch(backend: BitwardenBackend, ref: str = f"bitwarden://{ITEM_ID}") -> Any:
    try:
        return backend.fetch(parse_reference(ref))
    finally:
        backend.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def dies_soon(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` is gone or a zombie; SIGKILL to a group is delivered at once
    but a loaded machine may take a moment to finish tearing each process down."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_session_goes_by_environment_never_argv(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # variables a user may have set that would change what bw prints, or leak secrets
    for name, value in {
        "BW_RESPONSE": "true",
        "BW_QUIET": "true",
        "BW_CLEANEXIT": "true",
        "BW_RAW": "true",
        "BW_PRETTY": "true",
        "BW_CLIENTSECRET": "client-secret-canary",
        "BW_SESSION": "stale-session-from-the-process-env",
    }.items():
        monkeypatch.setenv(name, value)
    backend = backend_for(
        fake_bw,
        BW_SESSION=SESSION,
        BW_PASSWORD=PASSWORD,
        BITWARDENCLI_APPDATA_DIR="/tmp/appdata-x",
        NODE_EXTRA_CA_CERTS="/tmp/ca.pem",
    )
    cred = fetch(backend)
    assert (cred.id, cred.username) == (ITEM_ID, "octo")
    (call,) = calls(record)
    assert call["argv"] == ["get", "item", ITEM_ID, "--nointeraction"]
    assert call["env"]["BW_SESSION"] == SESSION
    assert call["env"]["BW_NOINTERACTION"] == "true"
    assert call["env"]["BITWARDENCLI_APPDATA_DIR"] == "/tmp/appdata-x"
    assert call["env"]["NODE_EXTRA_CA_CERTS"] == "/tmp/ca.pem"
    for dropped in ("BW_RESPONSE", "BW_QUIET", "BW_CLEANEXIT", "BW_RAW", "BW_PRETTY",
                    "BW_CLIENTSECRET", "BW_PASSWORD"):  # fmt: skip
        assert dropped not in call["env"]
    assert all(SESSION not in arg and PASSWORD not in arg for arg in call["argv"])


def test_no_session_configured_means_none_inherited(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_SESSION", "from-the-process-env")
    fetch(backend_for(fake_bw))
    assert "BW_SESSION" not in calls(record)[0]["env"]


def test_dash_names_cannot_become_options(fake_bw: Path, record: Path) -> None:
    with pytest.raises(ItemNotFound):
        fetch(backend_for(fake_bw), "bitwarden://--session x")
    assert calls(record)[0]["argv"] == ["list", "items", "--search=--session x", "--nointeraction"]


def test_returns_on_the_answer_without_waiting_for_exit(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_TAIL", "30")
    backend = backend_for(fake_bw, BW_SESSION=SESSION)
    started = time.monotonic()
    cred = backend.fetch(parse_reference("bitwarden://GitHub"))
    assert time.monotonic() - started < 10 and cred.id == ITEM_ID
    pid = calls(record)[0]["pid"]
    assert alive(pid) and lingering_count() >= 1
    backend.close()  # ends the idling process
    assert not alive(pid) and lingering_count() == 0


def test_an_idling_process_is_killed_at_its_deadline(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_TAIL", "30")
    backend = backend_for(fake_bw, VAULTS_BITWARDEN_TIMEOUT="1.5")
    backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}"))
    pid = calls(record)[0]["pid"]
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert lingering_count() == 0


@pytest.mark.parametrize("with_child", [False, True])
def test_timeout_kills_the_whole_process_group(
    fake_bw: Path,
    record: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    with_child: bool,
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "hang")
    child_file = tmp_path / "child.pid"
    if with_child:
        monkeypatch.setenv("BW_FAKE_CHILD", str(child_file))
    timeout = 2.0 if with_child else 0.8  # time for the stand-in to start its child
    started = time.monotonic()
    with pytest.raises(
        VaultUnavailable, match=rf"did not finish within {timeout:g} s and was killed"
    ):
        fetch(backend_for(fake_bw, VAULTS_BITWARDEN_TIMEOUT=str(timeout)))
    assert time.monotonic() - started < timeout + 4
    assert not alive(calls(record)[0]["pid"])
    if with_child:
        assert child_file.exists(), "the stand-in bw did not start its child in time"
        assert dies_soon(int(child_file.read_text()))


def test_async_timeout_kills_too(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "hang")
    backend = backend_for(fake_bw, VAULTS_BITWARDEN_TIMEOUT="0.8")

    async def run() -> None:
        try:
            await backend.afetch(parse_reference("bitwarden://GitHub"))
        finally:
            await backend.aclose()

    with pytest.raises(VaultUnavailable, match="killed"):
        anyio.run(run)
    assert not alive(calls(record)[0]["pid"])


@pytest.mark.parametrize(
    ("stderr", "kind", "problem"),
    [
        ("Not found.", ItemNotFound, "item with id"),
        ("Vault is locked.", VaultLocked, "BW_SESSION"),
        ("You are not logged in.", AuthenticationFailed, "bw login"),
        (
            "More than one result was found. Try getting a specific object by `id` instead. "
            "The following objects were found:|5ebd4d31-104c-49fc-a09c-aedf003d28ad"
            "|90657653-6695-496d-9431-aedf003d3015",
            AmbiguousItem,
            "5ebd4d31-104c-49fc-a09c-aedf003d28ad",
        ),
        (f"TypeError: boom near {SESSION}", VaultUnavailable, r"TypeError: boom near \*\*\*"),
    ],
)
def test_stderr_messages_map_to_typed_errors(
    fake_bw: Path,
    record: Path,
    monkeypatch: pytest.MonkeyPatch,
    stderr: str,
    kind: type[Exception],
    problem: str,
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", f"stderr:{stderr}")
    with pytest.raises(kind, match=problem) as caught:
        fetch(backend_for(fake_bw, BW_SESSION=SESSION))
    assert SESSION not in str(caught.value)


def test_silent_success_is_treated_as_a_stale_session(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "silent")
    with pytest.raises(VaultLocked, match="printed nothing"):
        fetch(backend_for(fake_bw))


def test_non_json_output_is_unavailable(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "garbage")
    with pytest.raises(VaultUnavailable, match="not JSON"):
        fetch(backend_for(fake_bw))


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(VaultUnavailable, match="not found") as caught:
        fetch(backend_for(tmp_path / "no-such-bw"))
    assert "VAULTS_BITWARDEN_BW" in str(caught.value)


def test_locked_with_password_unlocks_once_by_environment(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "locked-until-unlock")
    backend = backend_for(fake_bw, BW_SESSION=SESSION, BW_PASSWORD=PASSWORD)
    try:
        assert backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}")).id == ITEM_ID
        assert backend.fetch(parse_reference("bitwarden://GitHub")).id == ITEM_ID
        assert NEW_SESSION not in repr(backend) and PASSWORD not in repr(backend)
    finally:
        backend.close()
    argvs = [c["argv"] for c in calls(record)]
    assert argvs[1] == ["unlock", "--passwordenv", "VAULTS_BW_UNLOCK_PASSWORD", "--raw",
                        "--nointeraction"]  # fmt: skip
    assert [a[0] for a in argvs] == ["get", "unlock", "get", "list"]
    unlock_env = calls(record)[1]["env"]
    assert unlock_env["VAULTS_BW_UNLOCK_PASSWORD"] == PASSWORD and "BW_SESSION" not in unlock_env
    assert calls(record)[2]["env"]["BW_SESSION"] == NEW_SESSION
    assert all(PASSWORD not in " ".join(a) for a in argvs)
    assert all(
        "VAULTS_BW_UNLOCK_PASSWORD" not in c["env"] for i, c in enumerate(calls(record)) if i != 1
    )


def test_wrong_password_is_authentication_failed_once(
    fake_bw: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_FAKE_MODE", "locked-until-unlock")
    backend = backend_for(fake_bw, BW_PASSWORD="wrong-canary")
    try:
        for _ in range(2):
            with pytest.raises(AuthenticationFailed) as caught:
                backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}"))
            assert "wrong-canary" not in str(caught.value)
    finally:
        backend.close()
    assert [c["argv"][0] for c in calls(record)] == ["get", "unlock", "get"]


def test_resolve_many_is_one_bw_run(fake_bw: Path, record: Path) -> None:
    backend = backend_for(fake_bw)
    refs = [parse_reference(r) for r in (f"bitwarden://{ITEM_ID}", "bitwarden://GitHub",
            "bitwarden://?url=https://github.com/login", "bitwarden://Nope")]  # fmt: skip
    try:
        results = backend.fetch_many(refs)
    finally:
        backend.close()
    assert [getattr(r, "id", type(r).__name__) for r in results] == [
        ITEM_ID, ITEM_ID, ITEM_ID, "ItemNotFound",
    ]  # fmt: skip
    assert [c["argv"] for c in calls(record)] == [["list", "items", "--nointeraction"]]


def test_status(fake_bw: Path, record: Path) -> None:
    backend = backend_for(fake_bw)
    try:
        assert backend.status() == "unlocked"
    finally:
        backend.close()


def test_transport_repr_hides_secrets(fake_bw: Path) -> None:
    backend = backend_for(fake_bw, BW_SESSION=SESSION, BW_PASSWORD=PASSWORD)
    assert isinstance(backend.transport, CliTransport)
    text = repr(backend) + str(backend) + repr(vars(backend.transport))
    assert SESSION not in text and PASSWORD not in text
    end_lingering()


def test_bw_gets_an_allowlisted_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: ``bw`` used to inherit every unrelated secret of the host process."""
    seen = tmp_path / "env.json"
    script = tmp_path / "bw"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
        "sys.stderr.write('Not found.')\nsys.exit(1)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    leaked = {
        "OP_CONNECT_TOKEN": "op-connect-canary",
        "OP_SERVICE_ACCOUNT_TOKEN": "op-sa-canary",
        "VAULTS_API_KEY": "api-key-canary",
        "VAULTS_PULL_API_KEY": "pull-key-canary",
        "VAULTS_KEEPASS_PASSWORD": "kdbx-canary",
        "AWS_SECRET_ACCESS_KEY": "aws-canary",
    }
    kept = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HTTPS_PROXY": "http://127.0.0.1:3128"}
    for name, value in {**leaked, **kept}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(VaultsError):
        fetch(backend_for(script, BW_SESSION=SESSION))
    env = json.loads(seen.read_text())
    assert not set(leaked) & set(env)
    assert {k: env.get(k) for k in kept} == kept
    assert env["PATH"] and env["BW_SESSION"] == SESSION


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("VAULTS_BITWARDEN_URL", "http://u:pw-CANARY-1@[::1/x"),
        ("VAULTS_BITWARDEN_URL", "ftp://u:pw-CANARY-1@127.0.0.1/"),
        ("VAULTS_BITWARDEN_URL", "http://u:pw-CANARY-1@127.0.0.1:99999/"),
        ("VAULTS_BITWARDEN_SERVER", "https://u:pw-CANARY-1@[vault.example"),
    ],
)
def test_a_malformed_url_is_a_configuration_error_without_its_password(name: str, url: str) -> None:
    """Issue 12: every URL error is a VaultsError that never shows the URL's user part."""
    from vaults.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        BitwardenBackend.from_env({name: url})
    assert "pw-CANARY-1" not in str(caught.value) and "pw-CANARY-1" not in repr(caught.value)
