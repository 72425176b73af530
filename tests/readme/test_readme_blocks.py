"""Every code block of README.md and plugins/*/README.md runs as written.

Blocks run in a scratch directory with:

* ``vaults`` (this interpreter's venv) first on ``PATH``, ``HOME`` and the data directory
  in the scratch directory;
* the demo KeePass vault (``make demo``'s): ``VAULTS_KEEPASS_DB``, ``VAULTS_KEEPASS_PASSWORD``;
* a real ``vaults serve`` on a free port, with ``VAULTS_API_KEY`` and ``VAULTS_STORE`` (the same
  SQLite inbox for the server and the CLI); the address ``127.0.0.1:8000`` written in a block
  is replaced with that server's;
* ``message.eml`` (an e-mail carrying the code 482913) in the working directory;
* for ``plugins/bitwarden/README.md``: a real ``bw serve`` over the Bitwarden test server
  (``VAULTS_BITWARDEN_URL``; ``127.0.0.1:8087`` in a block means it), marked slow; for the
  native transport, that server's API key and master password (``BW_CLIENTID``,
  ``BW_CLIENTSECRET``, ``BW_PASSWORD``), its CA (``VAULTS_BITWARDEN_CA``) and a cache
  directory; ``https://vault.bitwarden.com`` in a block means that server;
* for ``plugins/onepassword/README.md``: the Connect test server (``OP_CONNECT_HOST``/``TOKEN``);
* for blocks using ``vaults.browser``: the demo entry's site ``https://login.acme.example/`` is
  served on 127.0.0.1 (tests/browser/testsite.py), and Debian's ``chromium`` is on ``PATH``.

The convention: every fenced block names its language:

* ``python`` — run as a script (``python block.py``): it must be complete, with its imports and,
  when it awaits, its own event loop (``asyncio.run(main())``);
* ``sh`` / ``bash`` / ``shell`` — run with ``bash -euo pipefail``;
* ``console`` — the lines starting with ``$ `` (and their ``\\`` continuations) are run the same
  way; the other lines are sample output and not compared;
* ``json`` / ``toml`` — parsed; ``text`` and other languages — not run (output, file trees,
  HTTP exchanges …), but a ``text`` block may not hold ``$ `` command lines: commands run.

A block that cannot run offline or as it stands is preceded (on the line before the fence,
blank lines allowed) by ``<!-- docs-test: skip REASON -->``; the reason is shown by pytest.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SHELL_LANGS = frozenset({"sh", "bash", "shell", "console"})
RUN_LANGS = SHELL_LANGS | {"python"}
PARSED_LANGS = frozenset({"json", "toml"})

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<verb>\w+)\s*(?P<arg>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None  # the reason given by a ``docs-test: skip`` marker

    @property
    def where(self) -> str:
        return f"{self.path.as_posix()}:{self.line}"


def _marker_before(lines: list[str], index: int) -> str | None:
    """The ``skip`` reason written on the nearest non-blank line above ``index``."""
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    found = _MARKER.match(lines[j])
    if found is None:
        return None
    if found["verb"] != "skip":
        raise ValueError(f"line {j + 1}: unknown docs-test marker {found['verb']!r} (use: skip)")
    reason = found["arg"].strip(" -—:")
    if not reason:
        raise ValueError(f"line {j + 1}: a docs-test skip marker must say why")
    return reason


def blocks_of(path: Path, root: Path) -> list[Block]:
    """The fenced code blocks of ``path`` (paths reported relative to ``root``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        lang = opening["info"].strip().split(" ")[0].lower() if opening["info"].strip() else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and not lines[j].strip().strip(fence[0])
        ):
            body.append(lines[j][len(opening["indent"]) :])
            j += 1
        try:
            skip = _marker_before(lines, i)
        except ValueError as exc:
            raise ValueError(f"{path.relative_to(root)}: {exc}") from None
        found.append(Block(path.relative_to(root), i + 1, lang, "\n".join(body) + "\n", skip))
        i = j + 1
    return found


def console_commands(text: str) -> str:
    """The commands of a ``console`` block: ``$ `` lines and their continuations."""
    commands: list[str] = []
    continuing = False
    for line in text.splitlines():
        if continuing:
            commands.append(line)
        elif line.startswith("$ "):
            commands.append(line[2:])
        else:
            continue
        continuing = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


def has_prompt_lines(text: str) -> bool:
    return any(line.startswith("$ ") for line in text.splitlines())


ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted(ROOT.glob("plugins/*/README.md"))]
SERVE_ADDRESS = "127.0.0.1:8000"  # `vaults serve` in the README
BW_SERVE_ADDRESS = "127.0.0.1:8087"  # `bw serve` in plugins/bitwarden/README.md
BW_SERVER_ADDRESS = "https://vault.bitwarden.com"  # the native transport's server (same doc)
ACME_SITE = "https://login.acme.example/"  # the demo vault's site, for vaults.browser blocks
BLOCK_TIMEOUT = 60.0
MAX_SKIPPED = 12  # install lines, make targets, foreground servers, real accounts
# (12: `vaults codes watch` and `vaults serve --smtp-port` need a real mailbox / MX record)
MESSAGE_EML = """\
From: Acme <no-reply@acme.example>
To: user@example.com
Subject: Your Acme verification code
Content-Type: text/plain; charset=utf-8

Your Acme verification code is 482913. It expires in 10 minutes.
"""


def all_blocks() -> list[Block]:
    return [block for doc in DOCUMENTS for block in blocks_of(doc, ROOT)]


BLOCKS = all_blocks()


@dataclass
class DocEnv:
    workdir: Path
    env: dict[str, str]
    addresses: dict[str, str]  # address written in the docs -> the test's server


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vaults serve exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"vaults serve did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def doc_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocEnv]:
    pytest.importorskip("vaults_keepass", reason="the demo vault needs vaults-keepass")
    pytest.importorskip("uvicorn", reason="vaults serve needs the server extra")
    from vaults_keepass.demo import main as write_demo

    from vaults.testing.servers import free_port

    base = tmp_path_factory.mktemp("readme")
    workdir, home = base / "work", base / "home"
    workdir.mkdir()
    home.mkdir()
    demo_db = base / "demo" / "demo.kdbx"
    assert write_demo([str(demo_db)]) == 0
    (workdir / "message.eml").write_text(MESSAGE_EML, encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    path = [str(bin_dir)]
    if (ROOT / "node_modules" / ".bin").is_dir():
        path.append(str(ROOT / "node_modules" / ".bin"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAULTS_", "BW_", "OP_", "PYTEST", "COV_"))
    }
    env.update(
        PATH=os.pathsep.join([*path, os.environ.get("PATH", "")]),
        HOME=str(home),
        VAULTS_DATA_DIR=str(base / "data"),
        VAULTS_STORE=f"sqlite:///{base / 'codes.db'}",
        VAULTS_API_KEY=secrets.token_urlsafe(24),
        VAULTS_PUSH_KEY=secrets.token_urlsafe(24),
        VAULTS_KEEPASS_DB=str(demo_db),
        VAULTS_KEEPASS_PASSWORD="demo",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "vaults"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, server)
        yield DocEnv(workdir, env, {SERVE_ADDRESS: f"127.0.0.1:{port}"})
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def onepassword_env() -> Iterator[dict[str, str]]:
    pytest.importorskip("vaults_onepassword", reason="needs vaults-onepassword")
    from vaults_onepassword.testing.connect_server import ConnectServer
    from vaults_onepassword.testing.seed import default_seed, token_for

    seed = default_seed()
    with ConnectServer(seed) as server:
        yield {"OP_CONNECT_HOST": server.url, "OP_CONNECT_TOKEN": token_for(seed, "connect")}


@pytest.fixture(scope="module")
def acme_site() -> Iterator[str]:
    """The demo vault's site (``Demo/Acme Cloud``: its login, its TOTP) from tests/browser,
    for blocks that drive Chromium with vaults.browser."""
    from tests.browser.conftest import CHROMIUM
    from tests.browser.testsite import Website

    if not Path(CHROMIUM).exists():
        if os.environ.get("VAULTS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"VAULTS_REQUIRE_CHROMIUM=1 but {CHROMIUM} is not installed")
        pytest.skip(f"{CHROMIUM} is not installed")
    with Website() as site:
        yield site.acme_demo()


def _environment(block: Block, doc_env: DocEnv, request: pytest.FixtureRequest) -> DocEnv:
    """The base environment plus what the block's document needs."""
    document = block.path.as_posix()
    extra: dict[str, str] = {}
    addresses = dict(doc_env.addresses)
    if "vaults.browser" in block.text:
        addresses[ACME_SITE] = request.getfixturevalue("acme_site")
    if document == "plugins/bitwarden/README.md":
        pytest.importorskip("vaults_bitwarden", reason="needs vaults-bitwarden")
        url: str = request.getfixturevalue("bw_serve")
        extra["VAULTS_BITWARDEN_URL"] = url
        addresses[BW_SERVE_ADDRESS] = url.split("://", 1)[1]
        server = request.getfixturevalue("bitwarden_server")
        extra.update(
            BW_CLIENTID=server.client_id,
            BW_CLIENTSECRET=server.client_secret,
            BW_PASSWORD=server.master_password,
            VAULTS_BITWARDEN_CA=str(server.ca_cert),
            VAULTS_BITWARDEN_CACHE_DIR=str(doc_env.workdir / "bitwarden-cache"),
        )
        addresses[BW_SERVER_ADDRESS] = server.url
    elif document == "plugins/onepassword/README.md":
        extra.update(request.getfixturevalue("onepassword_env"))
    return DocEnv(doc_env.workdir, {**doc_env.env, **extra}, addresses)


def _run(block: Block, doc_env: DocEnv) -> subprocess.CompletedProcess[str]:
    text = block.text
    for written, actual in doc_env.addresses.items():
        text = text.replace(written, actual)
    if block.lang == "python":
        script = doc_env.workdir / f"block_{block.line}.py"
        script.write_text(text, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        if block.lang == "console":
            text = console_commands(text)
        argv = ["bash", "-euo", "pipefail", "-c", text]
    return subprocess.run(
        argv,
        cwd=doc_env.workdir,
        env=doc_env.env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_documents_have_blocks() -> None:
    assert {block.path.as_posix() for block in BLOCKS} >= {
        "README.md",
        "plugins/keepass/README.md",
    }


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.where)
def test_block_has_a_language(block: Block) -> None:
    assert block.lang, (
        f"{block.where}: give the block a language — python/sh/console (run), text (not run)"
    )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "text"], ids=lambda b: b.where)
def test_text_blocks_hold_no_commands(block: Block) -> None:
    if block.skip:
        pytest.skip(block.skip)
    assert not has_prompt_lines(block.text), (
        f"{block.where}: '$ ' lines are commands — make it a console block (it runs) or mark "
        "it <!-- docs-test: skip REASON -->"
    )


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang in PARSED_LANGS], ids=lambda b: b.where
)
def test_data_block_parses(block: Block) -> None:
    if block.skip:
        pytest.skip(block.skip)
    if block.lang == "json":
        json.loads(block.text)
    else:
        tomllib.loads(block.text)


