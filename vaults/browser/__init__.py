"""Type logins and one-time codes into pages with Playwright (``pip install 'vaults[browser]'``).

>>> cred = vaults.resolve("keepass://Work/GitHub")        # doctest: +SKIP
>>> fill_login(page, cred, submit=True)                   # doctest: +SKIP
>>> fill_code(page, cred, submit=True)                    # doctest: +SKIP

* :func:`find_code_inputs` finds the code entry on a page: one field, or a group of boxes
  (split layouts), in the main frame, same-origin iframes and open shadow roots. Hidden,
  disabled, off-screen and honeypot inputs, phone, postcode, card and CAPTCHA fields are
  ignored. The words that name a field live in ``cues.json`` (one list per concern, many
  languages); ``scan.js`` is the small engine that reads the page with them.
* :func:`fill_code` types the code with real keyboard events, one character per box for
  split layouts, reads the boxes back and, if the page did not keep the code, retries once
  by the other method (a paste for boxes, ``fill`` for one field). A lease is taken once.
* :func:`fill_login` fills username/e-mail and the current password; never a signup or
  password-change form. Two-step pages: call it once per step.

Each has an ``a``-prefixed twin for Playwright's async API (``await afill_code(page, …)``).
Nothing secret is logged; passwords go in with ``fill`` (no per-key events).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from vaults.browser._steps import Plan, call, run_async, run_sync
from vaults.errors import CodeFieldNotFound, InvalidInput, LoginFieldNotFound, NoCode
from vaults.models import Credential, TotpCode
from vaults.redact import url_without_secrets
from vaults.totp import CodeLease

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("vaults.browser needs Playwright: pip install 'vaults[browser]'") from exc

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle as AsyncElementHandle
    from playwright.async_api import Frame as AsyncFrame
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import ElementHandle, Frame, Page

__all__ = [
    "CodeInputs",
    "LoginFilled",
    "afill_code",
    "afill_login",
    "afind_code_inputs",
    "fill_code",
    "fill_login",
    "find_code_inputs",
]

log = logging.getLogger(__name__)

H = TypeVar("H")
CodeLike = str | CodeLease | TotpCode | Credential


def _script(name: str) -> str:
    """A page script as sent: without its comment lines and indentation (a quarter less to
    send and parse on every call; the scripts hold no multi-line strings)."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")).rstrip(";")


_CUES: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("cues.json").read_text(encoding="utf-8")
)


