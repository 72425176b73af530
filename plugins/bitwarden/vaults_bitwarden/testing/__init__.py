"""Test support for the Bitwarden plugin: an offline Bitwarden-compatible server.

The server (:class:`BitwardenTestServer`) speaks enough of the Bitwarden API over
HTTPS on 127.0.0.1 for the official CLI to log in, unlock and sync. Vault items are
given in clear text (:class:`VaultItem`) and encrypted as a real client would.
pytest fixtures live in :mod:`vaults_bitwarden.testing.fixtures`.
"""

from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.cli import BwCli, BwCommandError, BwServe, find_bw_binary
from vaults_bitwarden.testing.items import CustomField, FieldType, LinkedId, VaultItem
from vaults_bitwarden.testing.seed import CANARY_PASSWORD, CANARY_TOTP_SECRET, DEFAULT_SEED
from vaults_bitwarden.testing.server import BitwardenTestServer, RecordedRequest

__all__ = [
    "CANARY_PASSWORD",
    "CANARY_TOTP_SECRET",
    "DEFAULT_SEED",
    "BitwardenAccount",
    "BitwardenTestServer",
    "BwCli",
    "BwCommandError",
    "BwServe",
    "CustomField",
    "FieldType",
    "LinkedId",
    "RecordedRequest",
    "VaultItem",
    "find_bw_binary",
]
