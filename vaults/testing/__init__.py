"""Test harness for vault plugins and host applications (a pytest plugin; needs pytest).

- :class:`VaultContract` — subclass it in your plugin's tests and implement ``create_vault``.
- :data:`STANDARD_SEED`, :class:`SeedItem`, :data:`CANARY` — the items every plugin stores.
- :class:`~vaults.testing.memory.MemoryBackend` — a dict-backed reference vault (``memory://``).
- fixtures (``vaults_host``, ``frozen_totp_time``, ``vault_seed``, ``memory_backend``) come
  from :mod:`vaults.testing.pytest_plugin`, loaded automatically through ``pytest11``.
"""

from __future__ import annotations

import pytest

# Before the modules below are imported: failures inside the contract show real diffs.
pytest.register_assert_rewrite(
    "vaults.testing.contract",
    "vaults.testing.leaks",
    "vaults.testing.hosts",
)

from vaults.testing.clock import FROZEN_TIME, FrozenClock  # noqa: E402
from vaults.testing.contract import SeededVault, VaultContract  # noqa: E402
from vaults.testing.seed import (  # noqa: E402
    CANARY,
    HOTP_ITEM,
    MISSING_NAME,
    SHARED_NAME,
    STANDARD_SEED,
    SeedItem,
    secrets_of,
    seed_by_key,
)

__all__ = [
    "CANARY",
    "FROZEN_TIME",
    "HOTP_ITEM",
    "MISSING_NAME",
    "SHARED_NAME",
    "STANDARD_SEED",
    "FrozenClock",
    "SeedItem",
    "SeededVault",
    "VaultContract",
    "secrets_of",
    "seed_by_key",
]
