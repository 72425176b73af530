"""The KeePass plugin passes the vaults plugin contract."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from vaults_keepass import KeePassBackend
from vaults_keepass.testing import EntrySpec, create_database

from vaults.testing import SeededVault, SeedItem, VaultContract

MASTER = "VAULTSCANARY-keepass-master"


class TestKeePassContract(VaultContract):
    scheme = "keepass"
    entry_point = "keepass"
    supports_batch = False
    supports_totp_error = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        tmp = request.getfixturevalue("tmp_path_factory").mktemp("contract")
        path = tmp / "contract.kdbx"
        specs = [
            EntrySpec(
                title=item.name,
                username=item.username,
                password=item.password,
                url=item.uris[0] if item.uris else None,
                group=("Contract",),
                attributes={"otp": totp} if (totp := item.totp_uri()) else {},
            )
            for item in seed
        ]
        ids = create_database(path, MASTER, specs)
        backend = KeePassBackend(path, MASTER)
        return SeededVault(
            backend=backend,
            ids={item.key: ids[i] for i, item in enumerate(seed)},
            secrets=(MASTER,),
        )
