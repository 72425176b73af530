"""The parser targets of the fuzz tests, shared by hypothesis (``test_fuzz_*.py``) and atheris
(``atheris_fuzz.py``).

Each ``check_*`` function feeds one input through the real code path and returns normally when
the code either succeeded (and its result holds the stated invariants) or raised one of the
documented typed errors (subclasses of :class:`vaults.errors.VaultsError`; narrower where the
function documents narrower). Any other exception escapes: that is a crash.

Transports are the real ones with only the wire replaced: ``bw serve`` and 1Password Connect
answers come from an ``httpx.MockTransport`` (httpx's in-process transport), ``bw`` and ``op``
output is handed to the transport in place of a child process. Each target also has a bytes
entry point (``Target.entry``) for atheris and real-shaped seed inputs (``Target.seeds``).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import fuzz_seeds as seeds
import httpx
from pydantic import SecretStr
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.cli_transport import CliTransport
from vaults_bitwarden.lookup import parse_query
from vaults_bitwarden.process import Run, _complete_json
from vaults_bitwarden.serve_api import ServeTransport
from vaults_bitwarden.settings import BitwardenSettings
from vaults_keepass.totp_fields import totp_from_attributes
from vaults_onepassword import connect
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.connect import ConnectTransport, clear_vault_cache
from vaults_onepassword.op_cli import OpCliTransport
from vaults_onepassword.references import ItemKey, parse_op_reference

from vaults.codes.extract import ExtractedCode, extract
from vaults.codes.mime import MailMessage, parse_mail, recipient_for
from vaults.codes.pull_endpoint import _Pull
from vaults.codes.signature import sign_request, verify_signature
from vaults.errors import (
    AuthenticationFailed,
    InvalidInput,
    InvalidReference,
    InvalidTotpSecret,
    VaultsError,
    VaultUnavailable,
)
from vaults.models import Credential
from vaults.refs import Reference, parse_reference
from vaults.small_http import HttpError, Reply
from vaults.totp import code_at, code_for_entry, parse_secret

__all__ = ["TARGETS", "Target"]

# Retries keep their course but not their waits: the retry policy has its own tests
# (test_faults_*); here a fuzzed 5xx would only make each input sleep.
connect.BACKOFF = dataclasses.replace(connect.BACKOFF, base=0.0, cap=0.0)

AT: Final = 1_767_225_600.0
"""The instant codes are computed for (2026-01-01T00:00:00Z)."""
SERVE_URL: Final = "http://127.0.0.1:8087"
CONNECT_URL: Final = "http://127.0.0.1:8080"
PULL_KEY: Final = "pull-key-fuzz-5b1e"
SERVE_STATUSES: Final = (200, 400, 200, 403, 500, 404, 200, 429)
EXIT_CODES: Final = (0, 1, 0, 2)
PULL_STATUSES: Final = (200, 200, 204, 302, 401, 403, 404, 500, 503)


def _text(data: bytes) -> str:
    """Bytes as text, keeping invalid bytes as lone surrogates (a hazard of its own)."""
    return data.decode("utf-8", "surrogateescape")


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _response(status: int, body: bytes) -> httpx.Response:
    """An answer still to be read, as from a socket (not a pre-read ``content=``)."""
    return httpx.Response(
        status,
        headers={"content-type": "application/json", "content-length": str(len(body))},
        stream=httpx.ByteStream(body),
    )


def _results_are_typed(results: Sequence[object], count: int) -> None:
    assert len(results) == count, f"{count} references gave {len(results)} results"
    for result in results:
        assert isinstance(result, Credential | VaultsError), f"untyped result {type(result)}"


# -- TOTP -----------------------------------------------------------------------------------


def check_totp(text: str) -> None:
    """``parse_secret``: raw base32, ``otpauth://``, ``steam://``, KeeOtp."""
    try:
        secret = parse_secret(text)
    except InvalidTotpSecret:
        return
    code = code_at(secret, AT)
    assert len(code.code) == (5 if secret.encoder == "steam" else secret.digits)
    assert code.valid_from <= AT < code.valid_until
    assert code_for_entry(secret, AT).valid_until >= code.valid_until
    again = parse_secret(secret.to_uri())  # what vaults writes, it reads back
    assert (again.secret, again.algorithm, again.digits, again.period, again.encoder) == (
        secret.secret,
        secret.algorithm,
        secret.digits,
        secret.period,
        secret.encoder,
    )


