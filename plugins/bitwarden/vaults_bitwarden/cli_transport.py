"""The ``bw`` CLI subprocess transport: the fallback when no ``bw serve`` URL is set.

- The session goes to ``bw`` in its environment (``BW_SESSION``), never on the command line
  where ``ps`` shows it; ``BW_PASSWORD`` likewise (``bw unlock --passwordenv``).
- Every run has ``--nointeraction``: without it a stale session makes ``bw`` print a
  password prompt and exit 0 with empty output.
- Output-changing variables a user may have set (``BW_RESPONSE``, ``BW_RAW``, ``BW_QUIET``,
  ``BW_CLEANEXIT``, ``BW_PRETTY``) are removed from the child's environment.
- Every run has a timeout; on expiry the whole process group is killed and reaped.
- A lookup returns as soon as ``bw`` has printed its JSON answer (see :mod:`.process`).
- Failures are mapped from ``bw``'s stderr messages by substring (:mod:`.messages`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from vaults.child_env import child_environment
from vaults.errors import AuthenticationFailed, VaultLocked, VaultsError, VaultUnavailable
from vaults.secret import Secret
from vaults_bitwarden.messages import error_for_message
from vaults_bitwarden.process import Answer, Run, RunTimeout, end_lingering, run
from vaults_bitwarden.settings import ENV_APPDATA, ENV_SESSION, BitwardenSettings
from vaults_bitwarden.transport import Item, in_thread, with_totp

if TYPE_CHECKING:
    from vaults.plain import SecretLike

__all__ = ["DROPPED_ENV", "CliTransport"]

log = logging.getLogger("vaults_bitwarden.cli")

DROPPED_ENV: Final = (
    "BW_SESSION",
    "BW_PASSWORD",
    "BW_CLIENTID",
    "BW_CLIENTSECRET",
    "BW_RESPONSE",
    "BW_RAW",
    "BW_QUIET",
    "BW_CLEANEXIT",
    "BW_PRETTY",
)
"""Never inherited by the child: secrets it gets explicitly or not at all, and switches
that change what ``bw`` prints."""
_UNLOCK_PASSWORD_ENV: Final = "VAULTS_BW_UNLOCK_PASSWORD"  # noqa: S105 - a variable name
_UNLOCK_TIMEOUT: Final = 120.0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class CliTransport:
    """Runs the official ``bw`` for each lookup (``bw get item``, ``bw list items``)."""

    name = "cli"

    def __init__(self, settings: BitwardenSettings) -> None:
        self.bw = settings.bw
        self.source = "bw"
        self._timeout = settings.timeout
        self._password: SecretLike | None = settings.password
        self._session: SecretLike | None = settings.session
        self._appdata = settings.appdata_dir
        self._overlay = dict(settings.child_env)
        self._settings_secrets = settings.secrets
        self._lock = threading.Lock()
        self._unlock_lock = threading.Lock()
        self._generation = 0
        self._unlock_failure: str | None = None
        self.requests = 0

    def __repr__(self) -> str:
        return (
            f"CliTransport(bw={self.bw!r}, session={'set' if self._session else 'unset'}, "
            f"unlock={'on' if self._password else 'off'})"
        )

    # -- plumbing ------------------------------------------------------------------
    def _secrets(self) -> list[str]:
        """Every secret this transport knows, as text (for redacting ``bw``'s messages)."""
        known = [*self._settings_secrets, *([self._session] if self._session else [])]
        return [s.get_secret_value() for s in known]

    def child_env(
        self, extra: Mapping[str, str] | None = None, *, session: bool = True
    ) -> dict[str, str]:
        """The environment ``bw`` runs with (public for tests): an allowlist
        (:func:`vaults.child_env.child_environment`: PATH, HOME, locale, proxy and TLS
        variables, ``BW_*`` and ``BITWARDENCLI_*``), never another vault's secrets."""
        env = child_environment(os.environ, prefixes=("BW_", "BITWARDENCLI_"), drop=DROPPED_ENV)
        env.update(self._overlay)
        if self._appdata:
            env[ENV_APPDATA] = self._appdata
        if session and self._session is not None:
            env[ENV_SESSION] = self._session.get_secret_value()
        env["BW_NOINTERACTION"] = "true"
        env["NO_COLOR"] = "1"
        env.pop("FORCE_COLOR", None)
        if extra:
            env.update(extra)
        return env

    def _exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        timeout: float,
        answer: Answer = "exit",
        stdin: bytes | None = None,
    ) -> Run:
        label = f"`bw {' '.join(a for a in args if not a.startswith('--search'))}`"
        with self._lock:
            self.requests += 1
        try:
            result = run(
                [self.bw, *args, "--nointeraction"],
                env=env,
                timeout=timeout,
                answer=answer,
                stdin=stdin,
            )
        except FileNotFoundError:
            raise VaultUnavailable(
                f"the Bitwarden CLI was not found ({self.bw!r}); install @bitwarden/cli or "
                "set VAULTS_BITWARDEN_BW to its path"
            ) from None
        except RunTimeout:
            log.debug("%s timed out after %.1f s (killed)", label, timeout)
            raise VaultUnavailable(
                f"{label} did not finish within {timeout:g} s and was killed "
                "(set VAULTS_BITWARDEN_TIMEOUT to allow longer)"
            ) from None
        except OSError as exc:
            raise VaultUnavailable(
                f"the Bitwarden CLI ({self.bw!r}) could not be started: {exc.strerror or exc}"
            ) from None
        log.debug(
            "%s -> %s in %.0f ms",
            label,
            "answered" if result.answered else f"exit {result.code}",
            result.seconds * 1e3,
        )
        return result

    def _failure(self, code: int, err: str, what: str) -> VaultsError:
        text = err.strip()
        if not text:
            if code == 0:
                return VaultLocked(
                    "bw printed nothing (a stale BW_SESSION?); unlock the vault (`bw unlock`) "
                    "and set BW_SESSION"
                )
            if code < 0:
                return VaultUnavailable(f"bw was killed by signal {_signal_name(-code)} for {what}")
            return VaultUnavailable(f"bw exited with status {code} for {what} and said nothing")
        return error_for_message(text, source=self.source, what=what, secrets=self._secrets())

    def _run_json(self, args: Sequence[str], what: str, stdin: bytes | None = None) -> Any:
        generation = self._generation
        for attempt in range(2):
            result = self._exec(
                args, env=self.child_env(), timeout=self._timeout, answer="json", stdin=stdin
            )
            if result.answered:
                return result.data
            if result.code == 0 and result.out.strip():
                try:
                    return json.loads(result.out)
                except (ValueError, RecursionError):  # nested too deep
                    raise VaultUnavailable(
                        f"bw printed something that is not JSON for {what}"
                    ) from None
            error = self._failure(result.code or 0, result.err, what)
            if attempt == 0 and isinstance(error, VaultLocked) and self._password is not None:
                self._unlock(generation)
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def _unlock(self, generation: int) -> None:
        password = self._password
        if password is None:
            return
        with self._unlock_lock:
            if self._generation != generation:
                return
            if self._unlock_failure is not None:
                raise AuthenticationFailed(self._unlock_failure)
            log.debug("vault locked: unlocking with BW_PASSWORD")
            result = self._exec(
                ["unlock", "--passwordenv", _UNLOCK_PASSWORD_ENV, "--raw"],
                env=self.child_env(
                    {_UNLOCK_PASSWORD_ENV: password.get_secret_value()}, session=False
                ),
                timeout=max(self._timeout, _UNLOCK_TIMEOUT),
            )
            session = result.out.strip()
            if result.code != 0 or not session or "\n" in session:
                error = self._failure(result.code or 0, result.err, "unlock")
                if not isinstance(error, AuthenticationFailed):
                    error = AuthenticationFailed(
                        f"bw could not unlock the vault with BW_PASSWORD ({error.message})"
                    )
                self._unlock_failure = error.message
                raise error
            self._session = Secret(session)
            self._generation += 1

    # -- operations ----------------------------------------------------------------
    def get_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        """``bw get item <id>`` (one run; ``listed`` is moot here)."""
        data = self._run_json(["get", "item", item_id], what)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise VaultUnavailable(f"bw printed no item for {what}")
        return data

    def write_totp(self, item_id: str, value: str | None, what: str) -> None:
        """``bw sync``, ``bw get item <id>``, then ``bw edit item <id>`` with the whole item
        (only ``login.totp`` changed), base64-encoded on stdin: never in argv, where ``ps``
        shows it."""
        self._run_plain(["sync"], "the sync before a write")
        current = self.get_item(item_id, what)
        encoded = base64.b64encode(json.dumps(with_totp(current, value, what)).encode("utf-8"))
        edited = self._run_json(["edit", "item", item_id], what, stdin=encoded)
        if not isinstance(edited, dict) or str(edited.get("id", "")).lower() != item_id.lower():
            raise VaultUnavailable(f"bw edit printed no item for {what}")

    def _run_plain(self, args: Sequence[str], what: str) -> None:
        generation = self._generation
        for attempt in range(2):
            result = self._exec(args, env=self.child_env(), timeout=self._timeout)
            if result.code == 0:
                return
            error = self._failure(result.code or 0, result.err, what)
            if attempt == 0 and isinstance(error, VaultLocked) and self._password is not None:
                self._unlock(generation)
                continue
            raise error

    def _list(self, args: Sequence[str], what: str) -> list[Item]:
        data = self._run_json(args, what)
        if not isinstance(data, list):
            raise VaultUnavailable(f"bw printed no list for {what}")
        return [entry for entry in data if isinstance(entry, dict)]

    def list_items(self, search: str | None, what: str) -> list[Item]:
        # ``--search=TERM`` keeps a name starting with '-' from being read as an option
        return self._list(["list", "items", *([f"--search={search}"] if search else [])], what)

    def reveal(self, item: Item) -> Item:
        """Listed items are whole already."""
        return item

    async def areveal(self, item: Item) -> Item:
        return item

    def list_organizations(self) -> list[Item]:
        return self._list(["list", "organizations"], "organizations")

    def list_collections(self) -> list[Item]:
        return self._list(["list", "collections"], "collections")

    def status(self) -> str:
        """``unlocked``, ``locked`` or ``unauthenticated`` (``bw status``)."""
        result = self._exec(["status"], env=self.child_env(), timeout=self._timeout, answer="json")
        data = result.data if result.answered else None
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, str):
            raise self._failure(result.code or 0, result.err, "status")
        return status

    def close(self) -> None:
        """End ``bw`` processes that answered and are still idling (see :mod:`.process`)."""
        end_lingering()

    # -- async: each run in a worker thread (the run itself enforces the timeout) ---------
    async def aget_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        return await in_thread(partial(self.get_item, item_id, what))

    async def alist_items(self, search: str | None, what: str) -> list[Item]:
        return await in_thread(partial(self.list_items, search, what))

    async def alist_organizations(self) -> list[Item]:
        return await in_thread(self.list_organizations)

    async def alist_collections(self) -> list[Item]:
        return await in_thread(self.list_collections)

    async def astatus(self) -> str:
        return await in_thread(self.status)

    async def aclose(self) -> None:
        self.close()
