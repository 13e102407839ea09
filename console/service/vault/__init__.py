"""The vault: key sourcing, the record format and the vault file (DESIGN §6, docs/VAULT.md).

- Key: `CONVEX_VAULT_KEY` (64 hex characters = 32 bytes) from the environment, then the OS
  keyring, but only a real backend (fail, null, chainer-only and keyrings.alt plaintext backends
  count as none), always called in a thread with a timeout. No silent fallback: without a key the
  error names both ways to give one.
- Record: AES-256-GCM, a fresh 96-bit nonce from os.urandom per encryption, associated data the
  canonical JSON of {fmt, kid, name, v}: a record moved to another name or version, or read with
  another key, fails. kid = the first 16 hex characters of HMAC-SHA256(key, "squad-console vault kid").
- File: one JSON document (format marker, version, the writer's kid, entries with their last N
  versions, an HMAC over the whole document); written atomically (mkstemp in the same folder,
  fchmod 0600, write, fsync, os.replace, fsync the folder) under an exclusive flock, 0600 in a
  0700 folder; a file that group or others can read is refused.
- Replication: every write is copied (ciphertext only) to the store's `vault` table, best effort.

Nothing here ever puts a secret value (or the key) in an exception, a repr, a log or an activity.
No Textual import (the service layer).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from console.service.store import StoreError, StoreFunctionError, VaultRow

KEY_ENV = "CONVEX_VAULT_KEY"
KEYRING_ENV = "SQUAD_CONSOLE_KEYRING"  # "off" skips the OS keyring entirely
KEYRING_SERVICE = "squad-console"
KEYRING_USER = "CONVEX_VAULT_KEY"
KEYRING_TIMEOUT = 5.0

FILE_FORMAT = "squad-console-vault"
FILE_VERSION = 1
RECORD_FMT = "scv1"
KID_LABEL = b"squad-console vault kid"
MAC_LABEL = b"squad-console vault mac"
FP_LABEL = b"squad-console vault fp"
KEEP_VERSIONS = 5
MAX_VALUE_BYTES = 256 * 1024
NONCE_BYTES = 12
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")

KEY_HINT = (
    "give the key one of two ways: `export CONVEX_VAULT_KEY=<64 hex characters>` (the key printed "
    "by `squad-console vault init`), or run `squad-console vault init` where a working OS keyring "
    "is available (over SSH: inside `dbus-run-session` with gnome-keyring unlocked)"
)


# ---------------------------------------------------------------------------- errors
class VaultError(StoreError):
    """Every vault failure: the cause in words and a hint. Never carries a secret."""

    kind = "vault"


class VaultKeyMissing(VaultError):
    kind = "vault_key_missing"


class VaultKeyInvalid(VaultError):
    kind = "vault_key_invalid"


class VaultWrongKey(VaultError):
    kind = "vault_wrong_key"


class VaultTampered(VaultError):
    """Authentication failed: the file (or a record) was altered or damaged."""

    kind = "vault_tampered"


class VaultCorrupt(VaultError):
    """The file is not a readable vault (truncated, not JSON, wrong shape)."""

    kind = "vault_corrupt"


class VaultPermissions(VaultError):
    kind = "vault_permissions"


class VaultConflict(VaultError):
    """Check-and-set failed: the entry is not at the version the caller expected."""

    kind = "vault_conflict"


class VaultNotFound(VaultError):
    kind = "vault_not_found"


class VaultLocked(VaultError):
    kind = "vault_locked"


# ------------------------------------------------------------------------------- key
def kid_of(raw: bytes) -> str:
    """The key id: first 16 hex characters of HMAC-SHA256(key, "squad-console vault kid")."""
    return hmac.new(raw, KID_LABEL, hashlib.sha256).hexdigest()[:16]


class VaultKey:
    """A 32-byte vault key. Its repr and str show the kid and where it came from, never the key."""

    __slots__ = ("_raw", "kid", "source")

    def __init__(self, raw: bytes, source: str = "given") -> None:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
            raise VaultKeyInvalid("a vault key is exactly 32 bytes", hint=KEY_HINT)
        self._raw = bytes(raw)
        self.kid = kid_of(self._raw)
        self.source = source

    def __repr__(self) -> str:
        return f"VaultKey(kid={self.kid!r}, source={self.source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaultKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.kid)

    def __reduce__(self):  # never pickled (a pickle would hold the key)
        raise TypeError("a VaultKey cannot be pickled")

    def hex(self) -> str:
        """The key as 64 hex characters: only for `vault init`, the keyring and the deployment."""
        return self._raw.hex()

    def _aead(self) -> AESGCM:
        return AESGCM(self._raw)

    def _derive(self, label: bytes) -> bytes:
        return hmac.new(self._raw, label, hashlib.sha256).digest()


def parse_key(text: str, source: str = "given") -> VaultKey:
    """64 hex characters -> a VaultKey. The error says what is wrong, never echoes the value."""
    value = (text or "").strip()
    where = "CONVEX_VAULT_KEY" if source == "env" else f"the key from {source}"
    if len(value) != 64:
        raise VaultKeyInvalid(
            f"{where} is not a vault key: it has {len(value)} characters, a key has 64 hex characters (32 bytes)",
            hint="`squad-console vault init` generates one; " + KEY_HINT,
        )
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise VaultKeyInvalid(
            f"{where} is not a vault key: it has characters other than 0-9 and a-f",
            hint="`squad-console vault init` generates one; " + KEY_HINT,
        ) from None
    return VaultKey(raw, source)


def generate_key() -> VaultKey:
    return VaultKey(os.urandom(32), "generated")


# ------------------------------------------------------------------------- keyring
@dataclass(frozen=True, slots=True)
class KeyringStatus:
    usable: bool
    backend: str
    reason: str  # why not usable, in words ("" when usable)


def _backend_usable(backend: Any) -> tuple[bool, str]:
    cls = type(backend)
    mod = cls.__module__ or ""
    name = f"{mod}.{cls.__name__}"
    if mod.startswith("keyrings.alt"):
        return False, f"{name} keeps secrets in a plain-text file, which counts as no keyring"
    if mod == "keyring.backends.fail":
        return False, "no keyring backend is available (no D-Bus session, or no Secret Service)"
    if mod == "keyring.backends.null":
        return False, "the null keyring is selected: it stores nothing"
    if mod == "keyring.backends.chainer" or any(c.__name__ == "ChainerBackend" for c in cls.__mro__):
        children = list(getattr(backend, "backends", []) or [])
        good = [c for c in children if _backend_usable(c)[0]]
        if not good:
            return False, "the keyring chain holds no real backend"
        return True, f"{name} ({', '.join(type(c).__name__ for c in good)})"
    return True, name


class SystemKeyring:
    """The OS keyring through `keyring`, each call in a daemon thread with a timeout (a locked
    keyring over SSH can hang forever: the thread is then abandoned, the caller is not)."""

    def __init__(self, timeout: float = KEYRING_TIMEOUT, service: str = KEYRING_SERVICE,
                 username: str = KEYRING_USER) -> None:
        self.timeout = timeout
        self.service = service
        self.username = username

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - reported in words below
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"keyring-{what}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise VaultError(
                f"the OS keyring did not answer within {self.timeout:g} s ({what}); it may be locked",
                hint="unlock it (e.g. `gnome-keyring-daemon --unlock`), or use `export CONVEX_VAULT_KEY=...`",
            )
        if "error" in box:
            exc = box["error"]
            # keyring errors carry no secret; still keep only the type and a short text
            raise VaultError(
                f"the OS keyring failed ({what}): {type(exc).__name__}: {str(exc)[:160]}",
                hint=KEY_HINT,
            )
        return box.get("value")

    def status(self) -> KeyringStatus:
        def probe() -> KeyringStatus:
            import keyring

            backend = keyring.get_keyring()
            ok, text = _backend_usable(backend)
            return KeyringStatus(ok, text if ok else f"{type(backend).__module__}.{type(backend).__name__}",
                                 "" if ok else text)

        try:
            return self._call("probe", probe)
        except VaultError as exc:
            return KeyringStatus(False, "unknown", exc.message)

    def get(self) -> str | None:
        import keyring

        return self._call("read", lambda: keyring.get_password(self.service, self.username))

    def set(self, value: str) -> None:
        import keyring

        self._call("write", lambda: keyring.set_password(self.service, self.username, value))


def keyring_wanted(env: Mapping[str, str]) -> bool:
    return (env.get(KEYRING_ENV) or "").strip().lower() not in ("off", "0", "no", "false")


def find_key(env: Mapping[str, str] | None = None, *, keyring: Any | None = None) -> VaultKey:
    """The vault key: CONVEX_VAULT_KEY, then the OS keyring (a real backend only). Raises
    VaultKeyMissing naming both ways to give the key, or VaultKeyInvalid for a malformed one."""
    env = os.environ if env is None else env
    value = env.get(KEY_ENV)
    if value is not None and value.strip():
        return parse_key(value, "env")
    reasons = [f"{KEY_ENV} is not set"]
    if not keyring_wanted(env):
        reasons.append(f"the OS keyring is switched off ({KEYRING_ENV}=off)")
    else:
        ring = keyring if keyring is not None else SystemKeyring()
        status = ring.status()
        if not status.usable:
            reasons.append(f"no usable OS keyring: {status.reason}")
        else:
            try:
                stored = ring.get()
            except VaultError as exc:
                reasons.append(exc.message)
            else:
                if stored:
                    return parse_key(stored, "keyring")
                reasons.append(f"the OS keyring ({status.backend}) holds no squad-console vault key")
    raise VaultKeyMissing("no vault key: " + "; ".join(reasons), hint=KEY_HINT)


@dataclass(frozen=True, slots=True)
class InitResult:
    key: VaultKey
    stored_in_keyring: bool
    keyring_backend: str
    reason: str  # why it was not stored in the keyring ("" when it was)


def init_key(env: Mapping[str, str] | None = None, *, keyring: Any | None = None) -> InitResult:
    """Generate a key and keep it in the OS keyring when a real one works. When none does, the
    caller must show the key once (`export CONVEX_VAULT_KEY=...`): nothing here prints it."""
    env = os.environ if env is None else env
    key = generate_key()
    if not keyring_wanted(env):
        return InitResult(key, False, "off", f"the OS keyring is switched off ({KEYRING_ENV}=off)")
    ring = keyring if keyring is not None else SystemKeyring()
    status = ring.status()
    if not status.usable:
        return InitResult(key, False, status.backend, status.reason)
    try:
        ring.set(key.hex())
        back = ring.get()
    except VaultError as exc:
        return InitResult(key, False, status.backend, exc.message)
    if not back or not hmac.compare_digest(back.strip(), key.hex()):
        return InitResult(key, False, status.backend, "the keyring did not give the key back")
    return InitResult(VaultKey(key._raw, "keyring"), True, status.backend, "")


# --------------------------------------------------------------------------- record
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(what)
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(what) from None


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (the AAD and the file MAC are over this)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_aad(name: str, version: int, kid: str, fmt: str = RECORD_FMT) -> bytes:
    return canonical({"fmt": fmt, "kid": kid, "name": name, "v": int(version)})


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise VaultError(
            f"{name!r} is not a vault entry name" if isinstance(name, str) and len(name) < 200
            else "that is not a vault entry name",
            hint="use letters, digits and . _ / - (up to 128 characters), e.g. convex-deploy-key",
        )
    return name


def encrypt_record(key: VaultKey, name: str, version: int, plaintext: bytes, *,
                   nonce: bytes | None = None) -> dict[str, Any]:
    """One record: {fmt, name, v, kid, nonce, ct} (base64; ct ends with the 16-byte tag).
    `nonce` is for the published test vectors only: otherwise a fresh os.urandom(12)."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise VaultError("a nonce is 12 bytes")
    ct = key._aead().encrypt(nonce, bytes(plaintext), record_aad(name, version, key.kid))
    return {"fmt": RECORD_FMT, "name": name, "v": int(version), "kid": key.kid, "nonce": _b64(nonce), "ct": _b64(ct)}


