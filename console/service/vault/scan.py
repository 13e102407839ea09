"""The one workspace scanner: what in the agents' workspaces is a plaintext credential, and which
files use the vault's entries. The migration's scan, the overview's "no plaintext credentials"
criterion and the vault screen's "used by" column all walk with these rules, so they agree.

Rules (one set, for every caller):
- walk: every regular file and symbolic link under a workspace, in name order; links are never
  followed (a link named like a credential is reported, nothing else about links);
  `.git`, `node_modules`, `__pycache__`, `.venv`, `venv` and `.cache` are not entered;
  `*.pre-vault` and `*.pre-vault-N` (the migration's own backups) and the caller's `skip` paths
  are left out;
- a file is read through files.read_in: from the workspace folder without following any link,
  at most MAX_SCAN_BYTES = the vault's own value limit (one limit for scanning and storing);
- a credential is: `.convex-deploy-key`, `.convex-auth-token`, an `.env*` file (an env template
  only when it holds a Convex deploy key), a backup or editor copy (`x~`, `x.bak`, `x.orig`,
  `.x.swp`) of one of those or holding a key, or a Convex deploy key written inside a text file;
- a credential the migration cannot move safely is reported with why and `manual`: a link, a
  hard-linked file (more than one name), an unreadable one, one over the size limit, a binary
  file holding a key. It is plaintext left: the migration is not complete while it is there.

Entry names never come from a file name alone (a file named `PATH~` must not become an entry
`PATH`): `convex-deploy-key`, `convex-auth-token`, `dotenv[.<suffix>]` for `.env[.<suffix>]`,
`<the original's entry>.backup` for a copy of a credential file, `backup.<name>` for another
copy holding a key.

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
from console.service.vault.files import link_problem, read_in
from console.service.vault.vault import MAX_VALUE_BYTES

# The tested Convex deploy key rule (reference/heartbeats-vault-feeds.md §3).
CONVEX_KEY_RE = re.compile(
    r"(?<![\w-])(?:prod|dev|preview|project):[a-z0-9][a-z0-9-]*(?::[a-z0-9][a-z0-9-]*)?\|[A-Za-z0-9+/=_-]{20,}"
)
CREDENTIAL_FILES = {".convex-deploy-key": "convex-deploy-key", ".convex-auth-token": "convex-auth-token"}
ENV_TEMPLATES = (".env.example", ".env.sample", ".env.template", ".env.dist")
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".cache"}
MAX_SCAN_BYTES = MAX_VALUE_BYTES  # one limit: what is read is what the vault can store
BACKUP_SUFFIX = ".pre-vault"
BACKUP_RE = re.compile(r"\.pre-vault(?:-\d+)?$")  # the migration's backups: FILE.pre-vault, FILE.pre-vault-2, ...
USAGE_MAX_FILES = 2000  # the vault screen's "used by" column reads at most this many files per workspace
USAGE_RE = re.compile(r"vault\s+(?:get|exec)\b[^\n]*")

Workspaces = Sequence[tuple[str, Path]]


def workspaces_from_settings(settings: Any) -> list[tuple[str, Path]]:
    """(agent id, workspace folder) of every configured agent that has a workspace."""
    return [(a.id, Path(a.workspace).expanduser()) for a in settings.agents if a.workspace]


# ------------------------------------------------------------------------ the walk
def walk(root: Path) -> Iterator[Path]:
    """Every regular file and symbolic link under `root` by the rules above (name order, links
    not followed, no SKIP_DIRS)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink():
            yield Path(entry.path)
        elif entry.is_dir(follow_symlinks=False):
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
            if BACKUP_RE.search(path.name) or path in left_out:
                continue
            yield agent, root, path


