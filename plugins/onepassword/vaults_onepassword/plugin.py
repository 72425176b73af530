"""Entry point of ``vaults-onepassword`` (group ``vaults``, name ``onepassword``)."""

from __future__ import annotations

from collections.abc import Callable

from vaults import hookimpl
from vaults.backend import VaultBackend
from vaults_onepassword.backend import OnePasswordBackend


@hookimpl
def vaults_register_backends(register: Callable[[type[VaultBackend]], None]) -> None:
    register(OnePasswordBackend)
