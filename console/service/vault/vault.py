"""The vault file (docs/VAULT.md): one JSON document holding the encrypted entries.

- File: one JSON document (format marker, version, the writer's kid, entries with their last N
  versions, an HMAC over the whole document); written atomically under an exclusive flock, 0600
  in a 0700 folder; a file that group or others can read is refused.
- Replication: every write is copied (ciphertext only) to the store's `vault` table, best effort;
  a store failure never fails the write (the local file is the truth).

Listing (`entries()`) needs no key; reading a value or writing does. Nothing here ever puts a
secret value (or the key) in an exception, a repr, a log or an activity.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.service.store import StoreError, StoreFunctionError, VaultRow
from console.service.vault.crypto import (
    FP_LABEL,
    MAC_LABEL,
    canonical,
    check_name,
    decrypt_record,
    encrypt_record,
    fingerprint,
    record_from_text,
    record_text,
)
from console.service.vault.errors import (
    VaultConflict,
    VaultCorrupt,
    VaultError,
    VaultNotFound,
    VaultTampered,
    VaultValueTooLarge,
    VaultWrongKey,
)
from console.service.vault.files import atomic_write, check_private_file, ensure_private_folder, file_lock
from console.service.vault.keys import VaultKey, find_key

FILE_FORMAT = "squad-console-vault"
FILE_VERSION = 1
KEEP_VERSIONS = 5
MAX_VALUE_BYTES = 256 * 1024


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

    def read_latest(self, names: Iterable[str]) -> dict[str, bytes]:
        """The latest value of each live entry among `names`, the file read and checked once
        (`vault provide` answers a batch of ids this way); names with no live entry are left out."""
        key = self.require_key()
        doc = self._load()
        self._check_key(doc, key)
        self._check_mac(doc, key)
        out: dict[str, bytes] = {}
        for name in names:
            entry = doc.entries.get(name)
            if entry is None or entry.get("deleted"):
                continue
            latest = int(entry.get("latest") or 0)
            found = next((v for v in entry["versions"] if v["v"] == latest), None)
            if found is not None:
                out[name] = decrypt_record(key, found.get("record"), name, latest, where=str(self.path))
        return out

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
            raise VaultValueTooLarge(f"the value for {name} is {len(value)} bytes, more than the vault's limit of "
                                     f"{MAX_VALUE_BYTES} bytes ({MAX_VALUE_BYTES // 1024} KiB): nothing stored",
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
