"""The test account: identity, credentials and key hierarchy, generated once.

Everything here is fixed at creation so that it survives server restarts: the CLI
caches the encrypted keys and logs out when the security stamp changes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from vaults_bitwarden.testing.crypto import (
    KdfParams,
    KdfType,
    SymmetricKey,
    encrypt_type2,
    encrypt_type4,
    generate_rsa_key,
    make_master_key,
    master_password_hash,
    private_key_pkcs8_der,
    public_key_spki_b64,
    stretch_master_key,
)

__all__ = ["MIN_PBKDF2_ITERATIONS", "BitwardenAccount"]

MIN_PBKDF2_ITERATIONS = 5000
"""The CLI refuses PBKDF2 iteration counts below this."""


@dataclass(frozen=True)
class BitwardenAccount:
    """A user with a master password, an API key, one organisation, one collection, one folder.

    ``kdf`` is PBKDF2-SHA256 (``kdf_iterations``, the CLI's minimum by default) unless an
    Argon2id :class:`~vaults_bitwarden.native.crypto.KdfParams` is given.
    """

    email: str
    master_password: str = field(repr=False)
    kdf_iterations: int
    user_id: str
    name: str
    security_stamp: str
    creation_date: datetime
    client_id: str
    client_secret: str = field(repr=False)
    master_password_hash: str = field(repr=False)
    user_key: SymmetricKey = field(repr=False)
    private_key: rsa.RSAPrivateKey = field(repr=False)
    protected_user_key: str = field(repr=False)
    protected_private_key: str = field(repr=False)
    public_key_b64: str
    organization_id: str
    organization_name: str
    organization_key: SymmetricKey = field(repr=False)
    protected_organization_key: str = field(repr=False)
    collection_id: str
    collection_name: str
    folder_id: str
    folder_name: str
    kdf_type: int = 0
    kdf_memory: int | None = None
    kdf_parallelism: int | None = None

    @classmethod
    def create(
        cls,
        *,
        email: str = "alice@example.com",
        master_password: str = "correct horse battery staple 🐴",  # noqa: S107 (test account)
        kdf_iterations: int = MIN_PBKDF2_ITERATIONS,
        name: str = "Alice Tester",
        organization_name: str = "Test Organisation",
        collection_name: str = "Engineering",
        folder_name: str = "Work",
        kdf: KdfParams | None = None,
    ) -> BitwardenAccount:
        if kdf is None:
            if kdf_iterations < MIN_PBKDF2_ITERATIONS:
                raise ValueError(f"the CLI refuses under {MIN_PBKDF2_ITERATIONS} PBKDF2 iterations")
            kdf = KdfParams(KdfType.PBKDF2_SHA256, kdf_iterations)
        master_key = make_master_key(master_password, email, kdf)
        user_key = SymmetricKey.generate()
        private_key = generate_rsa_key()
        organization_key = SymmetricKey.generate()
        user_id = str(uuid.uuid4())
        return cls(
            email=email,
            master_password=master_password,
            kdf_iterations=kdf.iterations,
            kdf_type=int(kdf.type),
            kdf_memory=kdf.memory_mib,
            kdf_parallelism=kdf.parallelism,
            user_id=user_id,
            name=name,
            security_stamp=str(uuid.uuid4()),
            creation_date=datetime.now(UTC).replace(microsecond=0),
            client_id=f"user.{user_id}",
            client_secret=secrets.token_urlsafe(22),
            master_password_hash=master_password_hash(master_key, master_password),
            user_key=user_key,
            private_key=private_key,
            protected_user_key=encrypt_type2(stretch_master_key(master_key), user_key.to_bytes()),
            protected_private_key=encrypt_type2(user_key, private_key_pkcs8_der(private_key)),
            public_key_b64=public_key_spki_b64(private_key),
            organization_id=str(uuid.uuid4()),
            organization_name=organization_name,
            organization_key=organization_key,
            protected_organization_key=encrypt_type4(
                private_key.public_key(), organization_key.to_bytes()
            ),
            collection_id=str(uuid.uuid4()),
            collection_name=collection_name,
            folder_id=str(uuid.uuid4()),
            folder_name=folder_name,
        )

    @property
    def kdf(self) -> KdfParams:
        return KdfParams(
            KdfType(self.kdf_type), self.kdf_iterations, self.kdf_memory, self.kdf_parallelism
        )

    @property
    def salt(self) -> str:
        """The KDF salt the client uses: the e-mail address, lower-cased."""
        return self.email.strip().lower()
