"""The vault key: what it is (VaultKey, 32 bytes), where it comes from (find_key), how a new
one is made and kept (init_key), and the OS keyring behind both.

- Key: `CONVEX_VAULT_KEY` (64 hex characters = 32 bytes) from the environment, then the OS
  keyring, but only a real backend (fail, null, chainer-only and keyrings.alt plaintext backends
  count as none), always called in a thread with a timeout. No silent fallback: without a key the
  error names both ways to give one.

A VaultKey's repr shows its kid and source, never the key; it cannot be pickled.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from console.service.vault.crypto import kid_of
from console.service.vault.errors import VaultError, VaultKeyInvalid, VaultKeyMissing

KEY_ENV = "CONVEX_VAULT_KEY"
KEYRING_ENV = "SQUAD_CONSOLE_KEYRING"  # "off" skips the OS keyring entirely
KEYRING_SERVICE = "squad-console"
KEYRING_USER = "CONVEX_VAULT_KEY"
KEYRING_TIMEOUT = 5.0

KEY_HINT = (
    "give the key one of two ways: `export CONVEX_VAULT_KEY=<64 hex characters>` (the key printed "
    "by `squad-console vault init`), or run `squad-console vault init` where a working OS keyring "
    "is available (over SSH: inside `dbus-run-session` with gnome-keyring unlocked)"
)


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

