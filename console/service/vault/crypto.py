"""The vault's cryptography: canonical JSON, the record (AES-256-GCM), its associated data, the
key id and keyed fingerprints. Pure functions of their arguments; no files, no environment.

- Record: AES-256-GCM, a fresh 96-bit nonce from os.urandom per encryption, associated data the
  canonical JSON of {fmt, kid, name, v}: a record moved to another name or version, or read with
  another key, fails.
- kid = the first 16 hex characters of HMAC-SHA256(key, "squad-console vault kid").
- Fingerprint: a short HMAC of a value, safe to show and log: never the value. One scheme
  everywhere a fingerprint is shown (`vault list`, the vault screen, the migration, redaction
  markers): `value_fingerprint(key, value)`, keyed with HMAC-SHA256(key, "squad-console vault fp"),
  so a short secret cannot be guessed from its fingerprint without the key.

Nothing here ever puts a secret value (or the key) in an exception or a repr.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag

from console.service.vault.errors import VaultCorrupt, VaultError, VaultTampered, VaultWrongKey

if TYPE_CHECKING:
    from console.service.vault.keys import VaultKey

RECORD_FMT = "scv1"
KID_LABEL = b"squad-console vault kid"
MAC_LABEL = b"squad-console vault mac"
FP_LABEL = b"squad-console vault fp"
NONCE_BYTES = 12
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")


def kid_of(raw: bytes) -> str:
    """The key id: first 16 hex characters of HMAC-SHA256(key, "squad-console vault kid")."""
    return hmac.new(raw, KID_LABEL, hashlib.sha256).hexdigest()[:16]


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
    """A short keyed fingerprint of a value under `salt` (an HMAC key), safe to show and log:
    never the value. What is shown uses `value_fingerprint` (the vault key's fingerprint key)."""
    return "fp:" + hmac.new(salt, data, hashlib.sha256).hexdigest()[:12]


def fingerprint_key(key: VaultKey) -> bytes:
    """The HMAC key of every fingerprint shown: HMAC-SHA256(vault key, "squad-console vault fp")."""
    return key._derive(FP_LABEL)


def value_fingerprint(key: VaultKey, data: bytes) -> str:
    """The fingerprint of a value as `vault list`, the vault screen and the migration show it."""
    return fingerprint(data, fingerprint_key(key))

