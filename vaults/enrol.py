"""Store a TOTP secret into a vault item: the write path behind :meth:`vaults.Vaults.set_totp`.

The steps, the same for every backend:

1. parse the secret (anything ``vaults totp`` accepts, or a setup QR image);
2. ask the backend whether it can write at all (:meth:`VaultBackend.check_writable`);
3. read the item exactly as ``resolve`` does (unknown/ambiguous items fail the same way);
4. same secret already there: nothing is written; a different one: refused unless ``replace``;
5. :meth:`VaultBackend.store_totp`, then read the item back: its code must be the code of
   the given secret (compared at several times), else the previous secret is written back
   and :class:`~vaults.errors.WriteNotVerified` is raised.

No secret is ever logged or put into an error message.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import SecretStr

from vaults.backend import VaultBackend
from vaults.errors import (
    InvalidInput,
    InvalidTotpSecret,
    TotpAlreadySet,
    VaultsError,
    WriteNotVerified,
)
from vaults.models import Credential, TotpSecret
from vaults.refs import Reference
from vaults.totp import code_at, parse_secret

__all__ = [
    "MAX_SECRET_INPUT",
    "SecretInput",
    "TotpStored",
    "read_secret_text",
    "same_secret",
    "secret_from_input",
]

log = logging.getLogger(__name__)

MAX_SECRET_INPUT = 64 * 1024
"""Most characters read for one secret (stdin): an otpauth URI is far shorter."""

SecretInput = str | SecretStr | TotpSecret

# fixed instants (besides "now") at which the stored and the given secret must agree
_CHECK_TIMES = (1_111_111_109.0, 2_000_000_000.0, 20_000_000_000.0)


@dataclass(frozen=True)
class TotpStored:
    """What a write did: the item read back (with its first code) and whether it changed."""

    credential: Credential
    changed: bool


def read_secret_text(stream: IO[str]) -> SecretStr:
    """The secret piped on ``stream`` (e.g. ``vaults qr setup.png | vaults set-totp REF -``).

    The first non-empty line is the secret. ``vaults qr`` prints every QR code of an image,
    ``otpauth://`` URIs first, so further lines that are not ``otpauth://`` URIs are
    ignored; several ``otpauth://`` URIs are refused (which one was meant?).
    """
    text = stream.read(MAX_SECRET_INPUT + 1)
    if len(text) > MAX_SECRET_INPUT:
        raise InvalidInput(f"the secret on stdin is longer than {MAX_SECRET_INPUT} characters")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInput("no TOTP secret on stdin")
    uris = [line for line in lines if line.lower().startswith("otpauth://")]
    if len(uris) > 1:
        raise InvalidInput(
            f"stdin holds {len(uris)} otpauth:// URIs; pass the one to store on its own"
        )
    return SecretStr(lines[0])


def secret_from_input(
    secret: SecretInput | None = None, qr: str | Path | None = None
) -> TotpSecret:
    """Parse what the caller gave: a secret in any format ``vaults totp`` accepts, a parsed
    :class:`~vaults.models.TotpSecret`, or (``qr``) a setup QR image holding one
    ``otpauth://`` URI."""
    if (secret is None) == (qr is None):
        raise InvalidInput("give either a TOTP secret or a QR image (qr=), not both or neither")
    if isinstance(secret, TotpSecret):
        return parse_secret(secret.to_uri())  # validated like any other input
    if secret is not None:
        return parse_secret(secret)
    from vaults.qr import decode_qr

    assert qr is not None
    texts = decode_qr(qr)
    uris = [text for text in texts if text.lower().startswith("otpauth://")]
    if len(uris) > 1:
        raise InvalidInput(f"{Path(qr).name} holds {len(uris)} otpauth:// QR codes; crop it to one")
    if not uris:
        raise InvalidTotpSecret(f"the QR code in {Path(qr).name} is not an otpauth:// URI")
    return parse_secret(uris[0])


def same_secret(a: TotpSecret, b: TotpSecret) -> bool:
    """Whether two secrets give the same codes (issuer and account labels do not count)."""
    return (
        a.secret.get_secret_value() == b.secret.get_secret_value()
        and a.algorithm == b.algorithm
        and a.digits == b.digits
        and a.period == b.period
        and a.encoder == b.encoder
    )


def _server_code_matches(code: str, secret: TotpSecret, started: float, ended: float) -> bool:
    """A code the vault computed at real time between ``started`` and ``ended``."""
    first = math.floor(started / secret.period) - 1
    last = math.floor(ended / secret.period) + 1
    return code in {code_at(secret, w * secret.period).code for w in range(first, last + 1)}


def holds(cred: Credential, secret: TotpSecret, now: float, started: float) -> bool:
    """Whether the item as read holds ``secret`` (same codes at ``now`` and fixed instants;
    a vault that only hands out its own codes is checked against real time)."""
    if cred.totp_secret is not None:
        stored = cred.totp_secret
        if (stored.digits, stored.period) != (secret.digits, secret.period):
            return False
        return all(code_at(stored, t).code == code_at(secret, t).code for t in (now, *_CHECK_TIMES))
    if cred.totp is not None and cred.totp_source == "server":
        return _server_code_matches(cred.totp.code, secret, started, time.time())
    return False


