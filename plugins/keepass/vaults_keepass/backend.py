"""KeePass backend: opens a KDBX database once, finds entries by UUID, path or title."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vaults.backend import VaultBackend
from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ConfigurationError,
    InvalidInput,
    ItemNotFound,
    ReadOnlyVault,
    VaultUnavailable,
    WriteConflict,
    WriteNotVerified,
)
from vaults.plain import PlainCredential, PlainField, Secret
from vaults.refs import Reference
from vaults_keepass.atomic import digest, read_with_digest, replace_file
from vaults_keepass.kdbx_file import (
    check_header_hash,
    check_key_file,
    read_kdbx,
    readable_bytes,
)
from vaults_keepass.kdbx_save import encrypt
from vaults_keepass.placeholders import Resolver
from vaults_keepass.totp_fields import (
    KEEPASSXC_MAX_PERIOD,
    TOTP_KEYS,
    keepassxc_otp_uri,
    params_from_attributes,
)

if TYPE_CHECKING:
    from vaults.models import Credential, TotpSecret
    from vaults.plain import SecretLike

__all__ = ["KeePassBackend"]

log = logging.getLogger(__name__)

_UUID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class KeePassBackend(VaultBackend):
    """``keepass://Title``, ``keepass://Group/Sub/Title`` or ``keepass://UUID``.

    Configuration: ``VAULTS_KEEPASS_DB`` (the .kdbx file), unlocked with
    ``VAULTS_KEEPASS_PASSWORD`` and/or ``VAULTS_KEEPASS_KEYFILE``. The database is opened
    once and reopened when the file changes. Entries in the recycle bin and history
    entries are never returned. A title with ``/`` in it is written ``%2F``. Titles and
    group names match under Unicode NFC. ``{REF:…}`` references and placeholders such as
    ``{USERNAME}`` are resolved; an expired entry resolves with a logged warning.
    """

    scheme: ClassVar[str] = "keepass"
    display_name: ClassVar[str] = "KeePass"
    env_vars: ClassVar[tuple[str, ...]] = (
        "VAULTS_KEEPASS_DB",
        "VAULTS_KEEPASS_PASSWORD",
        "VAULTS_KEEPASS_KEYFILE",
    )

    def __init__(
        self,
        database: str | os.PathLike[str],
        password: SecretLike | str | None = None,
        keyfile: str | os.PathLike[str] | None = None,
    ) -> None:
        self.database = Path(database)
        self._password = (
            Secret(password if isinstance(password, str) else password.get_secret_value())
            if password is not None
            else None
        )
        self.keyfile = Path(keyfile) if keyfile else None
        self._kp: Any = None
        self._stamp: tuple[float, int] | None = None
        self._digest: str | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeePassBackend(database={str(self.database)!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeePassBackend:
        database = env.get("VAULTS_KEEPASS_DB", "").strip()
        if not database:
            raise ConfigurationError(
                "set VAULTS_KEEPASS_DB to your .kdbx file (and VAULTS_KEEPASS_PASSWORD "
                "and/or VAULTS_KEEPASS_KEYFILE to unlock it)"
            )
        password = env.get("VAULTS_KEEPASS_PASSWORD")
        keyfile = env.get("VAULTS_KEEPASS_KEYFILE", "").strip() or None
        if password is None and keyfile is None:
            raise ConfigurationError(
                "set VAULTS_KEEPASS_PASSWORD and/or VAULTS_KEEPASS_KEYFILE to unlock "
                f"{Path(database).name}"
            )
        return cls(database, Secret(password) if password is not None else None, keyfile)

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> Any:
        try:
            stat = self.database.stat()
        except FileNotFoundError:
            raise ConfigurationError(f"KeePass database {self.database} does not exist") from None
        except OSError as exc:
            raise VaultUnavailable(
                f"cannot read KeePass database {self.database}: {exc.strerror}"
            ) from None
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if self._kp is not None and self._stamp == stamp:
                return self._kp
            file = read_kdbx(self.database)
            if self.keyfile is not None:
                check_key_file(self.keyfile)
            kp = self._decrypt(file.data)
            check_header_hash(file, _meta_text(kp, "HeaderHash"))
            self._kp, self._stamp, self._digest = kp, stamp, digest(file.data)
            log.debug("opened KeePass database %s (KDBX %s)", self.database.name, file.version)
            return kp

    def _decrypt(self, source: bytes | Path) -> Any:
        """A PyKeePass object for these bytes (or that file), with our errors."""
        from pykeepass import PyKeePass
        from pykeepass.exceptions import (
            CredentialsError,
            HeaderChecksumError,
            PayloadChecksumError,
        )

        # an empty master password is a password (KeePass allows it); None means "none set"
        password = self._password.get_secret_value() if self._password is not None else None
        if isinstance(source, bytes):
            source = readable_bytes(source)  # KDBX 2.x is read as the 3.0 it is laid out as
        name = self.database.name
        try:
            return PyKeePass(
                io.BytesIO(source) if isinstance(source, bytes) else str(source),
                password=password,
                keyfile=str(self.keyfile) if self.keyfile else None,
            )
        except CredentialsError:
            unlock = "master password" if self.keyfile is None else "master password or key file"
            raise AuthenticationFailed(
                f"wrong {unlock} for {name} (or the database is damaged)"
            ) from None
        except (HeaderChecksumError, PayloadChecksumError):
            raise VaultUnavailable(
                f"{name} is damaged: its header or content does not match its checksum"
            ) from None
        except Exception as exc:
            if self.keyfile is not None and isinstance(exc, (ValueError, AssertionError)):
                raise ConfigurationError(
                    f"KeePass key file {self.keyfile.name} could not be read as a key file"
                ) from None
            raise VaultUnavailable(
                f"{name} could not be read as a KeePass database: it is damaged or uses a "
                f"feature this plugin does not read ({type(exc).__name__})"
            ) from None

    # -- lookup --------------------------------------------------------------------------
    def _live_entries(self, kp: Any) -> list[Any]:
        recycle = kp.recyclebin_group
        result = []
        for entry in kp.entries:
            if entry.is_a_history_entry:
                continue
            if recycle is not None and _inside(entry, recycle):
                continue
            result.append(entry)
        return result

    def _find(self, kp: Any, ref: Reference) -> Any:
        path = ref.body.split("?", 1)[0].strip().strip("/")
        if not path:
            raise ItemNotFound(f"{ref.raw} names no entry")
        entries = self._live_entries(kp)
        if _UUID.fullmatch(path):
            wanted = uuid.UUID(path)
            for entry in entries:
                if entry.uuid == wanted:
                    return entry
        from urllib.parse import unquote

        parts = [_nfc(unquote(p)) for p in path.split("/")]
        candidates: list[Any] = []
        if len(parts) > 1:
            groups, title = parts[:-1], parts[-1]
            candidates = [e for e in entries if _group_path(e) == groups and _title(e) == title]
        if not candidates:
            whole = _nfc(unquote(path))
            candidates = [e for e in entries if _title(e) == whole]
        if not candidates and len(parts) > 1:
            # the last part may be a title anywhere below the named group path
            groups, title = parts[:-1], parts[-1]
            candidates = [
                e for e in entries if _title(e) == title and _group_path(e)[: len(groups)] == groups
            ]
        if not candidates:
            raise ItemNotFound(f"no KeePass entry matches {ref.raw}{_close_titles(parts, entries)}")
        if len(candidates) > 1:
            listed = "; ".join(
                f"{'/'.join([*_group_path(e), _title(e)])} ({e.uuid.hex})" for e in candidates
            )
            raise AmbiguousItem(
                f"{len(candidates)} KeePass entries match {ref.raw} (candidates: {listed}); "
                "use keepass://UUID or keepass://Group/Title",
                [e.uuid.hex for e in candidates],
            )
        return candidates[0]

    def fetch(self, ref: Reference) -> Credential:
        return self.fetch_plain(ref).to_credential()

    def fetch_plain(self, ref: Reference) -> PlainCredential:
        kp = self._open()
        with self._lock:
            entry = self._find(kp, ref)
            return self._credential(entry, Resolver(self._live_entries(kp)))

    # -- writing -------------------------------------------------------------------------
    def check_writable(self) -> None:
        if not os.access(self.database.parent, os.W_OK):
            raise ReadOnlyVault(
                f"the folder of {self.database.name} is not writable: this KeePass vault "
                "cannot store secrets"
            )

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        """Write ``secret`` as the entry's ``otp`` attribute (``None``: remove it)."""
        if secret is not None and secret.period > KEEPASSXC_MAX_PERIOD:
            raise InvalidInput(
                f"KeePassXC shows codes for periods up to {KEEPASSXC_MAX_PERIOD} s, this "
                f"secret's is {secret.period} s: not stored"
            )
        self.check_writable()
        with self._write_lock:
            data, seen = read_with_digest(self.database)
            with self._lock:
                opened = self._digest
            if opened is not None and seen != opened:
                raise WriteConflict(
                    f"{self.database.name} changed since it was read (an edit in KeePassXC?); "
                    "nothing written, try again"
                )
            kp = self._decrypt(data)
            entry = self._entry_by_uuid(kp, item.id)
            if secret is not None and entry.get_custom_property("TOTP Settings") is not None:
                raise InvalidInput(
                    f"{entry.title!r} keeps its TOTP secret in the legacy 'TOTP Seed'/'TOTP "
                    "Settings' fields, which KeePassXC reads before 'otp'; nothing written "
                    "(change it in KeePassXC, or delete those fields first)"
                )
            uri = (
                keepassxc_otp_uri(secret, entry.title or "", entry.username or "")
                if secret
                else None
            )
            shape = (kp.version, kp.encryption_algorithm, kp.kdf_algorithm)
            entry.save_history()
            _set_otp(entry, uri)
            entry.touch(modify=True)
            try:
                new = encrypt(kp)
            except Exception as exc:
                raise VaultUnavailable(
                    f"{self.database.name} could not be encrypted ({type(exc).__name__})"
                ) from None

            def verify(path: Path) -> None:
                written = self._decrypt(path)
                found = self._entry_by_uuid(written, item.id)
                same_shape = (
                    written.version,
                    written.encryption_algorithm,
                    written.kdf_algorithm,
                ) == shape
                if not same_shape or _otp_of(found) != uri:
                    raise WriteNotVerified(
                        f"the new {self.database.name} did not decrypt as written; nothing replaced"
                    )

            replace_file(self.database, new, expected_digest=seen, verify=verify)
            with self._lock:
                self._kp = self._stamp = self._digest = None
        log.info("stored the TOTP secret of KeePass entry %s in %s", item.id, self.database.name)

    def _entry_by_uuid(self, kp: Any, hex_id: str) -> Any:
        try:
            wanted = uuid.UUID(hex_id)
        except ValueError:
            raise ItemNotFound(f"no KeePass entry with UUID {hex_id!r}") from None
        for entry in self._live_entries(kp):
            if entry.uuid == wanted:
                return entry
        raise WriteConflict(
            f"KeePass entry {hex_id} is no longer in {self.database.name}; nothing written"
        )

    def _credential(self, entry: Any, resolver: Resolver) -> PlainCredential:
        if getattr(entry, "expired", False):
            log.warning(
                "KeePass entry %r (%s) expired on %s; using it anyway",
                entry.title or "",
                entry.uuid.hex,
                entry.expiry_time.date().isoformat() if entry.expiry_time else "?",
            )
        attrs: dict[str, str] = {}
        for key, value in entry.custom_properties.items():
            if value is not None:
                attrs[key] = resolver.resolve(entry, value) or ""
        if entry.otp:
            attrs["otp"] = entry.otp
        fields = [
            PlainField(
                name=key,
                value=Secret(value),
                type="hidden" if entry.is_custom_property_protected(key) else "text",
            )
            for key, value in attrs.items()
            if key not in TOTP_KEYS
        ]
        url = resolver.resolve(entry, entry.url)
        username = resolver.resolve(entry, entry.username)
        password = resolver.resolve(entry, entry.password)
        totp_secret, totp_error = params_from_attributes(attrs)
        return PlainCredential(
            vault=self.scheme,
            id=entry.uuid.hex,
            name=entry.title or "",
            username=username or None,
            password=Secret(password) if password else None,
            uris=[url] if url else [],
            fields=fields,
            totp_secret=totp_secret,
            totp_error=totp_error,
        )


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _title(entry: Any) -> str:
    return _nfc(entry.title or "")


