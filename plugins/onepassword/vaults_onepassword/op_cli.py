"""The 1Password CLI transport: ``op item get ITEM --vault V --format json``.

Used when Connect is not configured. ``op`` authenticates with ``OP_SERVICE_ACCOUNT_TOKEN`` or
the user's desktop-app / ``op signin`` session; the token travels in the environment only,
never on the command line. Each call is bounded by a timeout; a hung ``op`` (and anything it
spawned) is killed. Failures are read from ``op``'s ``[ERROR] <date> <time> <message>`` line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread

from vaults.child_env import child_environment
from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ItemNotFound,
    ReadOnlyVault,
    VaultsError,
    VaultUnavailable,
)
from vaults_onepassword.items import OnePasswordItem, parse_item
from vaults_onepassword.references import ItemKey

__all__ = ["OpCliTransport", "op_error"]

_ERROR_PREFIX = re.compile(r"^\[ERROR\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", re.MULTILINE)
_CANDIDATE_ID = re.compile(r":\s*([a-z0-9]{26})\s*$", re.MULTILINE)
_AUTH_HINTS = (
    "not currently signed in",
    "session expired",
    "no active session",
    "not signed in",
    "sign in",
    "signin",
    "decodesacredentials",
    "service account token",
    "(401)",
    "unauthorized",
    "authentication",
    "authorization prompt",
)


def _message(stderr: str) -> str:
    return _ERROR_PREFIX.sub("", stderr).strip()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def op_error(
    stderr: str, returncode: int, key: ItemKey, secrets: Sequence[str] = ()
) -> VaultsError:
    """The typed error for a failed ``op item get`` (never echoing a token)."""
    message = _message(stderr)
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    lowered = message.lower()
    if "isn't an item" in lowered:
        return ItemNotFound(f"no 1Password item '{key.item}' in vault '{key.vault}'")
    if "isn't a vault" in lowered:
        return ItemNotFound(
            f"no 1Password vault '{key.vault}' is visible to this account or service account"
        )
    if "more than one item matches" in lowered:
        ids = _CANDIDATE_ID.findall(message)
        return AmbiguousItem(
            f"{len(ids) or 'several'} 1Password items in vault '{key.vault}' match "
            f"'{key.item}'; use the item id",
            ids,
        )
    if message:
        first_line = message.splitlines()[0][:200]
    elif returncode < 0:
        first_line = f"killed by signal {_signal_name(-returncode)}"
    else:
        first_line = f"exit status {returncode}"
    if any(hint in lowered for hint in _AUTH_HINTS):
        return AuthenticationFailed(
            "the 1Password CLI is not signed in or its credentials were refused "
            f"(set OP_SERVICE_ACCOUNT_TOKEN or run 'op signin'): {first_line}"
        )
    return VaultUnavailable(f"the 1Password CLI failed (exit {returncode}): {first_line}")


class OpCliTransport:
    """Fetch items by running the ``op`` CLI."""

    name = "op"

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        executable: str = "op",
        timeout: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        # an allowlist: PATH, HOME, locale, proxy and TLS variables and op's own OP_*
        self.env = child_environment(env, prefixes=("OP_",))
        self.executable = executable
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._resolved: str | None = None

    def _secrets(self) -> list[str]:
        return [
            v
            for k, v in self.env.items()
            if v and (k == "OP_SERVICE_ACCOUNT_TOKEN" or k.startswith("OP_SESSION_"))
        ]

    def resolve_executable(self) -> str:
        if self._resolved is None:
            if os.sep in self.executable or (os.altsep and os.altsep in self.executable):
                found = self.executable if os.access(self.executable, os.X_OK) else None
            else:
                found = shutil.which(self.executable, path=self.env.get("PATH"))
            if found is None:
                raise VaultUnavailable(
                    f"the 1Password CLI '{self.executable}' was not found; install it or set "
                    "VAULTS_ONEPASSWORD_OP (or configure Connect: OP_CONNECT_HOST/OP_CONNECT_TOKEN)"
                )
            self._resolved = found
        return self._resolved

    def command(self, key: ItemKey) -> list[str]:
        vault = (
            ["--vault", key.vault] if not key.vault.startswith("-") else [f"--vault={key.vault}"]
        )
        item = ["--", key.item] if key.item.startswith("-") else [key.item]
        return [self.resolve_executable(), "item", "get", *vault, "--format", "json", *item]

    def _run(self, key: ItemKey) -> tuple[int, str, str]:
        return self._exec(self.command(key))

    def _exec(self, argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
        posix = os.name == "posix"
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=posix,
        )
        try:
            stdout, stderr = process.communicate(input=stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            if posix:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.kill()
            try:
                process.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                # a grandchild that left the process group still holds the pipes: stop reading
                for pipe in (process.stdout, process.stderr):
                    if pipe is not None:
                        pipe.close()
                process.wait()
            raise VaultUnavailable(
                f"the 1Password CLI did not answer within {self.timeout:g} s and was stopped"
            ) from None
        return process.returncode, stdout, stderr

    def get_item(self, key: ItemKey) -> OnePasswordItem:
        try:
            returncode, stdout, stderr = self._run(key)
        except OSError as exc:
            raise VaultUnavailable(
                f"the 1Password CLI could not be started ({type(exc).__name__})"
            ) from None
        if returncode != 0:
            raise op_error(stderr, returncode, key, self._secrets())
        try:
            data: Any = json.loads(stdout)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise VaultUnavailable("the 1Password CLI printed something that is not JSON") from None
        item = parse_item(data, source="the 1Password CLI")
        if item.archived:
            raise ItemNotFound(f"1Password item '{key.item}' in vault '{key.vault}' is archived")
        return item

    def write_otp(self, vault_id: str, item_id: str, value: str | None, what: str) -> None:
        """``op item get`` the whole item, then ``op item edit ITEM --vault V --template
        /dev/stdin`` with the item JSON (only the one-time password changed) on stdin: the
        secret is never an argument (``ps``, shell history) and never written to a file."""
        from vaults_onepassword.otp_write import with_otp

        if os.name != "posix":
            raise ReadOnlyVault(
                "storing secrets over the 1Password CLI needs /dev/stdin (POSIX); use Connect"
            )
        key = ItemKey(vault_id, item_id)
        try:
            returncode, stdout, stderr = self._run(key)
            if returncode != 0:
                raise op_error(stderr, returncode, key, self._secrets())
            try:
                current: Any = json.loads(stdout)
            except (ValueError, RecursionError):
                raise VaultUnavailable(
                    "the 1Password CLI printed something that is not JSON"
                ) from None
            if not isinstance(current, dict):
                raise VaultUnavailable("the 1Password CLI printed an item that is not an object")
            template = json.dumps(with_otp(current, value, what))
            edit = [
                self.resolve_executable(),
                "item",
                "edit",
                *(["--", item_id] if item_id.startswith("-") else [item_id]),
                f"--vault={vault_id}",
                "--template=/dev/stdin",
                "--format=json",
            ]
            returncode, _, stderr = self._exec(edit, stdin=template)
        except OSError as exc:
            raise VaultUnavailable(
                f"the 1Password CLI could not be started ({type(exc).__name__})"
            ) from None
        if returncode != 0:
            raise op_error(stderr, returncode, key, self._secrets())

    def _get(self, key: ItemKey) -> OnePasswordItem | VaultsError:
        try:
            return self.get_item(key)
        except VaultsError as exc:
            return exc

    def fetch_items(self, keys: Sequence[ItemKey]) -> list[OnePasswordItem | VaultsError]:
        if len(keys) <= 1:
            return [self._get(key) for key in keys]
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(keys)), thread_name_prefix="vaults-op-cli"
        ) as pool:
            return list(pool.map(self._get, keys))

    async def afetch_items(
        self, keys: Sequence[ItemKey], concurrency: int | None = None
    ) -> list[OnePasswordItem | VaultsError]:
        limiter = anyio.CapacityLimiter(max(1, min(concurrency or self.concurrency, 64)))
        results: list[OnePasswordItem | VaultsError | None] = [None] * len(keys)

        async def one(index: int, key: ItemKey) -> None:
            results[index] = await anyio.to_thread.run_sync(self._get, key, limiter=limiter)

        async with anyio.create_task_group() as group:
            for index, key in enumerate(keys):
                group.start_soon(one, index, key)
        return [r for r in results if r is not None]

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
