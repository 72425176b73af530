"""Replace a database file without ever leaving a broken one, and without clobbering an edit
made meanwhile by another program (KeePassXC saving the same file).

:func:`replace_file`: the new bytes go to a temporary file in the same directory (fsynced),
which is checked by the caller's ``verify``; the previous file is kept as ``NAME.bak`` (a hard
link, a copy where links are not possible) until the renamed file reads back byte for byte;
the file must still hold exactly the bytes it was read from, else nothing is replaced.
A process killed at any point leaves ``NAME`` either the old or the new file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from vaults.errors import VaultUnavailable, WriteConflict, WriteNotVerified

__all__ = ["backup_path", "digest", "read_with_digest", "replace_file"]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup_path(path: Path) -> Path:
    """``NAME.kdbx.bak`` next to ``NAME.kdbx``."""
    return path.with_name(path.name + ".bak")


def read_with_digest(path: Path) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WriteConflict(f"{path.name} disappeared since it was read; nothing written") from None
    except OSError as exc:
        raise VaultUnavailable(f"cannot read {path.name}: {exc.strerror}") from None
    return data, digest(data)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes) -> Path:
    mode = 0o600
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode & 0o777
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.vaults-tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _keep_backup(path: Path) -> Path:
    """``NAME.bak`` holding the current file (replaced atomically if one is left over)."""
    backup = backup_path(path)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(6)}.vaults-bak")
    try:
        os.link(path, staging)
    except OSError:
        shutil.copy2(path, staging)
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
    os.replace(staging, backup)
    return backup


def replace_file(
    path: Path,
    new: bytes,
    *,
    expected_digest: str,
    verify: Callable[[Path], None],
) -> None:
    """Make ``new`` the content of ``path``, which must still have ``expected_digest``.

    ``verify(temp_path)`` checks the new file before it replaces the old one (raise a
    :class:`~vaults.errors.VaultsError` to refuse). Raises
    :class:`~vaults.errors.WriteConflict` (nothing written) when ``path`` changed.
    """
    try:
        temp = _write_temp(path, new)
    except OSError as exc:
        raise VaultUnavailable(
            f"cannot write next to {path.name}: {exc.strerror or type(exc).__name__}"
        ) from None
    backup: Path | None = None
    try:
        verify(temp)
        _, now = read_with_digest(path)
        if now != expected_digest:
            raise WriteConflict(
                f"{path.name} was changed by another program since it was read (an edit in "
                "KeePassXC?); nothing written, try again"
            )
        backup = _keep_backup(path)
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise VaultUnavailable(
            f"cannot replace {path.name}: {exc.strerror or type(exc).__name__}"
        ) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    written, _ = read_with_digest(path)
    if written != new:
        os.replace(backup, path)
        _fsync_dir(path.parent)
        raise WriteNotVerified(
            f"{path.name} did not read back as written; the previous file was put back"
        )
    backup.unlink(missing_ok=True)
    _fsync_dir(path.parent)