def _extractor_code_words() -> list[str]:
    """The code extractor's ``code_words`` (vaults/codes/rules/*.json, one file per
    language) as JavaScript regular expressions: ``\\w`` made Unicode-aware, whole words
    where the pattern is in a spaced script. Patterns that name a password are left out (a
    one-time *password* is a code in a message, but a password field is not a code field)."""
    rules = resources.files("vaults.codes").joinpath("rules")
    if not rules.is_dir():
        return []
    passwords = _CUES["words"]["password"]
    spaced = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
    found: dict[str, None] = {}
    for entry in sorted(rules.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for pattern in data.get("code_words", []) if isinstance(data, dict) else []:
            try:
                compiled = re.compile(pattern, re.IGNORECASE)
            except re.error:
                continue
            if any(compiled.fullmatch(word) for word in passwords):
                continue
            js = pattern.replace("\\w", "[\\p{L}\\p{N}_]")
            if spaced.search(re.sub(r"\\.", "", pattern)):  # letters, not escapes
                js = f"(?<![\\p{{L}}\\p{{N}}])(?:{js})(?![\\p{{L}}])"
            found[js] = None
    return list(found)


_CUES["rules"] = _extractor_code_words()
_POLL_MS = 100
_MAX_CODE = 32


def _with(script: str, **parts: str) -> str:
    """``script`` with each ``(NAME)`` replaced by ``(parts[NAME])``: the scripts and the cues
    travel inside the script's text, parsed by the page, rather than as an argument that
    Playwright serialises value by value on every call (≈ 10-20 ms for the cues)."""
    missing = [name for name in parts if f"({name})" not in script]
    if missing:
        raise RuntimeError(f"vaults.browser: no ({missing[0]}) in a page script")
    pattern = re.compile(r"\((" + "|".join(parts) + r")\)")
    return pattern.sub(lambda m: f"(\n{parts[m[1]]}\n)", script)


# scan.js with the cues (and the extractor's rules) built in: called with {mode, length}
_SCAN_JS = _with(
    "((scan, cues) => (args) => scan({ ...args, cues }))((SCAN), (CUES))",
    SCAN=_script("scan.js"),
    CUES=json.dumps({k: v for k, v in _CUES.items() if k != "_about"}, separators=(",", ":")),
)
_SUBMIT_JS = _script("submit.js")
_START = _script("start.js")
_FIND_JS = _with(_script("find.js"), SCAN=_SCAN_JS, START=_START)
_FINISH_JS = _with(
    _script("finish.js"),
    SUBMIT=_SUBMIT_JS,
    WORDS=json.dumps(_CUES["words"]["submit"]),
    POINT=_script("point.js"),
)
# fill_code's other calls act on the boxes find.js kept in the frame; gone → an error
_BOXES = """const boxes = window[Symbol.for("vaults.browser.boxes")] || [];
  if (!boxes.length) throw new Error("the code entry is gone");"""
_START_JS = _with(f"() => {{\n  {_BOXES}\n  (START)(boxes[0], boxes);\n}}", START=_START)
_FOCUS_JS = f"""(i) => {{
  {_BOXES}
  const e = boxes[i];
  if (!e || !e.isConnected || e.disabled || e.readOnly) throw new Error("not editable");
  e.focus();
  try {{ e.select(); }} catch (_) {{}}
}}"""
_FOCUS = "e => { e.focus(); try { e.select(); } catch (_) {} }"
_PASTE_JS = f"""(text) => {{
  {_BOXES}
  const e = boxes[0];
  e.focus();
  const data = new DataTransfer();
  data.setData("text/plain", text);
  const init = {{ clipboardData: data, bubbles: true, cancelable: true }};
  const event = new ClipboardEvent("paste", init);
  e.dispatchEvent(event);
  return event.defaultPrevented;
}}"""
# the boxes as element handles, once the code is in (one field: itself); the frame forgets them
_HANDLES_JS = """() => {
  const key = Symbol.for("vaults.browser.boxes");
  const boxes = window[key] || [];
  delete window[key];
  return boxes.length === 1 ? boxes[0] : boxes;
}"""


@dataclass(frozen=True)
class CodeInputs(Generic[H]):
    """The code entry found on a page: one field (``"single"``) or a group of boxes."""

    kind: Literal["single", "split"]
    boxes: tuple[H, ...]
    """The inputs in visual order (Playwright element handles). From :func:`fill_code`: empty
    when the page had already moved on (navigated) by the time it returned."""
    accepts_letters: bool
    """False when the inputs ask for digits (``inputmode=numeric``, ``type=tel``, a pattern)."""
    maxlength: int | None = None
    frame_url: str = ""
    """Where it is, without query or fragment."""
    method: Literal["keys", "paste", "fill"] | None = None
    """How :func:`fill_code` got the code in (``None`` from :func:`find_code_inputs`)."""
    count: int = -1
    """How many inputs: 1 for ``"single"``, the boxes for ``"split"`` (``len(boxes)`` when
    not given)."""

    def __post_init__(self) -> None:
        if self.count < 0:
            object.__setattr__(self, "count", len(self.boxes))

    def __repr__(self) -> str:
        return (
            f"CodeInputs(kind={self.kind!r}, count={self.count}, "
            f"accepts_letters={self.accepts_letters}, frame_url={self.frame_url!r}, "
            f"method={self.method!r})"
        )


@dataclass(frozen=True)
class LoginFilled(Generic[H]):
    """What :func:`fill_login` filled: ``step`` is ``"username"`` (the first page of a
    two-step login), ``"password"`` (its second page) or ``"both"``."""

    step: Literal["username", "password", "both"]
    username: H | None
    password: H | None
    submitted: bool = False

    def __repr__(self) -> str:
        return f"LoginFilled(step={self.step!r}, submitted={self.submitted})"


# -- inputs -------------------------------------------------------------------------------
def _code_text(code: CodeLike) -> str:
    """The code as typed; a lease or code is read once, here."""
    if isinstance(code, Credential):
        if code.totp is None:
            raise NoCode(f"{code.name!r} ({code.vault}) has no one-time code to type")
        text = code.totp.lease().code
    elif isinstance(code, TotpCode):
        text = code.lease().code
    elif isinstance(code, CodeLease):
        text = code.code
    elif isinstance(code, str):
        text = code
    else:
        raise InvalidInput(
            "fill_code takes a code, a CodeLease, a TotpCode or a Credential, "
            f"not {type(code).__name__}"
        )
    text = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    if not text or len(text) > _MAX_CODE or not text.isalnum() or not text.isascii():
        raise InvalidInput(f"a one-time code is 1-{_MAX_CODE} letters or digits")
    return text


def _same(typed: Sequence[str], code: str) -> bool:
    joined = "".join(typed)
    return "".join(ch for ch in joined if not ch.isspace() and ch != "-").upper() == code.upper()


def _shown(url: str) -> str:
    try:
        return url_without_secrets(url)
    except ValueError:
        return "(a page)"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("about", "data", "blob", ""):
        return None  # inherits its parent's origin
    return f"{parts.scheme}://{parts.netloc}"


def _frames(target: Any) -> list[Any]:
    """The frame (a page's main frame) and its same-origin descendants, in document order."""
    root = target.main_frame if hasattr(target, "main_frame") else target
    origin = _origin(root.url)
    frames = [root]
    pending = list(root.child_frames)
    while pending:
        frame = pending.pop(0)
        if frame.is_detached():
            continue
        child = _origin(frame.url)
        if child is None or child == origin:
            frames.append(frame)
            pending[:0] = frame.child_frames
    return frames


def _keyboard(target: Any) -> Any:
    return target.keyboard if hasattr(target, "keyboard") else target.page.keyboard


def _mouse(target: Any) -> Any:
    return target.mouse if hasattr(target, "mouse") else target.page.mouse


Scan = Callable[[Any, bool], Plan[tuple[dict[str, Any], list[Any]]]]
"""Scans one frame (and whether it is the last one to scan, with nothing found before it)."""


def _scanner(mode: str, length: int | None) -> Scan:
    """scan.js in ``mode``: the report, and the elements as handles."""

    def scan(frame: Any, last: bool) -> Plan[tuple[dict[str, Any], list[Any]]]:
        handle = yield call(frame, "evaluate_handle", _SCAN_JS, {"mode": mode, "length": length})
        props = yield call(handle, "get_properties")
        report = yield call(props["0"], "json_value")
        return report, [props[str(i)].as_element() for i in range(1, len(props))]

    return scan


def _code_scanner(length: int) -> Scan:
    """find.js: the report only (the boxes stay in the frame); typing is started at once in
    the last frame searched when no other frame had a code entry (it is the one chosen)."""

    def scan(frame: Any, last: bool) -> Plan[tuple[dict[str, Any], list[Any]]]:
        args = {"mode": "code", "length": length, "start": last}
        report = yield call(frame, "evaluate", _FIND_JS, args)
        return report, []

    return scan


def _look(
    target: Any, scan: Scan, timeout: float
) -> Plan[tuple[dict[str, Any], list[Any], Any, list[str]]]:
    """Scan every frame until something is found or ``timeout`` seconds passed."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        best: tuple[dict[str, Any], list[Any], Any] | None = None
        seen: list[str] = []
        frames = _frames(target)
        for i, frame in enumerate(frames):
            try:
                last = i == len(frames) - 1 and best is None
                report, elements = yield from scan(frame, last)
            except PlaywrightError:  # navigating, or the frame went away: look again
                continue
            seen.extend(report["seen"])
            found = report["found"]
            if found and (best is None or found.get("score", 0) > best[0].get("score", 0)):
                best = (found, elements, frame)
        if best is not None:
            return best[0], best[1], best[2], seen
        if time.monotonic() >= deadline:
            return {}, [], None, seen
        yield call(_frames(target)[0], "wait_for_timeout", _POLL_MS)


def _nothing(what: str, target: Any, seen: list[str], timeout: float) -> str:
    where = _shown(_frames(target)[0].url)
    waited = f" within {timeout:g} s" if timeout > 0 else ""
    inputs = f"; inputs seen: {', '.join(dict.fromkeys(seen))}" if seen else "; no inputs on it"
    return f"no {what} on {where}{waited}{inputs}"


def _find(target: Any, scan: Scan, timeout: float) -> Plan[tuple[CodeInputs[Any], Any, bool]]:
    """The code entry, its frame, and whether the scan started typing (find.js)."""
    found, elements, frame, seen = yield from _look(target, scan, timeout)
    if not found:
        raise CodeFieldNotFound(_nothing("one-time code field", target, seen, timeout))
    inputs: CodeInputs[Any] = CodeInputs(
        kind=found["kind"],
        boxes=tuple(elements),
        accepts_letters=bool(found["letters"]),
        maxlength=found.get("maxlength"),
        frame_url=_shown(frame.url),
        count=found["count"],
    )
    log.debug("code entry: %r", inputs)
    return inputs, frame, bool(found.get("started"))


def _find_inputs(target: Any, length: int | None, timeout: float) -> Plan[CodeInputs[Any]]:
    inputs, _, _ = yield from _find(target, _scanner("code", length), timeout)
    return inputs


def _handles(frame: Any) -> Plan[tuple[Any, ...]]:
    """The boxes find.js kept in ``frame``, as element handles (none once it navigated)."""
    try:
        handle = yield call(frame, "evaluate_handle", _HANDLES_JS)
        if handle.as_element() is not None:
            return (handle.as_element(),)
        props = yield call(handle, "get_properties")
    except PlaywrightError:
        return ()
    return tuple(props[str(i)].as_element() for i in range(len(props)))


# -- typing -------------------------------------------------------------------------------
# After the scan, fill_code acts on the boxes find.js kept in the frame: no element handle
# (each one makes Playwright inject its own script into the page, tens of milliseconds on the
# renderer) until the code is in and submitted.
def _type_keys(
    inputs: CodeInputs[Any], code: str, frame: Any, keyboard: Any, started: bool
) -> Plan[None]:
    """Real key events, in one go: start.js (run by find.js already, where it could) focuses
    the first box and, where the page does not move on by itself, the next box after each
    key."""
    if not started:
        yield call(frame, "evaluate", _START_JS)
    yield call(keyboard, "type", code if inputs.kind == "single" else code[: inputs.count])


def _type_other(
    inputs: CodeInputs[Any], code: str, frame: Any, keyboard: Any
) -> Plan[Literal["paste", "fill"]]:
    """A paste into the first box (split layouts), else what Playwright's ``fill`` does, box
    by box: focus, select what it holds, insert the text."""
    if inputs.kind == "split":
        handled = yield call(frame, "evaluate", _PASTE_JS, code)
        if handled:
            return "paste"
        for i, char in enumerate(code[: inputs.count]):
            yield call(frame, "evaluate", _FOCUS_JS, i)
            yield call(keyboard, "insert_text", char)
        return "fill"
    yield call(frame, "evaluate", _FOCUS_JS, 0)
    yield call(keyboard, "insert_text", code)
    return "fill"


def _kept(frame: Any, code: str, submit: bool) -> Plan[tuple[bool | None, dict[str, Any]]]:
    """(True, finish.js's answer) when the boxes hold the code (finish.js reads them again
    after the page's next frame while they are short of it), (False, …) when not, (None, …)
    when the page moved on (it submitted itself)."""
    try:
        got = yield call(frame, "evaluate", _FINISH_JS, {"length": len(code), "submit": submit})
    except PlaywrightError:
        return None, {}
    if got is None:  # another document: the page navigated
        return None, {}
    return _same(got["values"], code), got


def _submit_form(last: Any, keyboard: Any, timeout: float) -> Plan[bool]:
    """Click the submit button submit.js finds for ``last``, else press Enter in ``last``.
    False if the page had already moved on."""
    try:
        handle = yield call(last, "evaluate_handle", _SUBMIT_JS, _CUES["words"]["submit"])
        button = handle.as_element()
        if button is not None:
            yield call(button, "click", timeout=max(timeout, 1.0) * 1000)
        else:
            yield call(last, "evaluate", _FOCUS)
            yield call(keyboard, "press", "Enter")
    except PlaywrightError:
        return False
    return True


def _submit_code(
    got: dict[str, Any], frame: Any, target: Any, keyboard: Any, timeout: float
) -> Plan[tuple[Any, ...] | None]:
    """Submit as finish.js said: Enter (it focused the last box), a mouse click on the
    button's centre, or — where finish.js could not tell that a click there hits the button —
    Playwright's click on it (then the boxes' handles are returned); nothing when the page
    took the code by itself (a second submission could spend the code twice)."""
    how = got.get("how")
    if how == "taken":
        log.debug("the page submitted the code by itself")
        return None
    try:
        if how == "button" and got.get("point"):
            point = got["point"]
            yield call(_mouse(target), "click", point["x"], point["y"])
        elif how != "button":
            yield call(keyboard, "press", "Enter")
    except PlaywrightError:
        return None
    if how != "button" or got.get("point"):
        return None
    boxes = yield from _handles(frame)
    if boxes:
        yield from _submit_form(boxes[-1], keyboard, timeout)
    return boxes


def _fill_code(target: Any, code: CodeLike, submit: bool, timeout: float) -> Plan[CodeInputs[Any]]:
    text = _code_text(code)
    inputs, frame, started = yield from _find(target, _code_scanner(len(text)), timeout)
    if inputs.kind == "split" and inputs.count != len(text):
        raise CodeFieldNotFound(
            f"the code entry on {inputs.frame_url} has {inputs.count} boxes; "
            f"the code has {len(text)} characters"
        )
    keyboard = _keyboard(target)
    method: Literal["keys", "paste", "fill"] = "keys"
    # Playwright's errors quote the call log (the text typed): never raised as they are
    changed = f"the code entry on {inputs.frame_url} changed while the code was typed"
    try:
        yield from _type_keys(inputs, text, frame, keyboard, started)
    except PlaywrightError:
        raise CodeFieldNotFound(changed) from None
    kept, got = yield from _kept(frame, text, submit)
    if kept is False:
        log.debug("the page did not keep the typed code; trying another way")
        try:
            method = yield from _type_other(inputs, text, frame, keyboard)
        except PlaywrightError:
            raise CodeFieldNotFound(changed) from None
        kept, got = yield from _kept(frame, text, submit)
        if kept is False:
            raise CodeFieldNotFound(
                f"the code entry on {inputs.frame_url} ({inputs.kind}, {inputs.count} "
                "inputs) did not keep the code, typed or pasted"
            )
    log.debug("code typed (%s)%s", method, "; the page moved on" if kept is None else "")
    boxes = None
    if submit and kept:
        boxes = yield from _submit_code(got, frame, target, keyboard, timeout)
    if boxes is None:
        boxes = yield from _handles(frame)
    return replace(inputs, boxes=boxes, method=method)


# -- login --------------------------------------------------------------------------------
def _fill_login(
    target: Any, credential: Credential, submit: bool, timeout: float
) -> Plan[LoginFilled[Any]]:
    found, elements, frame, seen = yield from _look(target, _scanner("login", None), timeout)
    if not found:
        raise LoginFieldNotFound(_nothing("login form", target, seen, timeout))
    user = elements[0] if found["username"] else None
    password = elements[-1] if found["password"] else None
    where = _shown(frame.url)
    if user is not None and not credential.username:
        raise LoginFieldNotFound(f"{credential.name!r} has no username for the form on {where}")
    if password is not None and credential.password is None:
        raise LoginFieldNotFound(f"{credential.name!r} has no password for the form on {where}")
    try:  # Playwright's errors quote the call log (the value filled): never raised as they are
        if user is not None:
            yield call(user, "fill", credential.username)
        if password is not None and credential.password is not None:
            yield call(password, "fill", credential.password.get_secret_value())
    except PlaywrightError:
        raise LoginFieldNotFound(f"the login form on {where} changed while it was filled") from None
    step: Literal["username", "password", "both"] = (
        "password" if user is None else "username" if password is None else "both"
    )
    log.debug("login form on %s: filled %s", where, step)
    submitted = False
    if submit:
        last = password if password is not None else user
        submitted = yield from _submit_form(last, _keyboard(target), timeout)
        if submitted:
            yield from _moved_on(last, target, min(timeout, 5.0))
    return LoginFilled(step=step, username=user, password=password, submitted=submitted)


def _moved_on(element: Any, target: Any, timeout: float) -> Plan[None]:
    """Wait until the submitted field is gone (navigation, next step) or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            visible = yield call(element, "is_visible")
        except PlaywrightError:
            return
        if not visible:
            return
        try:
            yield call(_frames(target)[0], "wait_for_timeout", 50)
        except PlaywrightError:
            return


# -- public API: sync ---------------------------------------------------------------------
def find_code_inputs(
    page: Page | Frame, *, length: int | None = None, timeout: float = 0.0
) -> CodeInputs[ElementHandle]:
    """The code entry on ``page`` (or in ``frame``); waits up to ``timeout`` seconds for
    one to appear. ``length``: the code's length, to prefer that many boxes.

    Raises :class:`~vaults.errors.CodeFieldNotFound` naming the inputs it saw."""
    return run_sync(_find_inputs(page, length, timeout))


def fill_code(
    page: Page | Frame, code: CodeLike, *, submit: bool = False, timeout: float = 10.0
) -> CodeInputs[ElementHandle]:
    """Type ``code`` into the page's code entry (waiting up to ``timeout`` s for it).

    ``code``: a string, a :class:`~vaults.totp.CodeLease`, a :class:`~vaults.TotpCode` or a
    :class:`~vaults.Credential` (its ``totp``). ``submit=True`` clicks the form's submit
    button, or presses Enter. Returns what was filled and how (``.method``)."""
    return run_sync(_fill_code(page, code, submit, timeout))


def fill_login(
    page: Page | Frame, credential: Credential, *, submit: bool = False, timeout: float = 10.0
) -> LoginFilled[ElementHandle]:
    """Fill the login form's username/e-mail and current password, whichever the page
    shows (two-step logins: one call per step; ``.step`` says which). With ``submit=True``
    it submits and waits (up to 5 s) for the page to move on."""
    return run_sync(_fill_login(page, credential, submit, timeout))


# -- public API: async --------------------------------------------------------------------
async def afind_code_inputs(
    page: AsyncPage | AsyncFrame, *, length: int | None = None, timeout: float = 0.0
) -> CodeInputs[AsyncElementHandle]:
    """:func:`find_code_inputs` for Playwright's async API."""
    return await run_async(_find_inputs(page, length, timeout))


async def afill_code(
    page: AsyncPage | AsyncFrame, code: CodeLike, *, submit: bool = False, timeout: float = 10.0
) -> CodeInputs[AsyncElementHandle]:
    """:func:`fill_code` for Playwright's async API."""
    return await run_async(_fill_code(page, code, submit, timeout))


async def afill_login(
    page: AsyncPage | AsyncFrame,
    credential: Credential,
    *,
    submit: bool = False,
    timeout: float = 10.0,
) -> LoginFilled[AsyncElementHandle]:
    """:func:`fill_login` for Playwright's async API."""
    return await run_async(_fill_login(page, credential, submit, timeout))