def check_keepass_totp(attributes: Mapping[str, str]) -> None:
    """KeePass TOTP attributes (KeePassXC ``otp``, TrayTOTP, KeePass ``TimeOtp-*``)."""
    secret, problem = totp_from_attributes(attributes)  # never raises: the login is kept
    assert secret is None or problem is None
    if secret is not None:
        code = code_at(secret, AT)
        assert len(code.code) == (5 if secret.encoder == "steam" else secret.digits)


def _keepass_attributes(data: bytes) -> dict[str, str]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {"otp": _text(data)}
    if not isinstance(value, dict):
        return {"otp": _text(data)}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


# -- Bitwarden: bw serve ----------------------------------------------------------------------

Answer = tuple[int, bytes]
"""An HTTP status and body."""


class ServeRequest(NamedTuple):
    method: str
    path: str


class _InProcessClient:
    """Stands in for the ``bw serve`` transport's :class:`~vaults.small_http.HttpClient`:
    ``answer`` plays the server in-process (what is fuzzed is the parsing of its replies;
    the wire has its own tests). Replies past the caller's size cap are refused as the
    real client refuses them."""

    def __init__(self, answer: Callable[[ServeRequest], Answer]) -> None:
        self._answer = answer
        self.is_closed = False

    def request(
        self,
        method: str,
        url: str,
        *,
        max_bytes: int | None = None,
        on_try: Callable[[], None] | None = None,
        **_: Any,
    ) -> Reply:
        if on_try is not None:
            on_try()
        status, body = self._answer(ServeRequest(method, url.split("?", 1)[0]))
        if max_bytes is not None and len(body) > max_bytes:
            raise HttpError("too-large", f"the reply is larger than {max_bytes} bytes")
        return Reply(status, body, {"content-type": "application/json"})

    def close(self) -> None:
        self.is_closed = True


def serve_backend(answer: Callable[[ServeRequest], Answer], password: bool) -> BitwardenBackend:
    """The Bitwarden backend over the real ``bw serve`` transport; ``answer`` plays the server."""
    settings = BitwardenSettings(
        url=SERVE_URL, password=SecretStr("master-fuzz-password") if password else None
    )
    transport = ServeTransport(settings)
    transport._client = _InProcessClient(answer)  # type: ignore[assignment]
    return BitwardenBackend(transport)


BW_REFS: Final = [
    "bitwarden://GitHub",
    f"bitwarden://{seeds.BW_ID}",
    "bitwarden://?url=https://github.com/settings",
    "bitwarden://GitHub?organization=Acme&collection=Engineering",
]


def _exercise_bitwarden(backend: BitwardenBackend, refs: Sequence[str]) -> None:
    parsed = [parse_reference(ref) for ref in refs]
    for ref in parsed:
        with contextlib.suppress(VaultsError):
            assert isinstance(backend.fetch(ref), Credential)
    _results_are_typed(backend.fetch_many(parsed), len(parsed))
    with contextlib.suppress(VaultsError):
        assert isinstance(backend.status(), str)


def check_bitwarden_serve(status: int, body: bytes, password: bool = False) -> None:
    """``bw serve`` replies (envelopes, items, listings, status) into credentials."""
    backend = serve_backend(lambda request: (status, body), password)
    try:
        _exercise_bitwarden(backend, BW_REFS)
    finally:
        backend.close()


def _serve_entry(data: bytes) -> None:
    if not data:
        return
    check_bitwarden_serve(SERVE_STATUSES[data[0] % len(SERVE_STATUSES)], data[1:], data[0] >= 128)


def _serve_seeds() -> list[bytes]:
    return [
        bytes([SERVE_STATUSES.index(status)]) + _json(body)
        for status, body in seeds.bw_serve_envelopes()
    ]


