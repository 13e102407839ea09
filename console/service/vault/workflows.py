"""The agents' workflows after their credential files move into the vault: finding the files that
read a removed credential file (or hold a Convex deploy key inline), rewriting the ones that may
be rewritten, and saying exactly what to change in the others.

Only shell scripts (`*.sh`, `*.bash`, `*.zsh`, `*.ksh`, or a `#!…sh` first line with no other
known suffix) and Markdown instructions (`*.md`, `*.markdown`) are rewritten, and only when they
are regular files with one name (files.link_problem). Every other file (JSON, YAML, TOML, Python,
TypeScript, JavaScript, anything else) is never edited: each place is a Mention with the exact
change to make (`change`).

Rewritten forms, line by line:
- a command run with the credential in a variable (`VAR=$(cat FILE) cmd …`, `VAR=$(< FILE) cmd`,
  `VAR="<inline key>" cmd`) → `squad-console vault exec --env VAR=NAME -- cmd …` (the value goes
  to that command's environment only); never for a VAR `vault exec` refuses (secrets.denied);
- a value printed (`cat FILE` as a command of its own, e.g. piped on) → `squad-console vault get NAME`;
- an env file loaded into the shell itself (`. FILE`, `source FILE`) → `eval "$(squad-console vault get NAME)"`
  (the shell then holds what the file gave it, as before).
Anything else naming the file (an `export VAR=$(cat FILE)`, a key inside a longer command, prose)
is a Mention with the change to make. Every diff and mention shown has the credential values
redacted (their fingerprint in their place, once there is a vault key; `<redacted>` before).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.service.vault.files import link_problem
from console.service.vault.scan import CONVEX_KEY_RE, Workspaces, is_text, read_file, workspace_files
from console.service.vault.secrets import denied, env_var_for

SHELL_SUFFIXES = {".sh", ".bash", ".zsh", ".ksh", ".dash"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
SHEBANG_RE = re.compile(r"^#!\s*\S*/(?:env\s+(?:-S\s+)?)?(?:ba|da|z|k|)sh\b")
LANGUAGES = {
    ".py": "python", ".js": "js", ".mjs": "js", ".cjs": "js", ".ts": "js", ".tsx": "js", ".jsx": "js", ".mts": "js",
    ".json": "data", ".yaml": "data", ".yml": "data", ".toml": "data", ".ini": "data", ".cfg": "data", ".conf": "data",
}
EXEC = "squad-console vault exec"
GET = "squad-console vault get"


@dataclass(frozen=True, slots=True)
class WorkflowEdit:
    path: str
    diff: str  # unified diff, with any credential value redacted
    replacements: int
    backup: str | None  # where the original is kept (an inline key in it replaced by a marker)
    applied: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    path: str
    line: int
    text: str  # the line, with any credential value redacted
    target: str  # the removed file it names (or "a Convex deploy key" for one written inline)
    change: str = ""  # the exact change to make, by hand (values redacted)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One file to rewrite: where, its text before and after, and the stat it was read with
    (its owner and mode are kept; a change since then stops the write)."""

    path: Path
    root: Path
    old: str
    new: str
    count: int
    holds: bool  # it held an inline key (its backup has the key replaced by a marker)
    st: os.stat_result
    backup_text: str


Fingerprinter = Callable[[bytes], str] | None  # the vault's fingerprint (crypto.value_fingerprint), None before a key


def marker(value: bytes, fp: Fingerprinter) -> str:
    """What stands for a value in a text shown: `<redacted fp:…>` (the fingerprint `vault list`
    shows for the same value), or `<redacted>` while there is no vault key."""
    return f"<redacted {fp(value)}>" if fp is not None else "<redacted>"


def redact(text: str, values: Iterable[bytes], fp: Fingerprinter) -> str:
    """`text` with each of `values` and every Convex deploy key replaced by a marker."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        try:
            plain = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if plain.strip():
            text = text.replace(plain.strip(), marker(plain.strip().encode(), fp))
    return CONVEX_KEY_RE.sub(lambda m: marker(m.group(0).encode(), fp), text)


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


def diff(path: Path, old: str, new: str, secrets: Iterable[bytes], fp: Fingerprinter) -> str:
    """The unified diff of one edit, values redacted."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{path.name}", f"b/{path.name}", n=1)
    return redact("".join(lines), secrets, fp)


def file_type(path: Path, text: str) -> str:
    """shell | markdown (both rewritten) | python | js | data | other (never edited)."""
    suffix = path.suffix.lower()
    if suffix in SHELL_SUFFIXES:
        return "shell"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in LANGUAGES:
        return LANGUAGES[suffix]
    if SHEBANG_RE.match(text):
        return "shell"
    return "other"