def _runnable(block: Block) -> object:
    slow = block.path.as_posix() == "plugins/bitwarden/README.md"  # starts the real bw serve
    return pytest.param(block, id=block.where, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("block", [_runnable(b) for b in BLOCKS if b.lang in RUN_LANGS])
def test_block_runs(block: Block, doc_env: DocEnv, request: pytest.FixtureRequest) -> None:
    if block.skip:
        pytest.skip(f"{block.where}: {block.skip}")
    done = _run(block, _environment(block, doc_env, request))
    assert done.returncode == 0, (
        f"{block.where} ({block.lang}) exited {done.returncode}\n--- block\n{block.text}"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    assert "Traceback" not in done.stderr, done.stderr


def test_skips_are_few() -> None:
    """Skipped blocks are the exception: each is listed (``pytest -rs`` shows the reasons) and
    their number is capped; a new skip raises ``MAX_SKIPPED`` in the same commit, on purpose."""
    skipped = [f"{b.where}: {b.skip}" for b in BLOCKS if b.skip and b.lang in RUN_LANGS]
    assert len(skipped) <= MAX_SKIPPED, (
        f"{len(skipped)} README blocks are skipped (at most {MAX_SKIPPED}): make them run "
        "(see this module's docstring for the environment they get):\n" + "\n".join(skipped)
    )


def test_parser_reads_markers_and_console_commands(tmp_path: Path) -> None:
    doc = tmp_path / "DOC.md"
    doc.write_text(
        "<!-- docs-test: skip needs an account -->\n\n"
        "```console\n$ echo one \\\n  two\noutput line\n$ true\n```\n"
        "```\nno language\n```\n",
        encoding="utf-8",
    )
    first, second = blocks_of(doc, tmp_path)
    assert (first.lang, first.skip, first.line) == ("console", "needs an account", 3)
    assert console_commands(first.text) == "echo one \\\n  two\ntrue\n"
    assert (second.lang, second.skip) == ("", None)
    doc.write_text("<!-- docs-test: skip -->\n```sh\ntrue\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must say why"):
        blocks_of(doc, tmp_path)
