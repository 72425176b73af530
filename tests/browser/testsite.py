"""The browser tests' website: login and 2FA pages on 127.0.0.1 that check what was entered.

Every page belongs to a *session* (``?sid=…``) holding what the server expects: a code (or a
TOTP secret to check codes against), a username and a password. Code pages send what the
page itself holds — a widget's own state for the React/Vue widgets, the boxes' values for the
hand-written pages — to ``POST /check``; the server answers accepted or rejected (wrong code,
or a field that had to stay untouched was typed into: honeypot, phone, postcode…) and the
page shows it in ``#result[data-state]``. Login pages are classic form posts answered by the
server. Nothing here trusts the client: the expected code never reaches the page.

Used by tests/browser and bench/browser_fill.py.
"""

from __future__ import annotations

import contextlib
import html
import json
import secrets
import string
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
WIDGETS = HERE / "widgets"
DIST = WIDGETS / "dist"
MAX_BODY = 64 * 1024
ACME_DEMO_SID = "acme-demo"


@dataclass(frozen=True)
class PageSpec:
    """One test page: what kind of code it takes and how it is laid out."""

    name: str
    layout: str
    """``single`` or ``split`` (what ``find_code_inputs`` must report)."""
    length: int = 6
    letters: bool = False
    widget: bool = False
    """Built from a real widget library (tests/browser/widgets/src/NAME.jsx)."""

    def new_code(self) -> str:
        alphabet = (string.ascii_uppercase + string.digits) if self.letters else string.digits
        while True:
            code = "".join(secrets.choice(alphabet) for _ in range(self.length))
            if not self.letters or any(c.isalpha() for c in code):
                return code


CODE_PAGES: tuple[PageSpec, ...] = (
    # real widget libraries (npm), bundled with esbuild
    PageSpec("input-otp", "single", widget=True),
    PageSpec("chakra-pin", "split", widget=True),
    PageSpec("antd-otp", "split", widget=True),
    PageSpec("react-otp-input", "split", widget=True),
    PageSpec("vue-boxes", "split", widget=True),
    # hand-written pages
    PageSpec("single-otc", "single"),
    PageSpec("single-label-de", "single"),
    PageSpec("single-placeholder-ja", "single"),
    PageSpec("single-pattern", "single"),
    PageSpec("single-rewrite", "single"),
    PageSpec("late-render", "single"),
    PageSpec("six-auto", "split"),
    PageSpec("three-three", "split"),
    PageSpec("four-boxes", "split", length=4),
    PageSpec("eight-boxes", "split", length=8),
    PageSpec("alnum-boxes", "split", letters=True),
    PageSpec("shadow-boxes", "split"),
    PageSpec("iframe-single", "single"),
    PageSpec("honeypot", "single"),
    PageSpec("phone-next", "single"),
    PageSpec("checkout-distractors", "single"),
    PageSpec("offscreen-decoy", "single"),
    PageSpec("disabled-previous", "split"),
    PageSpec("paste-distribute", "split"),
    PageSpec("paste-only", "split"),
    PageSpec("single-paste-only", "single"),
    PageSpec("auto-submit", "split"),
    # real login software's own 2FA forms (attributes and strings from their templates)
    PageSpec("keycloak-otp", "single"),
    PageSpec("gitea-twofa", "single"),
)
CODE_PAGE = {p.name: p for p in CODE_PAGES}
LOGIN_PAGES = (
    "login-single",
    "login-two-step",
    "login-email",
    "login-de",
    "login-and-signup",
    "signup",
    "acme",
)


@dataclass
class Session:
    code: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    """Every answer the server gave: (accepted, reason)."""


class Website:
    """``with Website() as site: url = site.page_url("six-auto", site.session(code=...))``"""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Website:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def session(self, **expect: Any) -> str:
        sid = secrets.token_hex(8)
        with self._lock:
            self.sessions[sid] = Session(**expect)
        return sid

    def page_url(self, name: str, sid: str) -> str:
        prefix = "w" if name in CODE_PAGE and CODE_PAGE[name].widget else "p"
        return f"{self.origin}/{prefix}/{name}?sid={sid}"

    def answers(self, sid: str) -> list[tuple[bool, str]]:
        session = self.sessions.get(sid)
        return list(session.checks) if session else []

    def acme_demo(self) -> str:
        """Serve ``/acme/`` as the demo vault's ``Demo/Acme Cloud`` site: it takes that entry's
        username, password and TOTP codes (README examples run against it)."""
        from vaults_keepass.demo import DEMO_ENTRIES

        acme = next(e for e in DEMO_ENTRIES if e.title == "Acme Cloud")
        secret = parse_qs(urlsplit(acme.attributes["otp"]).query)["secret"][0]
        with self._lock:
            self.sessions[ACME_DEMO_SID] = Session(
                username=acme.username, password=acme.password, totp_secret=secret
            )
        return f"{self.origin}/acme/"

    # -- checks --------------------------------------------------------------------------
    def check_code(self, sid: str, fields: dict[str, Any]) -> tuple[bool, str]:
        session = self.sessions.get(sid)
        if session is None:
            return self._record(None, False, "unknown session")
        typed = {k: v for k, v in fields.items() if k != "code" and v not in ("", None)}
        if typed:
            return self._record(session, False, f"typed into {', '.join(sorted(typed))}")
        code = str(fields.get("code", ""))
        if session.totp_secret is not None:
            import pyotp

            class SiteTotp(pyotp.TOTP):
                min_secret_length_bits = 80  # the demo vault's secret is an 80-bit one

            # one window either side: resolve hands out the next code near a window's end
            ok = SiteTotp(session.totp_secret).verify(code, valid_window=1)
        else:
            ok = session.code is not None and secrets.compare_digest(code, session.code)
        return self._record(session, ok, "ok" if ok else f"wrong code ({len(code)} characters)")

    def check_login(self, sid: str, username: str | None, password: str | None) -> bool:
        session = self.sessions.get(sid)
        if session is None:
            return False
        ok = (username is None or username == session.username) and (
            password is None or password == session.password
        )
        self._record(session, ok, "ok" if ok else "wrong login")
        return ok

    def _record(self, session: Session | None, ok: bool, reason: str) -> tuple[bool, str]:
        if session is not None:
            with self._lock:
                session.checks.append((ok, reason))
        return ok, reason


def _handler(site: Website) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes | str, ctype: str = "text/html") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _query(self) -> tuple[str, dict[str, str]]:
            parts = urlsplit(self.path)
            return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}

        def _body(self) -> bytes:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            return self.rfile.read(length)

        def do_GET(self) -> None:
            path, query = self._query()
            if path.startswith("/w/") and path[3:] in CODE_PAGE:
                name = path[3:]
                page = (
                    f"<!doctype html><meta charset=utf-8><title>{name}</title>"
                    f'<div id="root"></div><script src="/dist/{name}.js"></script>'
                )
                return self._send(200, page)
            if path.startswith("/dist/") and path.endswith(".js"):
                return self._file(DIST / path[6:], "text/javascript")
            if path == "/welcome":
                signed_in = any(ok for ok, _ in site.answers(query.get("sid", "")))
                return self._send(200 if signed_in else 403, _welcome(signed_in))
            if path == "/acme/":  # the KeePass demo vault's site (see acme_demo_session)
                return self._file(PAGES / "acme.html", "text/html", ACME_DEMO_SID)
            if path == "/harness.js":
                return self._file(PAGES / "harness.js", "text/javascript")
            if path.startswith("/p/"):
                return self._file(PAGES / f"{path[3:]}.html", "text/html", query.get("sid", ""))
            return self._send(404, "not found")

        def _file(self, file: Path, ctype: str, sid: str | None = None) -> None:
            if file.resolve().parent != file.parent.resolve() or not file.is_file():
                return self._send(404, "not found")
            body = file.read_bytes()
            if sid is not None:  # pages name their session in form actions and iframe URLs
                body = body.replace(b"{sid}", html.escape(sid).encode())
            return self._send(200, body, ctype)

        def do_POST(self) -> None:
            path, query = self._query()
            sid = query.get("sid", "")
            if path == "/check":
                try:
                    fields = json.loads(self._body() or b"{}")
                except ValueError:
                    fields = {}
                ok, reason = site.check_code(sid, fields if isinstance(fields, dict) else {})
                body = json.dumps({"accepted": ok, "reason": reason})
                return self._send(200, body, "application/json")
            form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
            if path == "/login":
                # one step (username + password) or the first/second step of two
                user = next((form[k] for k in ("username", "email", "u") if k in form), None)
                password = next((form[k] for k in ("password", "pass", "p") if k in form), None)
                if password is None and user is not None and query.get("step") == "1":
                    ok = site.check_login(sid, user, None)
                    if not ok:
                        return self._send(200, _result(False, "unknown user"))
                    return self._send(200, _password_step(sid, user))
                ok = site.check_login(sid, user, password)
                if ok and query.get("then") == "2fa":
                    return self._file(PAGES / "acme-2fa.html", "text/html", sid)
                return self._send(200, _result(ok, "signed in" if ok else "wrong login"))
            if path == "/signup":
                site.check_login(sid, None, "\0")  # recorded as a rejection
                return self._send(200, _result(False, "a signup form was submitted"))
            return self._send(404, "not found")

    return Handler


def _result(ok: bool, text: str) -> str:
    state = "accepted" if ok else "rejected"
    return (
        f"<!doctype html><meta charset=utf-8><title>{state}</title>"
        f'<p id="result" data-state="{state}">{state}: {html.escape(text)}</p>'
    )


def _welcome(signed_in: bool) -> str:
    title = "Acme Cloud - signed in" if signed_in else "Acme Cloud - not signed in"
    return f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>"


def _password_step(sid: str, user: str) -> str:
    """The second page of a username-first login (as Google, Microsoft, Okta do)."""
    return f"""<!doctype html><meta charset=utf-8><title>Enter password</title>
<form method="post" action="/login?sid={sid}&step=2" style="margin:40px;font-family:sans-serif">
  <h1>Welcome</h1>
  <p>{html.escape(user)} <a href="#">Not you?</a></p>
  <input type="hidden" name="username" value="{html.escape(user)}">
  <label for="pw">Enter your password</label>
  <input id="pw" name="password" type="password" autocomplete="current-password">
  <button type="submit">Sign in</button>
  <a href="#">Forgot password?</a>
</form>"""


def widgets_built() -> bool:
    """Every widget bundle exists and is newer than its sources and the lock file."""
    stamp = DIST / ".built"
    bundles = [DIST / f"{p.name}.js" for p in CODE_PAGES if p.widget]
    if not stamp.exists() or not all(b.exists() for b in bundles):
        return False
    sources = [WIDGETS / "package-lock.json", WIDGETS / "build.mjs", *(WIDGETS / "src").iterdir()]
    return all(src.stat().st_mtime <= stamp.stat().st_mtime for src in sources)


def build_widgets() -> None:
    """``npm ci`` (when node_modules is missing or older than the lock file) and esbuild."""
    lock = WIDGETS / "package-lock.json"
    installed = WIDGETS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=WIDGETS,
            check=True,
        )
    subprocess.run(["node", "build.mjs"], cwd=WIDGETS, check=True)


@contextlib.contextmanager
def running_site() -> Iterator[Website]:
    with Website() as site:
        yield site
