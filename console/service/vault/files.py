"""The file primitives the vault, the migration journal and the migration's work in the agents'
workspaces share: atomic writes, private folders and files, an exclusive lock, and files opened
inside a workspace without following links.

- atomic_write: mkstemp in the same folder, fchmod, write, fsync, os.replace, fsync the folder;
  a failure at any point leaves the old file as it was.
- Private: 0600 files in a 0700 folder; a file that group or others can read, or another user
  owns, is refused. Only a folder the console creates is made 0700; a folder that already exists
  is never changed, and one every user can write to (e.g. a 1777 /tmp) is refused for data.
- file_lock: an exclusive flock on a lock file beside the data (released when the process dies).
- In a workspace (an agent could have shaped it): `open_parent` walks from the workspace folder
  one component at a time with O_NOFOLLOW, so a link anywhere on the way is refused and what is
  opened is really inside; `read_in` reads a regular file through that walk (no link followed, no
  FIFO waited on, at most `limit` bytes) and says in words why it did not; `replace_in` rewrites
  a file there atomically, keeping its owner and mode.
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


def check_data_folder(folder: Path) -> None:
    """Refuses a data folder every user can write to (another user could replace or add files
    there), or one another user owns. A folder that does not exist yet passes: the console
    creates it 0700."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise VaultError(f"cannot use the data folder {folder}: {exc.strerror}",
                         hint="check the folder's owner and permissions") from None
    if not stat.S_ISDIR(st.st_mode):
        raise VaultError(f"the data folder {folder} is not a folder", hint="choose another path for the data")
    hint = ("keep the console's data in a folder of your own: set [store] path in squad.toml or "
            "SQUAD_CONSOLE_DB to e.g. ~/.local/share/squad-console/squad.db")
    if st.st_mode & stat.S_IWOTH:
        raise VaultPermissions(
            f"the data folder {folder} can be written by every user (mode {stat.S_IMODE(st.st_mode):04o}); "
            "refusing to keep the vault there (it is left as it is)", hint=hint)
    if st.st_uid not in (os.geteuid(), 0):
        raise VaultPermissions(f"the data folder {folder} belongs to another user (uid {st.st_uid}); "
                               "refusing to keep the vault there", hint=hint)


def ensure_private_folder(folder: Path) -> None:
    """The folder exists: created 0700 when it did not exist (its missing parents as `mkdir -p`
    makes them); an existing folder is never changed, and one every user can write to is refused
    (check_data_folder)."""
    check_data_folder(folder)
    try:
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                check_data_folder(folder)  # made by someone else meanwhile: use it only if it is sound
                return
            os.chmod(folder, 0o700)  # ours: exactly 0700, whatever the umask
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



# ============================================================ files inside a workspace
O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_READ = os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotInside(OSError):
    """The path is not (or no longer) a plain path inside the workspace: a link on the way."""


def open_parent(root: Path, path: Path) -> tuple[int, str]:
    """(a descriptor of the folder holding `path`, its last name), reached from `root` one
    component at a time without following a link. NotInside when `path` is not under `root` or
    a folder on the way is a link (or is not a folder); other OSErrors as they come. The caller
    closes the descriptor."""
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        raise NotInside(f"{path} is not inside {root}") from None
    parts = rel.parts
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise NotInside(f"{path} is not a file inside {root}")
    fd = os.open(root, O_DIR)
    try:
        for part in parts[:-1]:
            try:
                nfd = os.open(part, O_DIR | O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotInside(f"{part} on the way to {path} is a link or not a folder") from None
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def read_fd(fd: int, limit: int) -> bytes:
    """At most `limit` bytes from the start of an open file."""
    chunks, total = [], 0
    while total < limit:
        chunk = os.pread(fd, min(1 << 16, limit - total), total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def os_problem(exc: OSError) -> str:
    """Why a file could not be used, in words (never its content)."""
    if isinstance(exc, NotInside):
        return "not a plain path inside the workspace (a folder on the way is a link): left alone"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "unreadable (permission denied): left alone"
    if exc.errno == errno.ELOOP:
        return "a symbolic link: not followed, left alone"
    return f"unreadable ({exc.strerror or exc}): left alone"


def link_problem(st: os.stat_result) -> str:
    """Why a file found in a workspace cannot be moved safely ("" when it can): only a regular
    file with one name is."""
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link: not followed, left alone; move what it points to by hand"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file: left alone"
    if st.st_nlink != 1:
        return (f"hard-linked ({st.st_nlink} names: another name, maybe outside the workspace, shares "
                "these bytes): left alone; move it by hand")
    return ""


def read_in(root: Path, path: Path, limit: int) -> tuple[bytes | None, os.stat_result | None, str]:
    """(bytes, stat, "") of a regular file inside `root`, reached without following any link;
    (None, stat or None, why) when it cannot be read: gone ("gone"), a link, not regular,
    unreadable, or larger than `limit` bytes. The bytes are read whatever the link count: the
    caller decides with link_problem."""
    try:
        dfd, name = open_parent(root, path)
    except FileNotFoundError:
        return None, None, "gone"
    except OSError as exc:
        return None, None, os_problem(exc)
    try:
        try:
            fd = os.open(name, O_READ, dir_fd=dfd)
        except FileNotFoundError:
            return None, None, "gone"
        except OSError as exc:
            st = None
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if st is not None and stat.S_ISLNK(st.st_mode):
                return None, st, link_problem(st)
            return None, st, os_problem(exc)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None, st, "not a regular file: left alone"
            if st.st_size > limit:
                return None, st, too_large(limit)
            data = read_fd(fd, limit + 1)
            if len(data) > limit:
                return None, st, too_large(limit)
            return data, st, ""
        finally:
            os.close(fd)
    finally:
        os.close(dfd)


def too_large(limit: int) -> str:
    return f"larger than the vault's limit of {limit} bytes ({limit // 1024} KiB): not read; move it by hand"


def replace_in(root: Path, path: Path, data: bytes, *, like: os.stat_result, expect: os.stat_result | None = None) -> None:
    """Writes `data` as `path` inside `root` atomically (a new file beside it, fsync, rename over,
    fsync the folder), with the owner, group and mode of `like`. With `expect`, refuses (OSError)
    when the name no longer holds that very file (it changed since it was read). A failure leaves
    the old file as it was. PermissionError when the owner cannot be kept."""
    dfd, name = open_parent(root, path)
    tmp = ""
    try:
        if expect is not None:
            now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
                    expect.st_dev, expect.st_ino, expect.st_size, expect.st_mtime_ns):
                raise OSError(errno.EBUSY, f"{path} changed since it was read")
        tmp = f".{name}.{os.urandom(6).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=dfd)
        try:
            if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, like.st_uid, like.st_gid)
            os.fchmod(fd, stat.S_IMODE(like.st_mode))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        tmp = ""
        os.fsync(dfd)
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
        os.close(dfd)
