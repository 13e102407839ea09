"""Where the squad's shared state lives: one contract, two stores, the outbox between them.

- `contract`: the `Store` protocol every screen, command and the daemon talks to, its errors
  and its constants (imported here, so `from console.service.store import Store` is the way in);
- `activities`: the wording of every activity a store writes (type, message, detail), once for
  Python; `convex/console/activities.ts` says the same for the Convex functions;
- `sqlite/`: `LocalStore`, the embedded default (SQLite, WAL): schema, connection, rows, store;
- `convex`: `ConvexStore`, Convex's HTTP API calling the project's own functions (`convex/`);
- `outbox`: beats and activities recorded while the store is unreachable, delivered once later
  (it opens its file through `sqlite.connection`, never the LocalStore).

No store implementation imports another (tests/test_store_parity.py checks it in a clean interpreter);
tests/test_store_parity.py proves both say and keep the same.
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
