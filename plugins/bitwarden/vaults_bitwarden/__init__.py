"""vaults-bitwarden: Bitwarden logins (username, password, live TOTP code) for ``vaults``.

References: ``bitwarden://<id>``, ``bitwarden://<name>``, ``bitwarden://?url=https://…``.
Transports: ``bw serve`` (``VAULTS_BITWARDEN_URL``) or the ``bw`` CLI (``BW_SESSION``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vaults_bitwarden.backend import BitwardenBackend

__all__ = ["BitwardenBackend", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "BitwardenBackend":
        from vaults_bitwarden.backend import BitwardenBackend

        return BitwardenBackend
    raise AttributeError(f"module 'vaults_bitwarden' has no attribute {name!r}")