def _meta_text(kp: Any, name: str) -> str | None:
    try:
        found = kp.tree.find(f"Meta/{name}")
    except Exception:  # a tree without Meta: nothing to check
        return None
    return found.text if found is not None else None


def _otp_element(entry: Any) -> Any:
    for string in entry._element.findall("String"):
        if string.findtext("Key") == "otp":
            return string
    return None


def _otp_of(entry: Any) -> str | None:
    element = _otp_element(entry)
    return None if element is None else element.findtext("Value")


def _set_otp(entry: Any, uri: str | None) -> None:
    """Set (protected, as KeePassXC does) or remove the entry's ``otp`` attribute."""
    element = _otp_element(entry)
    if element is not None:
        entry._element.remove(element)
    if uri is not None:
        entry._set_string_field("otp", uri, True)


def _group_path(entry: Any) -> list[str]:
    names: list[str] = []
    group = entry.group
    while group is not None and not group.is_root_group:
        names.insert(0, _nfc(group.name or ""))
        group = group.parentgroup
    return names


def _inside(entry: Any, group: Any) -> bool:
    current = entry.group
    while current is not None:
        if current.uuid == group.uuid:
            return True
        current = current.parentgroup
    return False


def _close_titles(parts: list[str], entries: list[Any]) -> str:
    """``"; did you mean …"`` naming up to three entries whose title (or group path and title)
    is close to the one asked for, or ``""``."""
    import difflib

    known = {"/".join([*_group_path(e), _title(e)]): _title(e) for e in entries if _title(e)}
    asked = "/".join(parts)
    by_path = difflib.get_close_matches(asked, list(known), n=3, cutoff=0.6)
    by_title = [
        path
        for title in difflib.get_close_matches(parts[-1], set(known.values()), n=3, cutoff=0.6)
        for path, same in known.items()
        if same == title
    ]
    close = list(dict.fromkeys([*by_path, *by_title]))[:3]
    if not close:
        return ""
    return "; did you mean " + ", ".join(f"keepass://{path}" for path in close) + "?"
