"""The one workspace scanner: what in the agents' workspaces is a plaintext credential, and which
files use the vault's entries. The migration's scan, the overview's "no plaintext credentials"
criterion and the vault screen's "used by" column all walk with these rules, so they agree.

Rules (one set, for every caller):
- walk: every regular file under a workspace, in name order; symbolic links are not followed;
  `.git`, `node_modules`, `__pycache__`, `.venv`, `venv` and `.cache` are not entered;
  `*.pre-vault` (the migration's own backups) and the caller's `skip` paths are left out;
- a file larger than MAX_SCAN_BYTES is not read (a credential-named one is reported, unread);
- a credential is: `.convex-deploy-key`, `.convex-auth-token`, an `.env*` file (an env template
  only when it holds a Convex deploy key), a backup or editor copy (`x~`, `x.bak`, `x.orig`,
  `.x.swp`) of one of those or holding a key, or a Convex deploy key written inside a text file.

A finding says where and what (path, size, mode, owner, a keyed fingerprint): never a value.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from console.service.vault.crypto import fingerprint

# The tested Convex deploy key rule (reference/heartbeats-vault-feeds.md §3).
CONVEX_KEY_RE = re.compile(
    r"(?<![\w-])(?:prod|dev|preview|project):[a-z0-9][a-z0-9-]*(?::[a-z0-9][a-z0-9-]*)?\|[A-Za-z0-9+/=_-]{20,}"
)
CREDENTIAL_FILES = {".convex-deploy-key": "convex-deploy-key", ".convex-auth-token": "convex-auth-token"}
ENV_TEMPLATES = (".env.example", ".env.sample", ".env.template", ".env.dist")
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".cache"}
MAX_SCAN_BYTES = 2 * 1024 * 1024
BACKUP_SUFFIX = ".pre-vault"
USAGE_MAX_FILES = 2000  # the vault screen's "used by" column reads at most this many files per workspace
USAGE_RE = re.compile(r"vault\s+(?:get|exec)\b[^\n]*")

Workspaces = Sequence[tuple[str, Path]]


def workspaces_from_settings(settings: Any) -> list[tuple[str, Path]]:
    """(agent id, workspace folder) of every configured agent that has a workspace."""
    return [(a.id, Path(a.workspace).expanduser()) for a in settings.agents if a.workspace]


# ------------------------------------------------------------------------ the walk
def walk(root: Path) -> Iterator[Path]:
    """Every regular file under `root` by the rules above (name order, no links, no SKIP_DIRS)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in SKIP_DIRS:
                yield from walk(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path)


def workspace_files(workspaces: Workspaces, *, skip: Iterable[Path] = ()) -> Iterator[tuple[str, Path, Path]]:
    """(agent, workspace, file) for every file the scanner looks at."""
    left_out = {Path(p) for p in skip}
    for agent, root in workspaces:
        if not root.is_dir():
            continue
        for path in walk(root):
            if path.name.endswith(BACKUP_SUFFIX) or path in left_out:
                continue
            yield agent, root, path


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def read_small(path: Path, size: int) -> bytes | None:
    """The file's bytes when it is at most MAX_SCAN_BYTES, else None."""
    return read(path) if size <= MAX_SCAN_BYTES else None


def is_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def file_mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def sanitize(name: str) -> str:
    """A file name as a vault entry name (`.env.local` -> `env.local`)."""
    name = re.sub(r"[^A-Za-z0-9._/-]", "-", name.lstrip(".")).strip("-") or "file"
    return name[:100]


