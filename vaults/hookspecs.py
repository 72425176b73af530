"""Hook specifications for vault plugins. Specs only: the manager is built in :mod:`vaults.host`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaults.backend import VaultBackend
    from vaults.codes.extract import ExtractedCode

from vaults.markers import PROJECT_NAME, hookspec

__all__ = ["PROJECT_NAME", "vaults_extract_code", "vaults_register_backends"]


@hookspec
def vaults_register_backends(register: Callable[[type[VaultBackend]], None]) -> None:
    """Register vault backend classes, each owning one reference scheme.

    ``register(MyBackend)`` where ``MyBackend`` subclasses :class:`vaults.backend.VaultBackend`
    and sets ``scheme``. The host instantiates a backend lazily, with ``from_env``, the first
    time a reference with its scheme is resolved.
    """


@hookspec(firstresult=True)
def vaults_extract_code(content: str, source: str | None) -> ExtractedCode | None:
    """Find the one-time code or magic link in a message (email body, SMS text).

    Return an :class:`vaults.codes.extract.ExtractedCode`, or ``None`` for "not mine: let the
    next extractor try". The first non-``None`` answer wins; the built-in deterministic
    extractor runs last. ``source`` is ``"email"``, ``"phone"`` or ``None``.
    """
