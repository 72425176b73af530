"""The encrypted sync cache: one file per server and account, mode 0600.

It holds what ``GET /api/sync`` returned — ciphertext, as the server keeps it and ``bw``
caches it — with the account revision date it was fetched at, the KDF parameters and salt
(not secret; needed to derive the master key before any request), and, encrypted under the
user key, the API access token and the listing (names and URIs; no passwords, TOTP secrets
or fields). Without the master password the file is useless; keys are never written.

A file that is unreadable, malformed, of another format, for another server or account,
not owned by this user, or larger than the limit is ignored (and replaced at the next
write). Writes go to a temporary file in the same directory, then ``os.replace``: a
process killed mid-write leaves the old cache intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = ["CACHE_FORMAT", "MAX_CACHE_BYTES", "CachedSync", "SyncCache"]

log = logging.getLogger("vaults_bitwarden.api")

CACHE_FORMAT: Final = 1
MAX_CACHE_BYTES: Final = 256 << 20
"""A cache (or sync reply) above 256 MiB is refused."""


@dataclass(frozen=True)
class CachedSync:
    revision: int
    """The account revision date (epoch ms) the sync was fetched at."""
    salt: str
    kdf: Mapping[str, Any]
    sync: Mapping[str, Any] = field(repr=False)
    token: str | None = field(default=None, repr=False)
    """The access token as an EncString under the user key, or None."""
    index: str | None = field(default=None, repr=False)
    """The listing (names, URIs, ids; no passwords, TOTP secrets or fields) as one EncString
    under the user key: a new process decrypts it once instead of every item's name."""


class SyncCache:
    """The cache file of one (API URL, client id) pair in ``directory``."""

    def __init__(self, directory: Path, api_url: str, client_id: str) -> None:
        self.directory = directory
        self.api_url = api_url
        self.client_id = client_id
        digest = hashlib.sha256(f"{api_url}\n{client_id}".encode()).hexdigest()[:40]
        self.path = directory / f"sync-{digest}.json"

    def __repr__(self) -> str:
        return f"SyncCache(path={str(self.path)!r})"

    def load(self) -> CachedSync | None:
        try:
            with open(self.path, "rb") as handle:
                info = os.fstat(handle.fileno())
                if hasattr(os, "getuid") and info.st_uid != os.getuid():
                    log.warning("ignoring a sync cache owned by another user: %s", self.path)
                    return None
                if info.st_size > MAX_CACHE_BYTES:
                    return None
                data = json.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("ignoring an unreadable sync cache (%s)", type(exc).__name__)
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != CACHE_FORMAT
            or data.get("api") != self.api_url
            or data.get("client_id") != self.client_id
            or not isinstance(data.get("revision"), int)
            or not isinstance(data.get("salt"), str)
            or not isinstance(data.get("kdf"), dict)
            or not isinstance(data.get("sync"), dict)
        ):
            return None
        token = data.get("token")
        index = data.get("index")
        return CachedSync(
            revision=data["revision"],
            salt=data["salt"],
            kdf=data["kdf"],
            sync=data["sync"],
            token=token if isinstance(token, str) else None,
            index=index if isinstance(index, str) else None,
        )

    def store(self, entry: CachedSync) -> None:
        """Write atomically with mode 0600 (directory 0700). Failures are logged, not raised:
        the cache is an optimisation."""
        document = {
            "format": CACHE_FORMAT,
            "api": self.api_url,
            "client_id": self.client_id,
            "revision": entry.revision,
            "salt": entry.salt,
            "kdf": dict(entry.kdf),
            "token": entry.token,
            "index": entry.index,
            "sync": entry.sync,
        }
        import tempfile  # only writers pay for it

        tmp: str | None = None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".sync-", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.chmod(tmp, 0o600)
                json.dump(document, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            log.warning("could not write the Bitwarden sync cache: %s", type(exc).__name__)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
