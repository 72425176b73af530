"""Bitwarden's master-key derivation alone: PBKDF2-SHA256 or Argon2id within Bitwarden's
bounds. Only :mod:`hashlib` (and argon2-cffi for Argon2id accounts), so that a new process
can start the KDF before the rest of the native transport is imported (see
:mod:`vaults_bitwarden.native.early`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

__all__ = ["KdfError", "KdfParams", "KdfType", "kdf_params", "make_master_key"]


class KdfError(ValueError):
    """KDF parameters outside Bitwarden's bounds (a downgrade or a denial-of-service attempt)."""


class KdfType(IntEnum):
    PBKDF2_SHA256 = 0
    ARGON2ID = 1


# Bounds the official clients use: the minimums at prelogin (lower values are a
# downgrade attack), the maximums when setting a KDF (higher values are refused here so
# a hostile server cannot make us spend minutes or gigabytes).
PBKDF2_MIN_ITERATIONS: Final = 5_000
PBKDF2_MAX_ITERATIONS: Final = 2_000_000
ARGON2_ITERATIONS: Final = (2, 10)
ARGON2_MEMORY_MIB: Final = (16, 1024)
ARGON2_PARALLELISM: Final = (1, 16)


@dataclass(frozen=True)
class KdfParams:
    """The KDF of an account, as the server's prelogin (or token response) gives it."""

    type: KdfType
    iterations: int
    memory_mib: int | None = None
    parallelism: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", KdfType(self.type))
        except ValueError:
            raise KdfError(f"unknown KDF type {self.type!r}") from None
        if self.type is KdfType.PBKDF2_SHA256:
            if not PBKDF2_MIN_ITERATIONS <= self.iterations <= PBKDF2_MAX_ITERATIONS:
                raise KdfError(
                    f"PBKDF2 iterations must be between {PBKDF2_MIN_ITERATIONS} and "
                    f"{PBKDF2_MAX_ITERATIONS}, the server gave {self.iterations}"
                )
            return
        for label, value, (low, high) in (
            ("iterations", self.iterations, ARGON2_ITERATIONS),
            ("memory (MiB)", self.memory_mib, ARGON2_MEMORY_MIB),
            ("parallelism", self.parallelism, ARGON2_PARALLELISM),
        ):
            if value is None or not low <= value <= high:
                raise KdfError(
                    f"Argon2id {label} must be between {low} and {high}, the server gave {value}"
                )

    def describe(self) -> str:
        if self.type is KdfType.PBKDF2_SHA256:
            return f"PBKDF2-SHA256, {self.iterations} iterations"
        return (
            f"Argon2id, {self.iterations} iterations, {self.memory_mib} MiB, "
            f"parallelism {self.parallelism}"
        )


def _salt(email: str) -> bytes:
    return email.strip().lower().encode("utf-8")


def make_master_key(master_password: str, email: str, kdf: KdfParams | int) -> bytes:
    """The 32-byte master key (an ``int`` means PBKDF2-SHA256 with that many iterations)."""
    params = kdf if isinstance(kdf, KdfParams) else KdfParams(KdfType.PBKDF2_SHA256, kdf)
    password = master_password.encode("utf-8")
    if params.type is KdfType.PBKDF2_SHA256:
        return hashlib.pbkdf2_hmac("sha256", password, _salt(email), params.iterations, 32)
    from argon2.low_level import Type, hash_secret_raw  # only Argon2id accounts pay the import

    assert params.memory_mib is not None and params.parallelism is not None
    return hash_secret_raw(
        secret=password,
        salt=hashlib.sha256(_salt(email)).digest(),
        time_cost=params.iterations,
        memory_cost=params.memory_mib * 1024,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def kdf_params(raw: Mapping[str, Any]) -> KdfParams:
    try:
        kind = int(raw["type"])
        if kind not in {t.value for t in KdfType}:
            raise KdfError(f"unknown KDF type {kind}")
        return KdfParams(
            KdfType(kind),
            int(raw["iterations"]),
            None if raw.get("memory") is None else int(raw["memory"]),
            None if raw.get("parallelism") is None else int(raw["parallelism"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, KdfError):
            raise
        raise KdfError("the server gave unusable KDF parameters") from None