def var_for(f: dict[str, Any]) -> str:
    """The variable a credential is given as in a suggested change: CONVEX_DEPLOY_KEY for a
    deploy key, else named after the entry."""
    if f["kind"] in ("convex-deploy-key", "inline-key"):
        return "CONVEX_DEPLOY_KEY"
    if f["kind"] == "convex-auth-token":
        return "CONVEX_AUTH_TOKEN"
    var = env_var_for(f["entry"].rsplit("/", 1)[-1])
    return var if not denied(var) else f"SECRET_{var}"


def how_to_read(kind: str, var: str, entry: str) -> str:
    """The exact change for a file that is never edited, by its kind."""
    run = f"`{EXEC} --env {var}={entry} -- <the command that starts it>`"
    if kind == "python":
        return f'read os.environ["{var}"] there instead, and start it with {run}'
    if kind == "js":
        return f"read process.env.{var} there instead, and start it with {run}"
    if kind == "data":
        return (f"remove the value from this file (it cannot read the vault); the program that reads the file "
                f"takes it from {var} instead, started with {run}")
    if kind == "markdown":
        return (f"the credential is now the vault entry {entry}: say so there; a command that needs it runs as "
                f"`{EXEC} --env {var}={entry} -- CMD`, a value to print comes from `{GET} {entry}`")
    if kind == "shell":
        return f'use "${var}" there, and run the command that needs it with {run}; to print the value: `{GET} {entry}`'
    return f"remove it from this file; give it to the program that needs it as {var} with {run}"


# ------------------------------------------------------------------------ rewriting
_PLAIN_ASSIGN = r"[A-Za-z_]\w*=(?:\"[^\"`$]*\"|'[^']*'|[^\s;&|`$()<>\"']*)"


def _rewrite_line(line: str, secret_assigns: list[tuple[re.Pattern[str], str]]) -> tuple[str, int]:
    """A command line whose leading assignments give it credentials → `vault exec`: (the new
    line, the number of credentials moved). A line whose variable `vault exec` refuses, or with
    no command after the assignments, is left as it is."""
    m = re.match(r"\s*", line)
    pos = m.end() if m else 0
    indent = line[:pos]
    plain: list[str] = []
    pairs: list[tuple[str, str]] = []
    plain_rx = re.compile(_PLAIN_ASSIGN + r"\s+")
    while True:
        hit = next(((rx.match(line, pos), entry) for rx, entry in secret_assigns if rx.match(line, pos)), None)
        if hit is not None:
            sm, entry = hit
            pairs.append((sm.group("var"), entry))
            pos = sm.end()
            continue
        pm = plain_rx.match(line, pos)
        if pm is None:
            break
        plain.append(line[pos:pm.end()])
        pos = pm.end()
    rest = line[pos:]
    if (not pairs or any(denied(var) for var, _ in pairs) or not rest.strip()
            or rest[:1] in ";&|#)`" or re.match(r"[A-Za-z_]\w*=", rest)):
        return line, 0
    envs = " ".join(f"--env {var}={entry}" for var, entry in pairs)
    return f"{indent}{''.join(plain)}{EXEC} {envs} -- {rest}", len(pairs)


