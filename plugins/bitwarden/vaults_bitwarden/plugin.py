"""Entry point of the ``vaults-bitwarden`` plugin (group ``vaults``): registers the backend."""

from __future__ import annotations

from collections.abc import Callable

from vaults import hookimpl
from vaults.backend import VaultBackend
from vaults_bitwarden.backend import BitwardenBackend

__all__ = ["vaults_register_backends"]


@hookimpl
def vaults_register_backends(register: Callable[[type[VaultBackend]], None]) -> None:
    register(BitwardenBackend)