# -- Bitwarden: the bw CLI -------------------------------------------------------------------


class _PrintedCli(CliTransport):
    """The real CLI transport; what ``bw`` printed is given instead of running it."""

    def __init__(self, code: int, out: bytes, err: bytes, password: bool) -> None:
        super().__init__(
            BitwardenSettings(
                bw="bw", password=SecretStr("master-fuzz-password") if password else None
            )
        )
        self._printed = (code, out, err)

    def _exec(self, args: Sequence[str], **_: Any) -> Run:
        code, out, err = self._printed
        with self._lock:
            self.requests += 1
        # as bw's reader does: a complete JSON document on stdout is the answer
        answered, data = _complete_json(bytearray(out))
        text_out = out.decode("utf-8", errors="replace")
        text_err = err.decode("utf-8", errors="replace")
        if answered:
            return Run(None, text_out, text_err, data, True)
        return Run(code, text_out, text_err)


def check_bitwarden_cli(code: int, out: bytes, err: bytes, password: bool = False) -> None:
    """``bw`` stdout/stderr/exit status (JSON answers, messages) into credentials."""
    _exercise_bitwarden(BitwardenBackend(_PrintedCli(code, out, err, password)), BW_REFS)


def _split_run(data: bytes) -> tuple[int, bytes, bytes, bool]:
    head = data[0] if data else 0
    out, _, err = data[1:].partition(b"\x00")
    return EXIT_CODES[head % len(EXIT_CODES)], out, err, head >= 128


def _bw_cli_entry(data: bytes) -> None:
    check_bitwarden_cli(*_split_run(data))


def _run_seeds(outputs: Sequence[tuple[int, str, str]]) -> list[bytes]:
    return [
        bytes([EXIT_CODES.index(code)]) + out.encode() + b"\x00" + err.encode()
        for code, out, err in outputs
    ]


# -- 1Password Connect ------------------------------------------------------------------------

OP_REFS: Final = [
    "op://Private/GitHub",
    "op://Private/GitHub/password",
    f"op://{seeds.OP_VAULT_ID}/{seeds.OP_ITEM_ID}?attribute=otp",
    "op://Private/Acme VPN/Security/recovery",
    "op://Shared Vault/GitHub/add more/one-time password",
]
ROUTES: Final = ("vaults", "items", "item")


def _route(request: httpx.Request) -> str:
    path = request.url.path.rstrip("/")
    if path == "/v1/vaults":
        return "vaults"
    if path.endswith("/items"):
        return "items"
    return "item"


def _exercise_op(backend: OnePasswordBackend, refs: Sequence[str], *, batch: bool) -> None:
    parsed = [parse_reference(ref) for ref in refs]
    for ref in parsed:
        with contextlib.suppress(VaultsError):
            assert isinstance(backend.fetch(ref), Credential)
    if batch:
        _results_are_typed(backend.fetch_many(parsed), len(parsed))


class _MockedConnect(ConnectTransport):
    def __init__(self, answers: Mapping[str, Answer]) -> None:
        super().__init__(CONNECT_URL, SecretStr("connect-fuzz-token"), concurrency=1)
        self._answers = answers

    def _client_kwargs(self) -> dict[str, Any]:
        def handle(request: httpx.Request) -> httpx.Response:
            status, body = self._answers[_route(request)]
            return _response(status, body)

        kwargs = super()._client_kwargs()
        kwargs["transport"] = httpx.MockTransport(handle)
        kwargs.pop("verify", None)
        return kwargs


def check_connect(answers: Mapping[str, Answer]) -> None:
    """1Password Connect answers (vault list, item summaries, ``FullItem``) into credentials."""
    clear_vault_cache()  # the vault-id cache would otherwise carry answers across inputs
    transport = _MockedConnect(answers)
    try:
        _exercise_op(OnePasswordBackend(transport, default_vault="Private"), OP_REFS, batch=True)
    finally:
        transport.close()