def _secret_assigns(refs: list[dict[str, Any]], inline_values: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for f in refs:
        token = ref_regex(Path(f["path"]).name).pattern
        sub = r"\$\(\s*(?:cat\s+|<\s*)(?P<fq>[\"']?)" + token + r"(?P=fq)\s*\)"
        out.append((re.compile(r"(?P<var>[A-Za-z_]\w*)=(?P<q>\"?)" + sub + r"(?P=q)\s+"), f["entry"]))
    for value, entry in inline_values:
        out.append((re.compile(r"(?P<var>[A-Za-z_]\w*)=(?P<q>[\"']?)" + re.escape(value) + r"(?P=q)\s+"), entry))
    return out


def rewrite_text(text: str, refs: list[dict[str, Any]], inline_values: list[tuple[str, str]]) -> tuple[str, int]:
    """The shell/Markdown text with the forms in the module docstring rewritten; (new text, count)."""
    assigns = _secret_assigns(refs, inline_values)
    lines = text.splitlines(keepends=True)
    count = 0
    for i, raw in enumerate(lines):
        body = raw.rstrip("\r\n")
        end = raw[len(body):]
        new, n = _rewrite_line(body, assigns)
        count += n
        lines[i] = new + end
    out = "".join(lines)
    for f in refs:
        basename = Path(f["path"]).name
        token = ref_regex(basename).pattern
        get = f"{GET} {f['entry']}"
        # `cat FILE` as a command of its own (not inside `$(...)`): the value is printed
        out, n = re.subn(r"(^[ \t]*|[;&|][ \t]*|\b(?:then|do|else)[ \t]+)cat[ \t]+([\"']?)" + token + r"\2(?=[ \t]*(?:$|[;&|)#>]))",
                         lambda m, get=get: f"{m.group(1)}{get}", out, flags=re.MULTILINE)
        count += n
        if f["kind"] == "env-file":
            out, n = re.subn(r"(^[ \t]*|[;&|(][ \t]*|\bthen[ \t]+|\bdo[ \t]+)(?:source|\.)[ \t]+([\"']?)" + token + r"\2(?=[ \t]*(?:$|[;&|)#]))",
                             lambda m, get=get: f'{m.group(1)}eval "$({get})"', out, flags=re.MULTILINE)
            count += n
    return out, count


def _inline_change(kind: str, line: str, value: str, entry: str) -> str:
    """The line of a never-edited file with its inline key replaced, as the change to make."""
    quoted = re.search(r"([\"'])" + re.escape(value) + r"\1", line)
    literal = quoted.group(0) if quoted else value
    var = "CONVEX_DEPLOY_KEY"
    expression = {"python": f'os.environ["{var}"]', "js": f"process.env.{var}",
                  "shell": f'"${var}"', "markdown": f'"${var}"'}.get(kind)
    how = how_to_read(kind, var, entry)
    if expression is None:
        return how
    return f"line becomes: {line.strip().replace(literal, expression)}; {how}"


def find_edits(
    workspaces: Workspaces,
    targets: list[dict[str, Any]],
    inline: list[dict[str, Any]],
    credential_paths: set[str],
    value_of: Callable[[dict[str, Any]], bytes | None],
    fp: Fingerprinter,
) -> tuple[list[Rewrite], list[Mention]]:
    """The rewrites that point the workflows at the vault, and the mentions left for a person
    (each with the exact change). `targets`: credential files (findings with their entry) whose
    references are rewritten; `inline`: inline keys to replace; `credential_paths`: the
    credential files themselves (never edited); `value_of(finding)`: an inline key's bytes as
    they are on disk now."""
    edits: list[Rewrite] = []
    mentions: list[Mention] = []
    by_ws: dict[str, list[dict[str, Any]]] = {}
    for f in targets:
        by_ws.setdefault(str(workspace_of(workspaces, f["path"])), []).append(f)
    inline_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in inline:
        inline_by_path.setdefault(f["path"], []).append(f)

    def note(path: str, number: int, line: str, target: str, change: str) -> None:
        mentions.append(Mention(path, number, redact(line.strip(), [], fp)[:200], target, redact(change, [], fp)[:400]))

    for _agent, root, path in workspace_files(workspaces):
        sp = str(path)
        if sp in credential_paths:
            continue
        refs = []
        seen_names: set[str] = set()
        for f in by_ws.get(str(root), []):
            if Path(f["path"]).name not in seen_names:
                seen_names.add(Path(f["path"]).name)
                refs.append(f)
        values = []
        for f in inline_by_path.get(sp, []):
            value = value_of(f)
            if value:
                values.append((value.decode("utf-8", "replace"), f["entry"]))
        if not refs and not values:
            continue
        data, st, _why = read_file(root, path)
        if data is None or st is None or not is_text(data):
            continue
        try:
            old = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not values and not any(ref_regex(Path(f["path"]).name).search(old) for f in refs):
            continue
        kind = file_type(path, old)
        editable = kind in ("shell", "markdown") and not link_problem(st)
        new, count = rewrite_text(old, refs, values) if kind in ("shell", "markdown") else (old, 0)
        given: set[int] = set()
        if kind in ("shell", "markdown") and not editable and new != old:
            # a hard-linked script: the same rewrite, as the change to make by hand
            why = link_problem(st)
            for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines()), 1):
                if a != b:
                    given.add(number)
                    note(sp, number, a, "a credential", f"not edited ({why}); line becomes: {b.strip()}")
            new = old
        for number, line in enumerate(new.splitlines(), 1):
            if number in given:
                continue
            for value, entry in values:
                if value in line:
                    note(sp, number, line, "a Convex deploy key", _inline_change(kind, line, value, entry))
            for f in refs:
                basename = Path(f["path"]).name
                if ref_regex(basename).search(line):
                    change = (f'`eval "$({GET} {f["entry"]})"` in the shell that needs the values'
                              if f["kind"] == "env-file" and kind in ("shell", "markdown")
                              else how_to_read(kind, var_for(f), f["entry"]))
                    note(sp, number, line, basename, f"it names {basename}, which leaves the workspace: {change}")
        if editable and new != old:
            backup_text = old
            for value, entry in values:
                backup_text = backup_text.replace(value, f"<in the vault: {entry}>")
            edits.append(Rewrite(path, root, old, new, count, bool(values), st, backup_text))
    return edits, mentions