def decrypt_record(key: VaultKey, record: Any, name: str, version: int, *, where: str = "") -> bytes:
    """Decrypts a record found at entry `name`, version `version` (the AAD comes from where the
    record was found, not from the record's own labels: a moved record fails)."""
    label = f"entry {name} version {version}"
    at = f" [{where}]" if where else ""
    if not isinstance(record, Mapping):
        raise VaultCorrupt(f"{label} is damaged: it is not a record",
                           hint="restore the vault file from a backup; nothing was changed")
    fmt = record.get("fmt")
    if fmt != RECORD_FMT:
        raise VaultCorrupt(f"{label} has record format {fmt!r}, this console reads {RECORD_FMT!r}",
                           hint="upgrade squad-console, or restore the file from a backup")
    kid = record.get("kid")
    if kid != key.kid:
        raise VaultWrongKey(
            f"{label} was written with key {kid}, the key given is {key.kid}",
            hint="give the key this vault was written with (CONVEX_VAULT_KEY or the keyring)",
        )
    try:
        nonce = _unb64(record.get("nonce"), "nonce")
        ct = _unb64(record.get("ct"), "ct")
    except ValueError as exc:
        raise VaultTampered(f"{label} failed authentication: its {exc} is not valid base64; "
                            "the file was altered or damaged",
                            hint="restore the vault file from a backup; nothing was changed") from None
    moved = record.get("name") != name or record.get("v") != version
    try:
        if len(nonce) != NONCE_BYTES:
            raise InvalidTag()
        return key._aead().decrypt(nonce, ct, record_aad(name, version, kid))
    except InvalidTag:
        if moved:
            raise VaultTampered(
                f"{label} failed authentication: it holds a record written for entry "
                f"{record.get('name')} version {record.get('v')} (a ciphertext moved to another place){at}",
                hint="the file was altered; restore it from a backup; nothing was changed",
            ) from None
        raise VaultTampered(
            f"{label} failed authentication: the file was altered or damaged{at}",
            hint="restore the vault file from a backup (or the store's copy); nothing was changed",
        ) from None