def connect_answers(doc: Any) -> dict[str, Answer]:
    """Route answers from a fuzzed ``{"status": …, "vaults": …, "items": …, "item": …}``."""
    status = doc.get("status") if isinstance(doc, dict) else None
    code = status if isinstance(status, int) and 100 <= status <= 599 else 200
    if isinstance(doc, dict):
        return {route: (code, _json(doc.get(route))) for route in ROUTES}
    return dict.fromkeys(ROUTES, (code, _json(doc)))


def _connect_entry(data: bytes) -> None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        check_connect(dict.fromkeys(ROUTES, (200, data)))
        return
    check_connect(connect_answers(doc))


# -- 1Password: the op CLI --------------------------------------------------------------------


class _PrintedOp(OpCliTransport):
    """The real ``op`` transport; what ``op`` printed is given instead of running it."""

    def __init__(self, code: int, out: bytes, err: bytes) -> None:
        super().__init__({"OP_SERVICE_ACCOUNT_TOKEN": "ops_fuzz_token"}, executable="op")
        self._printed = (code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _run(self, key: ItemKey) -> tuple[int, str, str]:
        return self._printed


def check_op_cli(code: int, out: bytes, err: bytes) -> None:
    """``op item get --format json`` stdout/stderr/exit status into credentials."""
    _exercise_op(OnePasswordBackend(_PrintedOp(code, out, err)), OP_REFS, batch=False)


def _op_cli_entry(data: bytes) -> None:
    code, out, err, _ = _split_run(data)
    check_op_cli(code, out, err)


# -- references -------------------------------------------------------------------------------


def _listing_server(request: ServeRequest) -> Answer:
    """A well-behaved ``bw serve`` over the seed listing (references are what is fuzzed)."""
    path = request.path
    if path == "/list/object/items":
        return 200, _json({"success": True, "data": {"object": "list", "data": seeds.bw_listing()}})
    if path == "/list/object/organizations":
        data = {"object": "list", "data": seeds.BW_ORGANIZATIONS}
        return 200, _json({"success": True, "data": data})
    if path == "/list/object/collections":
        return 200, _json(
            {"success": True, "data": {"object": "list", "data": seeds.BW_COLLECTIONS}}
        )
    if path.startswith("/object/item/"):
        return 400, _json({"success": False, "message": "Not found."})
    status = {"object": "template", "template": seeds.BW_STATUS}
    return 200, _json({"success": True, "data": status})


_CONNECT_OK: Final = {
    "vaults": (200, _json(seeds.OP_VAULTS)),
    "items": (200, _json(seeds.OP_SUMMARIES)),
    "item": (200, _json(seeds.op_item())),
}


class _KeePass:
    """A real KDBX file (built once per process) behind the real KeePass backend."""

    def __init__(self) -> None:
        from vaults_keepass.backend import KeePassBackend
        from vaults_keepass.testing import EntrySpec, create_database

        folder = Path(tempfile.mkdtemp(prefix="vaults-fuzz-kdbx-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "fuzz.kdbx"
        entries = [
            EntrySpec(
                "GitHub",
                "octo",
                "made-up-1",
                "https://github.com",
                ("Internet",),
                {"otp": seeds.TOTP_SECRETS[5]},
            ),
            EntrySpec("Mastodon", "octo", "made-up-2", group=("Internet", "Social")),
            EntrySpec("Shared", "a", "made-up-3", group=("Team",)),
            EntrySpec("Shared", "b", "made-up-4", group=("Team", "Ops")),
            EntrySpec(
                "a/b title",
                "c",
                "made-up-5",
                group=("Internet",),
                attributes={"TOTP Seed": "JBSWY3DPEHPK3PXP", "TOTP Settings": "30;S"},
            ),
            EntrySpec("Old", "d", "made-up-6", recycled=True),
            EntrySpec("Broken", "e", "made-up-7", attributes={"otp": "otpauth://hotp/x?secret=A"}),
        ]
        self.uuids = list(create_database(path, "fuzz-master", entries).values())
        self.backend = KeePassBackend(path, "fuzz-master")


_KEEPASS: _KeePass | None = None


def keepass() -> _KeePass:
    global _KEEPASS
    if _KEEPASS is None:
        _KEEPASS = _KeePass()
    return _KEEPASS


def check_reference(text: str) -> None:
    """``parse_reference`` and each backend's reading of ``bitwarden://``, ``op://`` and
    ``keepass://`` references, resolved against real-shaped vaults."""
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert ref.scheme and ref.body.strip()
    _path, _query = ref.path, ref.query
    for scheme in ("bitwarden", "op", "keepass"):
        # every scheme's parser reads every body, whatever scheme the text named
        try:
            scoped = parse_reference(f"{scheme}://{ref.body}")
        except InvalidReference:
            continue
        _resolve(scoped)


_BACKENDS: dict[str, Any] = {}


def _backend(scheme: str) -> Any:
    """One backend per scheme, over well-behaved vaults (references are what is fuzzed)."""
    if scheme not in _BACKENDS:
        if scheme == "bitwarden":
            _BACKENDS[scheme] = serve_backend(_listing_server, password=False)
        elif scheme == "op":
            _BACKENDS[scheme] = OnePasswordBackend(
                _MockedConnect(_CONNECT_OK), default_vault="Private"
            )
        else:
            _BACKENDS[scheme] = keepass().backend
    return _BACKENDS[scheme]


def _resolve(ref: Reference) -> None:
    if ref.scheme == "bitwarden":
        try:
            parse_query(ref)
        except InvalidReference:
            return
    elif ref.scheme == "op":
        for default in (None, "Private"):
            try:
                parse_op_reference(ref, default)
            except InvalidReference:
                continue
        clear_vault_cache()
    _fetch(_backend(ref.scheme).fetch, ref)


def _fetch(fetch: Callable[[Reference], Credential], ref: Reference) -> None:
    with contextlib.suppress(VaultsError):
        assert isinstance(fetch(ref), Credential)


# -- codes: extraction, signatures, pull answers ------------------------------------------------


def check_extract(text: str) -> None:
    """``extract``: a code, a magic link or None; it raises nothing at all."""
    found = extract(text)
    if found is not None:
        assert isinstance(found, ExtractedCode)
        assert found.value.strip(), "an empty code"


EML_DIR: Final = Path(__file__).resolve().parents[2] / "data" / "eml"


def mail_seeds() -> list[bytes]:
    """Real mail (tests/data/eml, vendored from other projects' suites) and hazards."""
    real = [path.read_bytes() for path in sorted(EML_DIR.glob("*.eml"))]
    return real + _hazard_bodies(b"To: a@b.c\n\n")


def check_mime(data: bytes) -> None:
    """``parse_mail`` (raw RFC 822): a mail whose texts and recipient can be read, or
    ``InvalidInput``; nothing else."""
    try:
        mail = parse_mail(data)
    except InvalidInput:
        return
    assert isinstance(mail, MailMessage)
    assert all(isinstance(text, str) for text in mail.contents())
    found = recipient_for(mail, ["codes@vaults.example"])
    assert found is None or "@" in found
    repr(mail)


def check_signature(body: bytes, signed: bool, max_age: float | None) -> None:
    """``verify_signature``: True or False for any body and header, never an exception."""
    url = "https://me.example/codes"
    correct = sign_request(body, PULL_KEY, url=url, timestamp=int(AT))
    # unsigned: the input itself is the header (the header parser is fuzzed too)
    header = correct if signed else body.decode("latin-1")
    verdict = verify_signature(body, header, PULL_KEY, url=url, max_age=max_age, now=AT)
    assert isinstance(verdict, bool)
    if signed:
        assert verdict, "a correct signature was refused"
    elif header != correct:
        assert not verdict, "a wrong signature was accepted"
    assert not verify_signature(body, correct, PULL_KEY, url=url + "x", max_age=max_age, now=AT)


def _signature_entry(data: bytes) -> None:
    head = data[0] if data else 0
    check_signature(data[1:], bool(head & 1), None if head & 2 else 300.0)


_PULL_HOST: Any = None


def check_pull_answer(status: int, body: bytes) -> None:
    """What a pull endpoint answers: a code, "not yet", or a typed refusal."""
    global _PULL_HOST
    if _PULL_HOST is None:
        from vaults.testing.hosts import make_test_host

        _PULL_HOST = make_test_host()
    state = _Pull(
        "http://127.0.0.1:9/totp",
        PULL_KEY,
        task_id=None,
        workflow_run_id=None,
        totp_identifier="a@example.com",
        extra=None,
        interval=5.0,
        timeout=60.0,
        request_timeout=5.0,
        host=_PULL_HOST,
    )
    try:
        code, delay = state.answer(httpx.Response(status, content=body))
    except (AuthenticationFailed, VaultUnavailable):
        return
    assert code is None or isinstance(code, ExtractedCode)
    assert 0 < delay <= 5.0


def _pull_entry(data: bytes) -> None:
    head = data[0] if data else 0
    check_pull_answer(PULL_STATUSES[head % len(PULL_STATUSES)], data[1:])


# -- registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A fuzz target: its report name, its bytes entry point and its seed inputs."""

    key: str
    name: str
    entry: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


def _text_seeds(texts: Sequence[str]) -> Callable[[], list[bytes]]:
    return lambda: [t.encode("utf-8", "surrogatepass") for t in [*texts, *seeds.HAZARDS]]


def _hazard_bodies(prefix: bytes) -> list[bytes]:
    return [prefix + h.encode("utf-8", "surrogatepass") for h in seeds.HAZARDS]


TARGETS: Final[dict[str, Target]] = {
    t.key: t
    for t in (
        Target(
            "totp",
            "TOTP secrets: vaults.totp.parse_secret (base32, otpauth://, steam://, KeeOtp)",
            lambda data: check_totp(_text(data)),
            _text_seeds(seeds.TOTP_SECRETS),
        ),
        Target(
            "keepass-totp",
            "KeePass TOTP attributes: vaults_keepass totp_from_attributes",
            lambda data: check_keepass_totp(_keepass_attributes(data)),
            lambda: [_json(a) for a in seeds.KEEPASS_ATTRIBUTES],
        ),
        Target(
            "references",
            "references: parse_reference + bitwarden:// op:// keepass:// lookups",
            lambda data: check_reference(_text(data)),
            _text_seeds(seeds.REFERENCES),
        ),
        Target(
            "bitwarden-serve",
            "Bitwarden JSON: bw serve envelopes, items, listings",
            _serve_entry,
            lambda: _serve_seeds() + _hazard_bodies(b"\x00"),
        ),
        Target(
            "bitwarden-cli",
            "Bitwarden bw CLI output: JSON answers, stderr messages, exit codes",
            _bw_cli_entry,
            lambda: _run_seeds(seeds.bw_cli_outputs()) + _hazard_bodies(b"\x00"),
        ),
        Target(
            "connect",
            "1Password Connect JSON: vaults, item summaries, FullItem",
            _connect_entry,
            lambda: [_json(doc) for doc in seeds.connect_documents()] + _hazard_bodies(b""),
        ),
        Target(
            "op-cli",
            "1Password op CLI output: item JSON, [ERROR] messages, exit codes",
            _op_cli_entry,
            lambda: _run_seeds(seeds.op_cli_outputs()) + _hazard_bodies(b"\x00"),
        ),
        Target(
            "extract",
            "codes: message extraction (SMS, e-mail text and HTML, push)",
            lambda data: check_extract(_text(data)),
            _text_seeds(seeds.MESSAGES),
        ),
        Target(
            "mime",
            "codes: raw RFC 822 mail (MIME parts, charsets, RFC 2047, forwards, recipients)",
            check_mime,
            mail_seeds,
        ),
        Target(
            "signature",
            "codes: verify_signature (signed pull bodies)",
            _signature_entry,
            lambda: (
                [bytes([i]) + b for b in seeds.SIGNED_BODIES for i in (1, 3, 0)]
                + _hazard_bodies(b"\x01")
            ),
        ),
        Target(
            "pull-answer",
            "codes: pull endpoint answers",
            _pull_entry,
            lambda: (
                [bytes([PULL_STATUSES.index(s)]) + b for s, b in seeds.PULL_ANSWERS]
                + _hazard_bodies(b"\x00")
            ),
        ),
    )
}
