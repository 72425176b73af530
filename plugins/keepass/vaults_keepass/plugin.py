"""Entry point module (``[project.entry-points.vaults] keepass = "vaults_keepass.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from vaults.backend import VaultBackend
from vaults.markers import hookimpl


@hookimpl
def vaults_register_backends(register: Callable[[type[VaultBackend]], None]) -> None:
    from vaults_keepass.backend import KeePassBackend

    register(KeePassBackend)
