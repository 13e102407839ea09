"""The agents' workflows after their credential files move into the vault: finding the files that
read a removed credential file (or hold a Convex deploy key inline) and rewriting them to read
the vault instead (`squad-console vault get NAME`); what cannot be rewritten safely is left as a
mention for a person.

Rewritten forms: `$(< FILE)` and `$(cat FILE)` → `$(squad-console vault get NAME)`, `cat FILE` →
`squad-console vault get NAME`, `source FILE` / `. FILE` of an env file →
`eval "$(squad-console vault get NAME)"`, an inline key → `$(squad-console vault get NAME)`.
Every diff and mention shown has the credential values redacted (a fingerprint in their place).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.service.vault.crypto import fingerprint
from console.service.vault.scan import CONVEX_KEY_RE, Workspaces, is_text, read_small, workspace_files


@dataclass(frozen=True, slots=True)
class WorkflowEdit:
    path: str
    diff: str  # unified diff, with any credential value redacted
    replacements: int
    backup: str | None  # None when the original held a credential itself (no plaintext copy kept)
    applied: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    path: str
    line: int
    text: str  # the line, with any credential value redacted
    target: str  # the removed file it names


# (path, old text, new text, replacements, holds an inline secret)
Edit = tuple[Path, str, str, int, bool]


def redact(text: str, values: Iterable[bytes], salt: bytes) -> str:
    """`text` with each of `values` and every Convex deploy key replaced by its fingerprint."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        try:
            plain = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if plain.strip():
            text = text.replace(plain.strip(), f"<redacted {fingerprint(plain.strip().encode(), salt)}>")
    return CONVEX_KEY_RE.sub(lambda m: f"<redacted {fingerprint(m.group(0).encode(), salt)}>", text)


def ref_regex(basename: str) -> re.Pattern[str]:
    """A path token naming `basename`: `.convex-deploy-key`, `./x/.convex-deploy-key`, `$HOME/...`."""
    return re.compile(r"(?<![\w.-])(?:[\w.~${}/-]*/)?" + re.escape(basename) + r"(?![\w-]|\.\w)")


def workspace_of(workspaces: Workspaces, path: str) -> Path:
    for _, root in workspaces:
        try:
            Path(path).relative_to(root)
            return root
        except ValueError:
            continue
    return Path(path).parent


def diff(path: Path, old: str, new: str, secrets: Iterable[bytes], salt: bytes) -> str:
    """The unified diff of one edit, values redacted."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{path.name}", f"b/{path.name}", n=1)
    return redact("".join(lines), secrets, salt)


def find_edits(
    workspaces: Workspaces,
    targets: list[dict[str, Any]],
    inline: list[dict[str, Any]],
    credential_paths: set[str],
    value_of: Callable[[dict[str, Any]], bytes | None],
    salt: bytes,
) -> tuple[list[Edit], list[Mention]]:
    """The edits that point the workflows at the vault, and the mentions left for a person.
    `targets`: credential files (findings with their entry) whose references are rewritten;
    `inline`: inline keys to replace; `credential_paths`: the credential files themselves (never
    edited); `value_of(finding)`: an inline key's bytes as they are on disk now."""
    edits: list[Edit] = []
    mentions: list[Mention] = []
    env_names = {Path(f["path"]).name for f in targets if f["kind"] == "env-file"}
    by_ws: dict[str, list[dict[str, Any]]] = {}
    for f in targets:
        by_ws.setdefault(str(workspace_of(workspaces, f["path"])), []).append(f)
    inline_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in inline:
        inline_by_path.setdefault(f["path"], []).append(f)
    for _agent, root, path in workspace_files(workspaces):
        sp = str(path)
        if sp in credential_paths:
            continue
        refs = by_ws.get(str(root), [])
        data = read_small(path, path.stat().st_size)
        if data is None or not is_text(data):
            continue
        try:
            old = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        new, count = old, 0
        for f in inline_by_path.get(sp, []):
            value = value_of(f)
            if value:
                n = new.count(value.decode())
                new = new.replace(value.decode(), f"$(squad-console vault get {f['entry']})")
                count += n
        seen_names = set()
        for f in refs:
            basename = Path(f["path"]).name
            if basename in seen_names:
                continue
            seen_names.add(basename)
            token = ref_regex(basename).pattern
            get = f"squad-console vault get {f['entry']}"
            rules = [
                (re.compile(r"\$\(\s*<\s*([\"']?)" + token + r"\1\s*\)"), f"$({get})"),
                (re.compile(r"\bcat\s+([\"']?)" + token + r"\1"), get),
            ]
            if basename in env_names or f["kind"] == "env-file":
                rules.append((re.compile(r"(^|[;&|(]\s*|\bthen\s+|\bdo\s+)(?:source|\.)\s+([\"']?)" + token + r"\2",
                                         re.M), rf'\g<1>eval "$({get})"'))
            for rx, repl in rules:
                new, n = rx.subn(repl, new)
                count += n
            for number, line in enumerate(new.splitlines(), 1):
                if ref_regex(basename).search(line):
                    mentions.append(Mention(sp, number, redact(line.strip(), [], salt)[:200], basename))
        if new != old:
            edits.append((path, old, new, count, sp in inline_by_path))
    return edits, mentions