def record_text(record: Mapping[str, Any]) -> str:
    """A record as the store keeps it (the `record` string of the vault table)."""
    return canonical(dict(record)).decode("utf-8")


def record_from_text(text: str, what: str = "the store's record") -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise VaultCorrupt(f"{what} is not a vault record", hint="write the entry again from a machine that has it") from None
    if not isinstance(value, dict):
        raise VaultCorrupt(f"{what} is not a vault record", hint="write the entry again from a machine that has it")
    return value


def fingerprint(data: bytes, salt: bytes) -> str:
    """A short keyed fingerprint of a value, safe to show and log: never the value."""
    return "fp:" + hmac.new(salt, data, hashlib.sha256).hexdigest()[:12]


# ----------------------------------------------------------------------- atomic I/O
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


# ---------------------------------------------------------------------- vault file
@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: float
    kid: str
    fingerprint: str
    source: str | None


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What `vault list` shows: never a value."""

    name: str
    latest: int
    deleted: bool
    created_at: float
    updated_at: float
    source: str | None
    versions: tuple[VersionInfo, ...]


@dataclass(frozen=True, slots=True)
class PutResult:
    name: str
    version: int
    fingerprint: str
    replicated: bool | None  # None: no store to replicate to
    note: str = ""  # why it was not replicated


@dataclass(frozen=True, slots=True)
class RemoveResult:
    name: str
    versions: int
    replicated: bool | None
    note: str = ""


def _now_ms() -> float:
    return time.time() * 1000.0


@dataclass
class _Doc:
    kid: str | None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    mac: str | None = None
    raw: bytes = b""


class Vault:
    """The vault file at `path` (its lock file beside it). The key is only needed to read
    values and to write; `entries()` works without it."""

    def __init__(
        self,
        path: Path | str,
        *,
        key: VaultKey | None = None,
        key_provider: Callable[[], VaultKey] | None = None,
        store: Any | None = None,
        keep: int = KEEP_VERSIONS,
        clock: Callable[[], float] = _now_ms,
        lock_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._key = key
        self._key_provider = key_provider
        self.store = store
        self.keep = max(1, int(keep))
        self._clock = clock
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Vault({str(self.path)!r}, kid={self._key.kid if self._key else None!r})"

    # ------------------------------------------------------------------ the key
    @property
    def has_key(self) -> bool:
        return self._key is not None

    def set_key(self, key: VaultKey) -> None:
        self._key = key

    def require_key(self) -> VaultKey:
        if self._key is None:
            self._key = self._key_provider() if self._key_provider else find_key()
        return self._key

    def kid(self) -> str | None:
        """The kid the file was written with (None when there is no file yet)."""
        return self._load().kid

    def exists(self) -> bool:
        return self.path.exists()

    def fingerprint(self, value: bytes) -> str:
        return fingerprint(value, self.require_key()._derive(FP_LABEL))

    # ------------------------------------------------------------------ reading
    def _load(self) -> _Doc:
        st = check_private_file(self.path)
        if st is None:
            return _Doc(kid=None)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise VaultError(f"cannot read the vault file {self.path}: {exc.strerror}",
                             hint="check its permissions") from None
        broken = VaultCorrupt(
            f"the vault file {self.path} is not a complete vault (truncated or not JSON, {len(raw)} bytes)",
            hint="nothing was changed or overwritten; restore the file from a backup, "
            "or move it aside to start a new vault (the store's `vault` table may hold a copy)",
        )
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise broken from None
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise VaultCorrupt(f"{self.path} is not a squad-console vault file (no format marker {FILE_FORMAT!r})",
                               hint="nothing was changed; check the path ([store] path decides the folder)")
        if doc.get("version") != FILE_VERSION:
            raise VaultCorrupt(f"the vault file {self.path} has format version {doc.get('version')!r}, "
                               f"this squad-console reads version {FILE_VERSION}",
                               hint="upgrade squad-console; nothing was changed")
        entries = doc.get("entries")
        kid = doc.get("kid")
        if not isinstance(entries, dict) or not (kid is None or isinstance(kid, str)):
            raise broken
        for name, entry in entries.items():
            if (not isinstance(entry, dict) or not isinstance(entry.get("versions"), list)
                    or not all(isinstance(v, dict) and isinstance(v.get("v"), int) for v in entry["versions"])):
                raise VaultCorrupt(f"entry {name} in the vault file {self.path} is damaged",
                                   hint="nothing was changed; restore the file from a backup")
        return _Doc(kid=kid, entries=entries, mac=doc.get("mac"), raw=raw)

    def _check_key(self, doc: _Doc, key: VaultKey) -> None:
        if doc.kid is not None and doc.kid != key.kid:
            raise VaultWrongKey(
                f"this vault was written with key {doc.kid}, the key given is {key.kid}",
                hint="give the key this vault was written with (CONVEX_VAULT_KEY or the keyring); "
                "nothing was changed",
            )

    def _mac(self, key: VaultKey, kid: str | None, entries: dict[str, Any]) -> str:
        body = {"format": FILE_FORMAT, "version": FILE_VERSION, "kid": kid, "entries": entries}
        return hmac.new(key._derive(MAC_LABEL), canonical(body), hashlib.sha256).hexdigest()

    def _check_mac(self, doc: _Doc, key: VaultKey) -> None:
        if doc.kid is None and not doc.entries:
            return
        if not isinstance(doc.mac, str) or not hmac.compare_digest(doc.mac, self._mac(key, doc.kid, doc.entries)):
            raise VaultTampered(
                f"the vault file {self.path} failed its integrity check: it was altered or damaged",
                hint="restore the vault file from a backup; nothing was changed",
            )

    def _entry(self, doc: _Doc, name: str) -> dict[str, Any]:
        entry = doc.entries.get(name)
        if entry is None:
            known = ", ".join(sorted(doc.entries)[:8])
            raise VaultNotFound(f"the vault has no entry {name}" + (f" (entries: {known})" if known else ""),
                                hint="`squad-console vault list` shows the entries")
        return entry

    def entries(self, *, include_deleted: bool = False) -> list[EntryInfo]:
        """Names, versions, dates, sources, fingerprints: never a value; no key needed."""
        doc = self._load()
        out = []
        for name in sorted(doc.entries):
            e = doc.entries[name]
            if e.get("deleted") and not include_deleted:
                continue
            versions = tuple(
                VersionInfo(int(v["v"]), float(v.get("at") or 0), str((v.get("record") or {}).get("kid", "")),
                            str(v.get("fp", "")), v.get("source"))
                for v in e["versions"]
            )
            out.append(EntryInfo(name, int(e.get("latest") or 0), bool(e.get("deleted")),
                                 float(e.get("created") or 0), float(e.get("updated") or 0), e.get("source"), versions))
        return out

    def get(self, name: str, version: int | None = None, *, include_deleted: bool = False) -> bytes:
        """The value of `name` (its latest version, or `version`). Checks the key id, the record's
        authentication tag, then the whole file's MAC."""
        check_name(name)
        key = self.require_key()
        doc = self._load()
        self._check_key(doc, key)
        entry = self._entry(doc, name)
        if entry.get("deleted") and not include_deleted:
            raise VaultNotFound(f"the vault entry {name} was removed",
                                hint=f"`squad-console vault put {name}` stores it again")
        wanted = int(entry.get("latest") or 0) if version is None else int(version)
        found = next((v for v in entry["versions"] if v["v"] == wanted), None)
        if found is None:
            kept = ", ".join(str(v["v"]) for v in entry["versions"])
            raise VaultNotFound(f"the vault entry {name} has no version {wanted} (kept: {kept or 'none'})",
                                hint="only the last versions are kept")
        value = decrypt_record(key, found.get("record"), name, wanted, where=str(self.path))
        self._check_mac(doc, key)
        return value

    def current(self, name: str) -> tuple[int, bytes] | None:
        """(latest version, value) of a live entry, or None when there is none."""
        doc = self._load()
        entry = doc.entries.get(name)
        if entry is None or entry.get("deleted"):
            return None
        latest = int(entry.get("latest") or 0)
        return latest, self.get(name, latest)

    def get_from_store(self, name: str, version: int | None = None) -> bytes:
        """The value from the store's replicated copy (another machine's vault), same checks."""
        check_name(name)
        key = self.require_key()
        if self.store is None:
            raise VaultNotFound(f"the vault has no entry {name}, and no store is configured to look in")
        row: VaultRow = self.store.vault_get(name, version)
        record = record_from_text(row.record or "", f"the store's record of {name} v{row.version}")
        return decrypt_record(key, record, name, row.version, where=self.store.describe())

    # ------------------------------------------------------------------ writing
    def _write_doc(self, key: VaultKey, entries: dict[str, Any]) -> None:
        doc = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "kid": key.kid,
            "keep": self.keep,
            "entries": entries,
            "mac": self._mac(key, key.kid, entries),
        }
        data = json.dumps(doc, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        try:
            atomic_write(self.path, data)
        except OSError as exc:
            raise VaultError(f"cannot write the vault file {self.path}: {exc.strerror}",
                             hint="the previous file is unchanged; check free space and permissions") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[VaultKey, _Doc]]:
        key = self.require_key()
        ensure_private_folder(self.path.parent)
        check_private_file(self.lock_path, "the vault lock file")
        with file_lock(self.lock_path, self.lock_timeout):
            doc = self._load()
            self._check_key(doc, key)
            self._check_mac(doc, key)
            yield key, doc

    def put(self, name: str, value: bytes, *, expected_version: int | None = None,
            source: str | None = None) -> PutResult:
        """Stores a new version of `name`. Check-and-set: with `expected_version` the entry must be
        at that version (0: must not exist or be removed), else VaultConflict and nothing is written."""
        check_name(name)
        if isinstance(value, str):
            value = value.encode("utf-8")
        if len(value) > MAX_VALUE_BYTES:
            raise VaultError(f"the value for {name} is {len(value)} bytes, more than the vault's limit of {MAX_VALUE_BYTES}",
                             hint="keep files, not archives, in the vault")
        with self._transaction() as (key, doc):
            entries = dict(doc.entries)
            old = entries.get(name)
            live = old is not None and not old.get("deleted")
            current = int(old.get("latest") or 0) if live else 0
            if expected_version is not None and current != expected_version:
                raise VaultConflict(
                    f"the vault entry {name} is at version {current}, not {expected_version} as expected",
                    hint="someone else changed it meanwhile: read it again and retry",
                )
            top = max([int(v["v"]) for v in old["versions"]] + [int(old.get("latest") or 0)]) if old else 0
            version = top + 1
            now = self._clock()
            fp = fingerprint(value, key._derive(FP_LABEL))
            record = encrypt_record(key, name, version, value)
            item = {"v": version, "at": now, "fp": fp, "record": record}
            if source:
                item["source"] = source
            versions = ([*old["versions"]] if old else []) + [item]
            entries[name] = {
                "created": old.get("created", now) if old else now,
                "updated": now,
                "deleted": None,
                "latest": version,
                "source": source or (old.get("source") if old else None),
                "versions": versions[-self.keep:],
            }
            self._write_doc(key, entries)
        replicated, note = self._replicate_put(name, version, record)
        return PutResult(name, version, fp, replicated, note)

    def remove(self, name: str, *, expected_version: int | None = None) -> RemoveResult:
        """Soft delete: the versions stay in the file (restore them with `get(..., include_deleted)`);
        the next put starts a new version."""
        check_name(name)
        with self._transaction() as (key, doc):
            entries = dict(doc.entries)
            entry = self._entry(doc, name)
            if entry.get("deleted"):
                raise VaultNotFound(f"the vault entry {name} was already removed")
            if expected_version is not None and int(entry.get("latest") or 0) != expected_version:
                raise VaultConflict(f"the vault entry {name} is at version {entry.get('latest')}, not {expected_version}",
                                    hint="someone else changed it meanwhile: look again and retry")
            entries[name] = {**entry, "deleted": self._clock()}
            self._write_doc(key, entries)
            count = len(entry["versions"])
        replicated, note = self._replicate(lambda: self.store.vault_remove(name))
        return RemoveResult(name, count, replicated, note)

    # -------------------------------------------------------------- replication
    def _replicate_put(self, name: str, version: int, record: dict[str, Any]) -> tuple[bool | None, str]:
        key = self.require_key()
        return self._replicate(lambda: self.store.vault_put(name, version, record_text(record), key.kid))

    def _replicate(self, call: Callable[[], Any]) -> tuple[bool | None, str]:
        if self.store is None:
            return None, ""
        try:
            call()
        except StoreFunctionError as exc:
            if isinstance(exc.data, dict) and exc.data.get("code") == "NotFound":
                return False, "the store has no copy of this entry"
            return False, f"the store refused the copy: {exc.message}"
        except StoreError as exc:
            return False, f"the store is unreachable ({exc.message}); the local vault has it"
        return True, ""

    def replicate_all(self) -> tuple[int, list[str]]:
        """Copies every kept version to the store (for a store that was away): (copied, problems)."""
        doc = self._load()
        copied, problems = 0, []
        for name in sorted(doc.entries):
            for item in doc.entries[name]["versions"]:
                ok, note = self._replicate(lambda: self.store.vault_put(name, int(item["v"]), record_text(item["record"]),
                                                                        str(item["record"].get("kid"))))
                if ok:
                    copied += 1
                elif ok is False and "conflicts" not in note:
                    problems.append(f"{name} v{item['v']}: {note}")
        return copied, problems


