"""LocalStore: the store contract on an embedded SQLite file (the default store).

- `schema`: the numbered migrations and the schema version they reach;
- `connection`: opening a file shared by several processes (WAL, busy timeout) and SQLite
  failures in words; the outbox uses it too, without loading the store;
- `rows`: rows as the contract's models, and the public ids (`a12`, `t3`, ...);
- `store`: `LocalStore` itself (and `PastBeat` / `PastFlip` for `import_history`).

`from console.service.store.sqlite import LocalStore` is the way in. The store module is loaded
on first use of one of its names, so importing `connection` alone never loads the LocalStore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.service.store.sqlite.rows import PREFIX, public_id, seq_of
from console.service.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from console.service.store.sqlite.store import LocalStore, PastBeat, PastFlip

_FROM_STORE = ("LocalStore", "PastBeat", "PastFlip")

__all__ = ["MIGRATIONS", "PREFIX", "SCHEMA_VERSION", "LocalStore", "PastBeat", "PastFlip", "public_id", "seq_of"]


def __getattr__(name: str) -> Any:
    if name in _FROM_STORE:
        from console.service.store.sqlite import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
