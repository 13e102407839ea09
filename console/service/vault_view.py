"""The Vault screen's data: the vault's entries (names, versions, sources: never a value) and which
workspace files use each, re-read only when the vault file changes (its mtime, size, inode or
mode), or when asked to (after the migration wizard, which also edits the workspaces).

Refreshed on the poll's worker (watch.Watch), so the screen only draws what it is given. No Textual here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def vault_path(settings: Any) -> Path:
    """The vault file: beside the local store's database."""
    return settings.store.local_path().parent / "vault.json"


def workspace_usage(agents: Iterable[Any], names: list[str]) -> dict[str, list[str]]:
    """Which workspace files use each entry (`vault get NAME`, `vault exec`), by a bounded scan."""
    used: dict[str, list[str]] = {n: [] for n in names}
    pattern = re.compile(r"vault\s+(?:get|exec)\b[^\n]*")
    for agent in agents:
        root = Path(agent.workspace or "")
        if not root.is_dir():
            continue
        seen = 0
        for path in root.rglob("*"):
            if seen > 2000 or any(part in (".git", "node_modules", ".venv") for part in path.parts):
                break
            if not path.is_file() or path.stat().st_size > 512_000:
                continue
            seen += 1
            try:
                text = path.read_text(errors="ignore")
            except OSError:
                continue
            for m in pattern.finditer(text):
                for name in names:
                    if name in m.group(0) or "vault exec" in m.group(0):
                        rel = f"{root.name}/{path.relative_to(root)}"
                        if rel not in used[name]:
                            used[name].append(rel)
    return used


@dataclass(frozen=True)
class VaultState:
    """What the Vault screen draws."""

    path: Path
    entries: tuple = ()  # vault.EntryInfo
    usage: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # the vault could not be read: why, and the fix


class VaultView:
    """The current VaultState, re-read when the file's stat changes or after `invalidate()`."""

    def __init__(self, path: Path, agents: Iterable[Any] = ()) -> None:
        self.path = Path(path)
        self.agents = list(agents)
        self._key: tuple | None = None
        self._stale = True
        self.state = VaultState(self.path)
        self.reads = 0  # how many times the file was read (for tests)

    def invalidate(self) -> None:
        """Read again at the next refresh (the workspaces changed, e.g. after the migration)."""
        self._stale = True

    def _stat_key(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)

    def refresh(self) -> VaultState:
        key = self._stat_key()
        if not self._stale and key == self._key:
            return self.state
        self._stale = False
        self._key = key
        self.reads += 1
        from console.service.vault import Vault, VaultError

        try:
            entries = tuple(Vault(self.path).entries())
        except VaultError as exc:
            self.state = VaultState(self.path, error=exc.describe())
            return self.state
        names = [e.name for e in entries]
        self.state = VaultState(self.path, entries, workspace_usage(self.agents, names) if names else {})
        return self.state
