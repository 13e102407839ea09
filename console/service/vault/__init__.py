"""The vault (DESIGN §6, docs/VAULT.md): the encrypted credential store on this machine and the
migration of the agents' plaintext credentials into it. No Textual import (the service layer).

- errors.py      VaultError (under console.errors.ConsoleError) and its subclasses, MigrationError
- crypto.py      canonical JSON, the AES-256-GCM record and its associated data, kid, fingerprints
- keys.py        VaultKey, parsing and generating keys, the OS keyring, find_key, init_key
- files.py       atomic writes, private folders and files, the file lock, files opened inside a
                 workspace without following links
- vault.py       the Vault file class (entries, versions, check-and-set, replication to the store)
- deployment.py  CONVEX_VAULT_KEY in the Convex deployment (set it, compare key ids)
- secrets.py     "the value" of a secret (one rule), the environment of `vault exec` and its denylist
- scan.py        the one workspace scanner (the migration, the overview criterion, the vault screen)
- workflows.py   finding and rewriting the references to migrated credential files
- migration.py   the resumable, journaled credential migration
- provider.py    `vault provide`: OpenClaw's exec secret provider (protocol v1), its id syntax, and
                 the `secrets.providers` entry with OpenClaw's path rules checked

Opening a vault or a migration from the settings is the composition root's job
(`console.service.wiring`: vault_path, open_vault, open_migration).
Nothing here ever puts a secret value (or the key) in an exception, a repr, a log or an activity.
"""

from __future__ import annotations

from console.service.vault.errors import VaultError, VaultKeyMissing, VaultNotFound
from console.service.vault.keys import VaultKey, find_key, generate_key, init_key, parse_key
from console.service.vault.vault import Vault

__all__ = ["Vault", "VaultError", "VaultKey", "VaultKeyMissing", "VaultNotFound", "find_key", "generate_key",
           "init_key", "parse_key"]