# --------------------------------------------------------------- the deployment key
ENV_VAR_PATH = "/api/v1/update_environment_variables"


def set_deployment_key(url: str, deploy_key: str, key: VaultKey, *, timeout: float = 10.0,
                       transport: Any | None = None) -> None:
    """Sets CONVEX_VAULT_KEY in the deployment (POST /api/v1/update_environment_variables with
    `Authorization: Convex <deploy key>`). The key travels only in that request's JSON body."""
    import httpx

    if not url or not url.startswith(("http://", "https://")):
        raise VaultError("the Convex deployment URL is not set",
                         hint="set CONVEX_URL (or [store] url) to the deployment URL")
    if not deploy_key:
        raise VaultError("no Convex deploy key is configured",
                         hint="set CONVEX_DEPLOY_KEY to a deploy key with the right to write environment variables")
    body = json.dumps({"changes": [{"name": KEY_ENV, "value": key.hex()}]})
    where = f"{url.rstrip('/')}{ENV_VAR_PATH}"
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(where, content=body, headers={
                "Authorization": f"Convex {deploy_key}", "Content-Type": "application/json",
                "Convex-Client": "squad-console"})
    except httpx.HTTPError as exc:
        raise VaultError(f"cannot reach {url} to set {KEY_ENV}: {type(exc).__name__}",
                         hint="check CONVEX_URL and the network") from None
    if response.status_code in (401, 403):
        raise VaultError(f"{url} refused the deploy key ({response.status_code}) when setting {KEY_ENV}",
                         hint="the deploy key needs the right to write environment variables (deployment:env:write)")
    if response.status_code >= 300:
        try:
            data = response.json()
            text = f"{data.get('code', '')}: {str(data.get('message', ''))[:200]}"
        except (ValueError, AttributeError):
            text = response.reason_phrase
        raise VaultError(f"{url} did not set {KEY_ENV} ({response.status_code} {text})",
                         hint="check CONVEX_URL (the deployment URL) and the deploy key")


def deployment_kid(store: Any) -> tuple[str | None, str]:
    """(kid, problem) of the deployment's CONVEX_VAULT_KEY through console/vault:kidCheck."""
    check = getattr(store, "vault_kid_check", None)
    if check is None:
        raise VaultError("the store is local: there is no Convex deployment to check",
                         hint="use --store convex with CONVEX_URL and CONVEX_DEPLOY_KEY")
    out = check()
    if isinstance(out, dict):
        return out.get("kid"), str(out.get("problem") or "")
    return out, ""
