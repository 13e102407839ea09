"""Opening the configured store (no Textual here either: the CLI, the daemon and the app share it)."""

from __future__ import annotations

from console.config import StoreSettings
from console.service.store import Store, StoreAuthError, StoreError


def open_store(settings: StoreSettings) -> Store:
    if settings.kind == "convex":
        from console.service.convex import KEY_HINT, ConvexStore  # httpx only when needed

        if not settings.url:
            raise StoreError(
                "the Convex store needs the deployment URL",
                hint="set CONVEX_URL (or [store] url in squad.toml), or use --store local",
            )
        if not settings.deploy_key:
            raise StoreAuthError("no Convex deploy key is configured", hint=KEY_HINT)
        return ConvexStore(settings.url, settings.deploy_key, timeout=settings.timeout)
    from console.service.local import LocalStore

    return LocalStore(settings.local_path())
