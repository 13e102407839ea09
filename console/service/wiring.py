"""Opening the configured store (no Textual here either: the CLI, the daemon and the app share it)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from console.config import StoreSettings
from console.service.store import Store, StoreAuthError, StoreError

VAULT_ENTRY = "convex-deploy-key"


def deploy_key_from_vault(settings: StoreSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The deploy key kept in the vault (entry `convex-deploy-key`), when there is a vault and a
    key to open it; None otherwise (the caller then says how to give one)."""
    path = settings.local_path().parent / "vault.json"
    if not path.exists():
        return None
    from console.service.vault import Vault, VaultError, find_key

    try:
        key = find_key(os.environ if env is None else env)
        return Vault(path, key=key).get(VAULT_ENTRY).decode("utf-8").strip() or None
    except (VaultError, UnicodeDecodeError):
        return None


def open_store(settings: StoreSettings, env: Mapping[str, str] | None = None) -> Store:
    if settings.kind == "convex":
        from console.service.store.convex import KEY_HINT, ConvexStore  # httpx only when needed

        if not settings.url:
            raise StoreError(
                "the Convex store needs the deployment URL",
                hint="set CONVEX_URL (or [store] url in squad.toml), or use --store local",
            )
        key = settings.deploy_key or deploy_key_from_vault(settings, env)
        if not key:
            raise StoreAuthError(
                "no Convex deploy key is configured",
                hint=KEY_HINT + f"; or keep it in the vault: squad-console vault put {VAULT_ENTRY}",
            )
        return ConvexStore(settings.url, key, timeout=settings.timeout)
    from console.service.store.sqlite import LocalStore

    return LocalStore(settings.local_path())
