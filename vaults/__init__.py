"""vaults: log in to websites that demand 2FA — username, password and a ready-to-type code.

Heavy modules load lazily so ``vaults`` starts fast when a host shells out to the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vaults.backend import VaultBackend
    from vaults.markers import hookimpl
    from vaults.models import Credential, CustomField, TotpCode, TotpSecret
    from vaults.refs import Reference
    from vaults.resolver import Vaults

_LAZY = {
    "hookimpl": "vaults.markers",
    "Vaults": "vaults.resolver",
    "VaultBackend": "vaults.backend",
    "Credential": "vaults.models",
    "CustomField": "vaults.models",
    "TotpCode": "vaults.models",
    "TotpSecret": "vaults.models",
    "Reference": "vaults.refs",
}

__all__ = [
    "Credential",
    "CustomField",
    "Reference",
    "TotpCode",
    "TotpSecret",
    "VaultBackend",
    "Vaults",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vaults' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
