"""Where the squad's shared state lives: one contract, two stores, the outbox between them.

- `contract`: the `Store` protocol every screen, command and the daemon talks to, its errors
  and its constants (imported here, so `from console.service.store import Store` is the way in);
- `sqlite`: `LocalStore`, the embedded default (SQLite, WAL);
- `convex`: `ConvexStore`, Convex's HTTP API calling the project's own functions (`convex/`);
- `outbox`: beats and activities recorded while the store is unreachable, delivered once later.

No store implementation imports another (tests/test_import_hygiene.py enforces it).
"""

from console.service.store.contract import (
    DEFAULT_SNAPSHOT_LIMIT,
    NotFoundError,
    Store,
    StoreAuthError,
    StoreError,
    StoreFunctionError,
    StoreUnavailable,
    VaultRow,
)

__all__ = [
    "DEFAULT_SNAPSHOT_LIMIT",
    "NotFoundError",
    "Store",
    "StoreAuthError",
    "StoreError",
    "StoreFunctionError",
    "StoreUnavailable",
    "VaultRow",
]
