"""The vault's errors: VaultError and one subclass per way it fails (and MigrationError).

VaultError derives directly from the one error root, console.errors.ConsoleError: a vault failure
is not a store failure (the vault is a local file; the store only keeps a ciphertext copy).
Programs decide on `kind` (per class) and `code` (e.g. "conflict"), never on the words. No
error here ever carries a secret value or the key.
"""

from __future__ import annotations

from console.errors import ConsoleError


class VaultError(ConsoleError):
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
    code = "conflict"


class VaultNotFound(VaultError):
    kind = "vault_not_found"
    code = "not_found"


class VaultLocked(VaultError):
    kind = "vault_locked"


class VaultValueUnusable(VaultError):
    """A value that cannot be given as an environment variable or a header (it holds a NUL)."""

    kind = "vault_value_unusable"
    code = "nul_byte"


class VaultExecRefused(VaultError):
    """`vault exec` was asked for a variable it never sets (or for none at all)."""

    kind = "vault_exec_refused"
    code = "denied"


class VaultValueTooLarge(VaultError):
    """A value over the vault's size limit (MAX_VALUE_BYTES)."""

    kind = "vault_value_too_large"
    code = "too_large"


class MigrationError(VaultError):
    """The credential migration cannot go on (a damaged journal, a step out of order)."""

    kind = "migration"