def backup_base(name: str) -> str | None:
    """`x~`, `x.bak`, `x.orig`, `.x.swp` -> `x`; None when it is not a backup or editor copy."""
    if name.endswith("~"):
        return name[:-1]
    for suffix in (".bak", ".orig"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    m = re.match(r"^\.(.+)\.sw[a-p]$", name)
    if m:
        return m.group(1)
    return None


def is_env(name: str) -> bool:
    return name.startswith(".env")


# ----------------------------------------------------------------- the credentials
def classify(agent: str, path: Path, st: os.stat_result, data: bytes | None, salt: bytes) -> list[dict[str, Any]]:
    """The findings of one file (none for a file holding no credential). `data` is its bytes,
    or None when it was too large to read. Each finding: agent, path, size, mode, owner, kind,
    action (migrate | inline | report), fingerprint, reason, and `base` (the entry name to
    start from) for what the migration moves."""
    name = path.name
    base = dict(agent=agent, path=str(path), size=st.st_size, mode=file_mode(st), owner=owner_name(st.st_uid))
    if data is None:
        if name in CREDENTIAL_FILES or is_env(name):
            return [{**base, "kind": "credential-file", "action": "report", "fingerprint": "",
                     "reason": f"larger than {MAX_SCAN_BYTES} bytes: not read; look at it by hand"}]
        return []
    keys = sorted({m.group(0) for m in CONVEX_KEY_RE.finditer(data.decode("utf-8", "replace"))})
    backup_of = backup_base(name)
    fp = fingerprint(data, salt)
    if name in CREDENTIAL_FILES:
        return [{**base, "kind": CREDENTIAL_FILES[name], "action": "migrate", "fingerprint": fp,
                 "base": CREDENTIAL_FILES[name], "reason": "a credential file"}]
    if is_env(name):
        if name in ENV_TEMPLATES and not keys:
            return [{**base, "kind": "env-file", "action": "report", "fingerprint": fp,
                     "reason": "an env template with no credential found: left alone"}]
        return [{**base, "kind": "env-file", "action": "migrate", "fingerprint": fp,
                 "base": sanitize(name), "reason": "an env file (may hold secrets)"}]
    if backup_of is not None:
        if backup_of in CREDENTIAL_FILES or is_env(backup_of) or keys:
            return [{**base, "kind": "backup-copy", "action": "migrate", "fingerprint": fp,
                     "base": sanitize(name),
                     "reason": f"a backup or editor copy of {backup_of}" if not keys
                     else "a backup or editor copy holding a Convex deploy key"}]
        return [{**base, "kind": "backup-copy", "action": "report", "fingerprint": fp,
                 "reason": "a backup or editor copy with no credential found: left alone"}]
    if keys and is_text(data):
        text = data.decode("utf-8", "replace")
        out = []
        for value in keys:
            line = text[: text.index(value)].count("\n") + 1
            out.append({**base, "kind": "inline-key", "action": "inline",
                        "fingerprint": fingerprint(value.encode(), salt), "line": line,
                        "base": "convex-deploy-key",
                        "reason": f"a Convex deploy key written inside the file (line {line})"})
        return out
    if keys:
        return [{**base, "kind": "inline-key", "action": "report", "fingerprint": fp,
                 "reason": "a binary file holding a Convex deploy key: remove it by hand"}]
    return []


class Scanner:
    """The credential scan. It remembers each file's findings by the file's stat signature, so a
    rescan (the overview rescans on every poll) reads only the files that changed."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self._seen: dict[Path, tuple[tuple[int, ...], list[dict[str, Any]]]] = {}

    def scan(self, workspaces: Workspaces, *, skip: Iterable[Path] = ()) -> list[dict[str, Any]]:
        """Every finding in the workspaces (fresh dicts: the caller may change them)."""
        out: list[dict[str, Any]] = []
        seen: dict[Path, tuple[tuple[int, ...], list[dict[str, Any]]]] = {}
        for agent, _root, path in workspace_files(workspaces, skip=skip):
            try:
                st = path.stat()
            except OSError:
                continue
            signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, st.st_uid)
            known = self._seen.get(path)
            if known is not None and known[0] == signature and all(f["agent"] == agent for f in known[1]):
                found = known[1]
            else:
                found = classify(agent, path, st, read_small(path, st.st_size), self.salt)
            seen[path] = (signature, found)
            out.extend(dict(f) for f in found)
        self._seen = seen
        return out


def scan(workspaces: Workspaces, salt: bytes, *, skip: Iterable[Path] = ()) -> list[dict[str, Any]]:
    """Every finding in the workspaces, fingerprinted with `salt` (see `classify`)."""
    return Scanner(salt).scan(workspaces, skip=skip)


def plaintext_credentials(findings: Iterable[dict[str, Any]]) -> list[Path]:
    """The files the migration would take the credentials out of (what the overview counts):
    every finding it moves or rewrites, one path each; report-only findings are not counted."""
    paths: dict[str, None] = {}
    for f in findings:
        if f["action"] != "report":
            paths.setdefault(f["path"], None)
    return [Path(p) for p in paths]


# --------------------------------------------------------------------- entry usage
def entry_usage(workspaces: Workspaces, names: Sequence[str], *,
                max_files: int = USAGE_MAX_FILES) -> dict[str, list[str]]:
    """Which workspace files use each entry (`vault get NAME`; `vault exec` uses every entry),
    as `<workspace folder name>/<path in it>`; at most `max_files` files read per workspace."""
    used: dict[str, list[str]] = {n: [] for n in names}
    counts: dict[Path, int] = {}
    for _agent, root, path in workspace_files(workspaces):
        if counts.get(root, 0) >= max_files:
            continue
        try:
            data = read_small(path, path.stat().st_size)
        except OSError:
            continue
        if data is None:
            continue
        counts[root] = counts.get(root, 0) + 1
        text = data.decode("utf-8", "ignore")
        for m in USAGE_RE.finditer(text):
            for name in names:
                if name in m.group(0) or "vault exec" in m.group(0):
                    rel = f"{root.name}/{path.relative_to(root)}"
                    if rel not in used[name]:
                        used[name].append(rel)
    return used
