"""The Vault screen's data: the vault's entries (names, versions, sources: never a value) and which
workspace files use each, re-read only when the vault file changes (its mtime, size, inode or
mode), or when asked to (after the migration wizard, which also edits the workspaces).

Refreshed on the poll's worker (watch.Watch), so the screen only draws what it is given. No Textual here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VaultState:
    """What the Vault screen draws."""

    path: Path
    entries: tuple = ()  # vault.EntryInfo
    usage: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # the vault could not be read: why, and the fix
    openclaw_refs: tuple = ()  # openclaw_secrets.RefStatus: openclaw.json's SecretRefs to the vault


class VaultView:
    """The current VaultState, re-read when the file's stat changes or after `invalidate()`.
    The vault is opened by the composition root (wiring); "used by" comes from the vault's one
    workspace scanner (vault.scan)."""

    def __init__(self, settings: Any) -> None:
        from console.service.wiring import vault_path

        self.settings = settings
        self.path = vault_path(settings)
        self._key: tuple | None = None
        self._stale = True
        self.state = VaultState(self.path)
        self.reads = 0  # how many times the file was read (for tests)

    def invalidate(self) -> None:
        """Read again at the next refresh (the workspaces changed, e.g. after the migration)."""
        self._stale = True

    def _stat_key(self) -> tuple | None:
        from console.service.wiring import openclaw_config_path

        out = []
        for path in (self.path, openclaw_config_path(self.settings)[1]):
            try:
                st = os.stat(path)
            except OSError:
                out.append(None)
                continue
            out.append((st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode))
        return tuple(out)

    def refresh(self) -> VaultState:
        key = self._stat_key()
        if not self._stale and key == self._key:
            return self.state
        self._stale = False
        self._key = key
        self.reads += 1
        from console.service.vault import VaultError
        from console.service.vault.scan import entry_usage, workspaces_from_settings
        from console.service.wiring import open_vault

        try:
            entries = tuple(open_vault(self.settings, need_key=False).entries())
        except VaultError as exc:
            self.state = VaultState(self.path, error=exc.describe())
            return self.state
        names = [e.name for e in entries]
        usage = entry_usage(workspaces_from_settings(self.settings), names) if names else {}
        self.state = VaultState(self.path, entries, usage, openclaw_refs=tuple(self._openclaw_refs(entries)))
        return self.state

    def _openclaw_refs(self, entries: tuple) -> list:
        """openclaw.json's SecretRefs to the vault: checked against the entries, and by OpenClaw
        itself (`openclaw secrets audit --allow-exec`, once per change of either file) when its
        CLI is there."""
        from console.service.vault import VaultError
        from console.service.vault.openclaw_secrets import ref_statuses
        from console.service.wiring import open_openclaw_secrets

        oc = open_openclaw_secrets(self.settings)
        if oc is None:
            return []
        try:
            refs = oc.refs()
        except VaultError:
            return []
        live = [e.name for e in entries if not getattr(e, "deleted", False)]
        try:
            # not while openclaw.json has other exec providers: --allow-exec would run them too
            audit = oc.audit(allow_exec=True) if refs and not oc.other_exec_providers() else None
        except VaultError:  # OpenClaw gave no report: the entries alone say what they can
            audit = None
        return ref_statuses(refs, live, audit)