def _has_totp(cred: Credential) -> bool:
    """Whether the item holds a TOTP secret (also one that gives no code: ``totp_error``)."""
    return (
        cred.totp_secret is not None
        or cred.totp_error is not None
        or (cred.totp is not None and cred.totp_source == "server")
    )


@dataclass
class _Plan:
    """The decision taken after the first read."""

    ref: Reference
    backend: VaultBackend
    secret: TotpSecret
    replace: bool
    now: float
    started: float

    def decide(self, before: Credential) -> bool:
        """True when something must be written; raises when it must not."""
        if not _has_totp(before):
            return True
        if before.totp_secret is not None and same_secret(before.totp_secret, self.secret):
            return False
        if holds(before, self.secret, self.now, self.started):
            return False
        if not self.replace:
            unusable = " (one that gives no code)" if before.totp_error is not None else ""
            raise TotpAlreadySet(
                f"{before.name!r} ({self.ref.raw}) already has a TOTP secret{unusable}; "
                "pass --replace (replace=True) to overwrite it"
            )
        return True

    def previous(self, before: Credential) -> tuple[bool, TotpSecret | None]:
        """(restorable, the secret to write back on a failed check)."""
        if before.totp_secret is not None and before.totp_error is None:
            return True, before.totp_secret
        return (not _has_totp(before)), None  # an unusable or server-only secret is unknown

    def verified(self, before: Credential, after: Credential) -> bool:
        return after.id == before.id and holds(after, self.secret, self.now, self.started)

    def failure(self, before: Credential, restored: bool, why: str) -> WriteNotVerified:
        outcome = (
            "the previous state was restored"
            if restored
            else "the previous state could NOT be restored: check the item in the vault"
        )
        return WriteNotVerified(
            f"the TOTP secret written to {before.name!r} ({self.ref.raw}) {why}; {outcome}"
        )


def _describe(exc: VaultsError) -> str:
    return f"{type(exc).__name__}: {exc.message}"


def store(
    backend: VaultBackend,
    ref: Reference,
    secret: TotpSecret,
    *,
    replace: bool,
    clock: Callable[[], float],
    admit: Callable[[Credential], object] = lambda cred: cred,
) -> TotpStored:
    """The sync write path (see the module docstring); ``clock`` gives "now"; ``admit``
    may refuse the item as read (raise) before anything is written."""
    backend.check_writable()
    plan = _Plan(ref, backend, secret, replace, clock(), time.time())
    before = backend.fetch(ref)
    admit(before)
    if not plan.decide(before):
        log.info("%s already holds this TOTP secret: nothing written", ref.raw)
        return TotpStored(before, changed=False)
    backend.store_totp(ref, before, secret)
    log.info("stored a TOTP secret on %s (id %s); reading it back", ref.raw, before.id)
    try:
        after: Credential | None = backend.fetch(ref)
        why = "read back different"
    except VaultsError as exc:
        after, why = None, f"could not be read back ({_describe(exc)})"
    if after is not None and plan.verified(before, after):
        return TotpStored(after, changed=True)
    restorable, previous = plan.previous(before)
    restored = False
    if restorable:
        try:
            backend.store_totp(ref, before, previous)
            restored = True
        except VaultsError as exc:
            log.warning("restoring %s failed: %s", ref.raw, _describe(exc))
    raise plan.failure(before, restored, why)


async def astore(
    backend: VaultBackend,
    ref: Reference,
    secret: TotpSecret,
    *,
    replace: bool,
    clock: Callable[[], float],
    admit: Callable[[Credential], object] = lambda cred: cred,
) -> TotpStored:
    """Async :func:`store` (the backend's ``afetch``/``astore_totp``)."""
    backend.check_writable()
    plan = _Plan(ref, backend, secret, replace, clock(), time.time())
    before = await backend.afetch(ref)
    admit(before)
    if not plan.decide(before):
        log.info("%s already holds this TOTP secret: nothing written", ref.raw)
        return TotpStored(before, changed=False)
    await backend.astore_totp(ref, before, secret)
    log.info("stored a TOTP secret on %s (id %s); reading it back", ref.raw, before.id)
    try:
        after: Credential | None = await backend.afetch(ref)
        why = "read back different"
    except VaultsError as exc:
        after, why = None, f"could not be read back ({_describe(exc)})"
    if after is not None and plan.verified(before, after):
        return TotpStored(after, changed=True)
    restorable, previous = plan.previous(before)
    restored = False
    if restorable:
        try:
            await backend.astore_totp(ref, before, previous)
            restored = True
        except VaultsError as exc:
            log.warning("restoring %s failed: %s", ref.raw, _describe(exc))
    raise plan.failure(before, restored, why)