def read_file(root: Path, path: Path) -> tuple[bytes | None, os.stat_result | None, str]:
    """files.read_in with the one size limit: (bytes, lstat, "") or (None, lstat or None, why)."""
    return read_in(root, path, MAX_SCAN_BYTES)


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
    """A file name as part of a vault entry name (`.local` -> `local`)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name.lstrip(".")).strip("-.") or "file"
    return re.sub(r"\.{2,}", ".", name)[:80]


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


def entry_base(name: str) -> str | None:
    """The entry a credential file goes to (see the module docstring); None for other names."""
    if name in CREDENTIAL_FILES:
        return CREDENTIAL_FILES[name]
    original = backup_base(name)
    if original and original != name:
        of = entry_base(original)
        if of is not None:
            return f"{of}.backup"
    if is_env(name):
        rest = sanitize(name[4:]) if name[4:].strip(".-") else ""
        return "dotenv" + (f".{rest}" if rest else "")
    return None


def credential_named(name: str) -> bool:
    """A credential file, an env file, or a backup or editor copy of one, by its name alone."""
    return entry_base(name) is not None


# ----------------------------------------------------------------- the credentials
def classify(agent: str, path: Path, st: os.stat_result, data: bytes | None, salt: bytes,
             problem: str = "") -> list[dict[str, Any]]:
    """The findings of one file (none for a file holding no credential). `st` is its lstat,
    `data` its bytes or None when they were not read (`problem` says why). Each finding: agent,
    path, size, mode, owner, kind, action (migrate | inline | report), fingerprint, reason,
    `manual` (a credential left for a person: plaintext the migration cannot move), and `base`
    (the entry name to start from) for what the migration moves."""
    name = path.name
    base = dict(agent=agent, path=str(path), size=st.st_size, mode=file_mode(st), owner=owner_name(st.st_uid))
    unsafe = link_problem(st)
    if data is None:
        if credential_named(name):
            kind = CREDENTIAL_FILES.get(name) or ("env-file" if is_env(name) else "backup-copy")
            return [{**base, "kind": kind, "action": "report", "fingerprint": "", "manual": True,
                     "reason": problem or unsafe or "not read: left alone"}]
        return []
    keys = sorted({m.group(0) for m in CONVEX_KEY_RE.finditer(data.decode("utf-8", "replace"))})
    backup_of = backup_base(name)
    fp = fingerprint(data, salt)
    found: list[dict[str, Any]]
    if name in CREDENTIAL_FILES:
        found = [{**base, "kind": CREDENTIAL_FILES[name], "action": "migrate", "fingerprint": fp,
                  "base": entry_base(name), "reason": "a credential file"}]
    elif is_env(name):
        if name in ENV_TEMPLATES and not keys:
            return [{**base, "kind": "env-file", "action": "report", "fingerprint": fp,
                     "reason": "an env template with no credential found: left alone"}]
        found = [{**base, "kind": "env-file", "action": "migrate", "fingerprint": fp,
                  "base": entry_base(name), "reason": "an env file (may hold secrets)"}]
    elif backup_of is not None:
        copies = entry_base(backup_of)
        if copies is None and not keys:
            return [{**base, "kind": "backup-copy", "action": "report", "fingerprint": fp,
                     "reason": "a backup or editor copy with no credential found: left alone"}]
        found = [{**base, "kind": "backup-copy", "action": "migrate", "fingerprint": fp,
                  "base": f"{copies}.backup" if copies else f"backup.{sanitize(name)}",
                  "reason": f"a backup or editor copy of {backup_of}" if copies
                  else "a backup or editor copy holding a Convex deploy key"}]
    elif keys and is_text(data):
        text = data.decode("utf-8", "replace")
        found = []
        for value in keys:
            line = text[: text.index(value)].count("\n") + 1
            found.append({**base, "kind": "inline-key", "action": "inline",
                          "fingerprint": fingerprint(value.encode(), salt), "line": line,
                          "base": "convex-deploy-key",
                          "reason": f"a Convex deploy key written inside the file (line {line})"})
    elif keys:
        return [{**base, "kind": "inline-key", "action": "report", "fingerprint": fp, "manual": True,
                 "reason": "a binary file holding a Convex deploy key: remove it by hand"}]
    else:
        return []
    if unsafe:  # a credential, but not a file the migration may take apart
        first = found[0]
        return [{**base, "kind": first["kind"], "action": "report", "fingerprint": first["fingerprint"],
                 "manual": True, "reason": unsafe}]
    return found


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
        for agent, root, path in workspace_files(workspaces, skip=skip):
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) and not credential_named(path.name):
                continue
            signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, st.st_uid, st.st_nlink)
            known = self._seen.get(path)
            if known is not None and known[0] == signature and all(f["agent"] == agent for f in known[1]):
                found = known[1]
            else:
                data, now, problem = (None, st, "") if stat.S_ISLNK(st.st_mode) else read_file(root, path)
                found = [] if problem == "gone" else classify(agent, path, now or st, data, self.salt, problem)
            seen[path] = (signature, found)
            out.extend(dict(f) for f in found)
        self._seen = seen
        return out


def scan(workspaces: Workspaces, salt: bytes, *, skip: Iterable[Path] = ()) -> list[dict[str, Any]]:
    """Every finding in the workspaces, fingerprinted with `salt` (see `classify`)."""
    return Scanner(salt).scan(workspaces, skip=skip)


def plaintext_credentials(findings: Iterable[dict[str, Any]]) -> list[Path]:
    """The plaintext credentials in the workspaces (what the overview counts): every file the
    migration would take a credential out of, and every credential it leaves to a person
    (`manual`: a link, a hard-linked, unreadable or too large one), one path each."""
    paths: dict[str, None] = {}
    for f in findings:
        if f["action"] != "report" or f.get("manual"):
            paths.setdefault(f["path"], None)
    return [Path(p) for p in paths]


# --------------------------------------------------------------------- entry usage
def entry_usage(workspaces: Workspaces, names: Sequence[str], *,
                max_files: int = USAGE_MAX_FILES) -> dict[str, list[str]]:
    """Which workspace files use each entry (`vault get NAME`, `vault exec --env VAR=NAME` or
    `--env NAME`), as `<workspace folder name>/<path in it>`; at most `max_files` files read per
    workspace."""
    used: dict[str, list[str]] = {n: [] for n in names}
    named = {n: re.compile(r"(?<![\w/.-])" + re.escape(n) + r"(?![\w/-]|\.\w)") for n in names}
    counts: dict[Path, int] = {}
    for _agent, root, path in workspace_files(workspaces):
        if counts.get(root, 0) >= max_files:
            continue
        data, _st, _why = read_file(root, path)
        if data is None:
            continue
        counts[root] = counts.get(root, 0) + 1
        text = data.decode("utf-8", "ignore")
        for m in USAGE_RE.finditer(text):
            for name in names:
                if named[name].search(m.group(0)):
                    rel = f"{root.name}/{path.relative_to(root)}"
                    if rel not in used[name]:
                        used[name].append(rel)
    return used
