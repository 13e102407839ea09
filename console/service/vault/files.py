"""The file primitives the vault and the migration journal share: atomic writes, private
folders and files, and an exclusive lock.

- atomic_write: mkstemp in the same folder, fchmod, write, fsync, os.replace, fsync the folder;
  a failure at any point leaves the old file as it was.
- Private: 0600 files in a 0700 folder; a file that group or others can read, or another user
  owns, is refused.
- file_lock: an exclusive flock on a lock file beside the data (released when the process dies).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from console.service.vault.errors import VaultError, VaultLocked, VaultPermissions


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """mkstemp in the same folder, fchmod, write, fsync, os.replace, fsync the folder. A failure
    at any point leaves the old file as it was."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        tmp = ""
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fsync_dir(folder)


def ensure_private_folder(folder: Path) -> None:
    """The folder exists and is 0700 (tightened when it is ours and looser)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise VaultError(f"cannot prepare the vault folder {folder}: {exc.strerror}",
                         hint="check the folder's owner and permissions") from None


def check_private_file(path: Path, what: str = "the vault file") -> os.stat_result | None:
    """Refuses a file group or others can read or write; None when it does not exist."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultError(f"cannot read {what} {path}: {exc.strerror}", hint="check its permissions") from None
    if st.st_mode & 0o077:
        raise VaultPermissions(
            f"{what} {path} can be read or written by others (mode {stat.S_IMODE(st.st_mode):04o}); refusing to use it",
            hint=f"chmod 600 {path}  (and check nobody copied it meanwhile)",
        )
    if st.st_uid != os.geteuid():
        raise VaultPermissions(f"{what} {path} belongs to another user (uid {st.st_uid}); refusing to use it",
                               hint=f"run as its owner, or `chown {os.geteuid()} {path}`")
    return st


@contextlib.contextmanager
def file_lock(lock_path: Path, timeout: float = 10.0) -> Iterator[None]:
    """An exclusive flock on a lock file beside the data (released when the process dies)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise VaultLocked(f"the vault {lock_path.parent} stayed locked by another process for {timeout:g} s",
                                      hint="another squad-console is writing to it; try again in a moment") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock

