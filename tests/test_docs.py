"""The operator documentation runs: every `squad-console ...` command in README.md and docs/*.md
(in fenced code blocks and in inline code) is parsed by the real argument parser and then run
in-process through `console.cli.main`, in a throwaway environment:

- commands that only read (`agents list`, `tasks list`, `audit list|export`, `vault list`, the
  snapshot, `--version`) run as written;
- commands that have a `--dry-run` run with it (`agents sync --dry-run`, `agents import --dry-run`,
  `vault migrate --dry-run`);
- every other command (it would change state, or needs Convex, OpenClaw or a tty) runs with
  `--help` appended, after its arguments were checked by the parser.

Each must exit 0 without a traceback. A renamed command or flag fails the parse. Placeholders
(`<id>`, `AGENT`, `NAME`, `TASK`, ...) are replaced by real values first.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OPERATOR_DOCS = ("README.md", "RUNBOOK.md", "TROUBLESHOOTING.md", "ONBOARDING.md")

# placeholder -> the real value it is run with (the seed squad has cestra, veda and orin)
PLACEHOLDERS = {
    "<agent-id>": "veda", "<agent>": "veda", "<id>": "veda", "AGENT": "veda",
    "<task-id>": "t1", "<task>": "t1", "TASK": "t1",
    "<name>": "convex-deploy-key", "NAME": "convex-deploy-key",
    "<job-id>": "job-1", "<file>": "/tmp/value.txt", "FILE": "/tmp/value.txt",
    "<path>": "/tmp/restored.txt", "PATH": "/tmp/restored.txt",
}
# (command, action) pairs that only read: run as written
READ_ONLY = {
    (None, None), ("agents", "list"), ("tasks", "list"), ("audit", "list"), ("audit", "export"),
    ("vault", "list"),
}

_FENCE = re.compile(r"^\s*(?:```|~~~)\s*([\w+-]*)")
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console", "zsh"}  # other blocks (text, toml, ini) are not commands
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_SUBST = re.compile(r"\$\((\s*(?:\S*/)?squad-console\b[^)]*)\)")
_PROMPT = re.compile(r"^\s*(?:\$|>)\s+(?=\S*squad-console\b)")
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"^(?:\d?>>?|&>|<)")


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line
    text: str  # as written in the docs

    def __str__(self) -> str:
        return f"{self.source}: {self.text}"


# ----------------------------------------------------------------------------------- extract
def _is_console(word: str) -> bool:
    return word == "squad-console" or word.endswith("/squad-console")


def _segments(line: str) -> Iterator[str]:
    """The simple commands of a shell line: split on && || ; | outside quotes."""
    out, quote, i, cur = [], None, 0, ""
    while i < len(line):
        c = line[i]
        if quote:
            cur += c
            if c == quote:
                quote = None
        elif c in "'\"":
            quote, cur = c, cur + c
        elif c == "#" and (not cur or cur[-1].isspace()):
            break  # a comment
        elif line.startswith(("&&", "||"), i):
            out.append(cur)
            cur = ""
            i += 1
        elif c in ";|":
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur)
    return (s.strip() for s in out if s.strip())


def _from_shell_line(line: str) -> Iterator[str]:
    """`squad-console ...` commands on one line of a code block."""
    for m in _SUBST.finditer(line):
        yield m.group(1).strip()
    line = _SUBST.sub("X", line)
    line = _PROMPT.sub("", line)
    for seg in _segments(line):
        try:
            words = shlex.split(seg)
        except ValueError:
            words = seg.split()
        k = 0
        while k < len(words) and (_ENV_ASSIGN.match(words[k]) or words[k] in ("sudo", "exec", "env", "time")):
            k += 1
        if k < len(words) and _is_console(words[k]):
            words = words[k:]
            cut = next((i for i, w in enumerate(words) if _REDIRECT.match(w)), len(words))
            yield shlex.join(words[:cut])  # `> file`, `2>/dev/null`: the shell's, not ours
            if "--" in words[:cut]:  # `vault exec -- squad-console ...`: the inner command too
                inner = words[words.index("--") + 1:cut]
                if inner and _is_console(inner[0]):
                    yield shlex.join(inner)


def extract(text: str, name: str) -> list[DocCommand]:
    """Every `squad-console` command of a Markdown text: code-block lines whose command is
    squad-console (also after `$ `, env assignments, `sudo`, in `$(...)` and after `&&`), and
    inline code spans that start with squad-console."""
    found: list[DocCommand] = []
    block: str | None = None  # the info string of the fenced block we are in
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if fence:
            block = fence.group(1).lower() if block is None else None
            continue
        if block is not None:
            if block in SHELL_BLOCKS:
                found += [DocCommand(f"{name}:{number}", c) for c in _from_shell_line(line)]
            continue
        for m in _INLINE.finditer(line):
            span = m.group(1).strip()
            first = span.split()[0] if span.split() else ""
            if _is_console(first):
                found += [DocCommand(f"{name}:{number}", c) for c in _from_shell_line(span)]
    return found


def extract_files(paths: Iterable[Path]) -> list[DocCommand]:
    out: list[DocCommand] = []
    for p in paths:
        out += extract(p.read_text(encoding="utf-8"), p.name)
    return out


# ------------------------------------------------------------------------------------- check
def substitute(text: str) -> str:
    for placeholder, value in sorted(PLACEHOLDERS.items(), key=lambda kv: -len(kv[0])):
        if placeholder.startswith("<"):
            text = text.replace(placeholder, value)
        else:
            text = re.sub(rf"(?<![\w$./=-]){re.escape(placeholder)}(?![\w=-])", value, text)
    return text


def to_argv(cmd: DocCommand) -> list[str]:
    words = shlex.split(substitute(cmd.text))
    assert words and _is_console(words[0]), cmd
    return words[1:]


def _mode(argv: list[str], ns) -> tuple[str, list[str]]:
    """How to run a parsed command: ("run", argv) as written or with --dry-run, or ("help", argv + --help)."""
    if "--version" in argv or "--help" in argv or "-h" in argv:
        return "run", argv
    command, action = getattr(ns, "command", None), getattr(ns, "action", None)
    if getattr(ns, "store", None) != "convex" and not getattr(ns, "demo", False):
        if hasattr(ns, "dry_run"):
            return "run", argv if ns.dry_run else [*argv, "--dry-run"]
        if (command, action) in READ_ONLY:
            return "run", argv
    if "--" in argv:  # `vault exec ... -- CMD`: --help belongs to vault exec, not to CMD
        i = argv.index("--")
        return "help", [*argv[:i], "--help"]
    return "help", [*argv, "--help"]


def check(cmd: DocCommand) -> str | None:
    """None when the documented command works; else what is wrong, in words."""
    try:
        argv = to_argv(cmd)
    except ValueError as exc:
        return f"{cmd}: cannot be split like a shell command ({exc})"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ns = cli.build_parser().parse_args(argv)
    except cli.UsageError as exc:
        return f"{cmd}: the parser refuses it: {str(exc).splitlines()[0]}"
    except SystemExit as exc:  # --help, --version
        if exc.code not in (0, None):
            return f"{cmd}: the parser exited {exc.code}"
        ns = None
    mode, run_argv = _mode(argv, ns) if ns is not None else ("run", argv)
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)  # `--demo` points this process at its own files: put them back
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(run_argv, out=out, err=err)
    except BaseException as exc:  # noqa: BLE001 - a traceback is exactly what we report
        return f"{cmd}: raised {type(exc).__name__}: {exc}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text = out.getvalue() + err.getvalue()
    if code != 0:
        return f"{cmd}: `squad-console {shlex.join(run_argv)}` exited {code}: {text.strip()[-400:]}"
    if "Traceback" in text:
        return f"{cmd}: printed a traceback"
    if mode == "help" and "usage:" not in text:
        return f"{cmd}: --help printed no usage"
    return None


def check_all(cmds: Iterable[DocCommand]) -> list[str]:
    return [problem for c in cmds if (problem := check(c)) is not None]


# ----------------------------------------------------------------------------------- fixture
@pytest.fixture
def doc_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway operator: HOME, XDG folders, the store and an OpenClaw state folder (with an
    openclaw.json naming the seed squad) all under tmp_path; no Convex, no keyring."""
    state = tmp_path / "openclaw"
    state.mkdir()
    (state / "openclaw.json").write_text(json.dumps({"agents": {"list": [
        {"id": "cestra", "default": True, "name": "Cestra", "workspace": str(state / "workspace-cestra")},
        {"id": "veda", "name": "VEDA", "workspace": str(state / "workspace-veda")},
        {"id": "orin", "name": "ORIN", "workspace": str(state / "workspace-orin")},
    ]}}))
    for var, value in {
        "HOME": tmp_path / "home", "XDG_DATA_HOME": tmp_path / "data", "XDG_CONFIG_HOME": tmp_path / "config",
        "SQUAD_CONSOLE_DB": tmp_path / "data" / "squad.db", "OPENCLAW_STATE_DIR": state,
    }.items():
        monkeypatch.setenv(var, str(value))
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `openclaw` CLI: its files are read instead
    for var in ("SQUAD_CONSOLE_CONFIG", "CONVEX_URL", "CONVEX_DEPLOY_KEY", "CONVEX_VAULT_KEY",
                "OPENCLAW_CONFIG_PATH", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PORT"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------------- tests
def test_the_operator_docs_exist_and_show_commands() -> None:
    names = {p.name for p in DOCS}
    assert set(OPERATOR_DOCS) <= names
    for p in DOCS:
        if p.name in OPERATOR_DOCS:
            assert extract(p.read_text(encoding="utf-8"), p.name), f"{p.name} shows no squad-console command"


def test_readme_starts_with_make_run_and_make_test() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    assert text.startswith("# squad-console\n")
    assert "make run" in first_block and "make test" in first_block
    assert text.index("make run") < text.index("## ")


def test_every_documented_command_runs(doc_env: Path) -> None:
    cmds = extract_files(DOCS)
    assert len(cmds) >= 40, f"only {len(cmds)} commands found: is the extractor broken?"
    problems = check_all(cmds)
    assert not problems, "documented commands that do not work:\n" + "\n".join(problems)


def test_the_extractor_finds_commands_in_every_form() -> None:
    text = """
Run `squad-console agents sync` then `squad-console check --json`.

```sh
$ squad-console heartbeat beat AGENT --error "delivery failed"
sudo /opt/squad-console/.venv/bin/squad-console service --once   # a comment
SQUAD_CONSOLE_DB=/tmp/x.db squad-console agents list && squad-console tasks list | head
squad-console audit export --format csv > audit.csv 2>/dev/null
squad-console vault exec -- squad-console --store convex check
export CONVEX_DEPLOY_KEY="$(squad-console vault get convex-deploy-key)"
journalctl -u squad-console -f
sudo systemctl enable --now squad-console
```

```text
 squad-console  Overview · polled 3s ago
```
"""
    found = [c.text for c in extract(text, "t.md")]
    assert found == [
        "squad-console agents sync", "squad-console check --json",
        "squad-console heartbeat beat AGENT --error 'delivery failed'",
        "/opt/squad-console/.venv/bin/squad-console service --once",
        "squad-console agents list", "squad-console tasks list",
        "squad-console audit export --format csv",
        "squad-console vault exec -- squad-console --store convex check", "squad-console --store convex check",
        "squad-console vault get convex-deploy-key",
    ], found
    assert to_argv(DocCommand("t", "squad-console heartbeat beat AGENT")) == ["heartbeat", "beat", "veda"]
    assert to_argv(DocCommand("t", "squad-console heartbeat pause <id>")) == ["heartbeat", "pause", "veda"]


def test_a_renamed_command_is_reported(doc_env: Path, tmp_path: Path) -> None:
    doc = tmp_path / "renamed.md"
    doc.write_text(
        "Print the cron commands:\n\n```sh\nsquad-console heartbeats crons\n```\n\n"
        "and register with `squad-console agents sync --dryrun`.\n\n"
        "The old name: `squad-console agent list`.\n"
    )
    cmds = extract_files([doc])
    assert [c.text for c in cmds] == [
        "squad-console heartbeats crons", "squad-console agents sync --dryrun", "squad-console agent list",
    ]
    problems = check_all(cmds)
    assert len(problems) == 3, problems
    assert "heartbeats" in problems[0] and "invalid choice" in problems[0]
    assert "--dryrun" in problems[1]


def test_a_failing_command_is_reported(doc_env: Path) -> None:
    # parses, but fails when run: a store that does not exist on a read-only command
    cmd = DocCommand("t.md:1", "squad-console --config /nonexistent/squad.toml agents list")
    problem = check(cmd)
    assert problem is not None and "exited 2" in problem


def test_state_changing_commands_run_with_help(doc_env: Path) -> None:
    ns = cli.build_parser().parse_args(["heartbeat", "beat", "veda"])
    assert _mode(["heartbeat", "beat", "veda"], ns) == ("help", ["heartbeat", "beat", "veda", "--help"])
    ns = cli.build_parser().parse_args(["agents", "sync"])
    assert _mode(["agents", "sync"], ns) == ("run", ["agents", "sync", "--dry-run"])
    ns = cli.build_parser().parse_args(["vault", "exec", "--", "npx", "convex", "deploy"])
    assert _mode(["vault", "exec", "--", "npx", "convex", "deploy"], ns) == ("help", ["vault", "exec", "--help"])
    # nothing was written by the checks above
    assert not (doc_env / "data" / "squad.db").exists()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_links_between_the_docs_resolve() -> None:
    anchors = {}
    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        in_block = False
        heads = set()
        for line in text.splitlines():
            if _FENCE.match(line):
                in_block = not in_block
            elif not in_block and line.startswith("#"):
                heads.add(_slug(line.lstrip("#")))
        anchors[p] = heads
    broken = []
    for p in DOCS:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", p.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            dest = (p.parent / target).resolve() if target else p
            if not dest.exists():
                broken.append(f"{p.name}: ({target}) does not exist")
            elif anchor and dest in anchors and anchor not in anchors[dest]:
                broken.append(f"{p.name}: {target}#{anchor} has no such heading")
    assert not broken, "\n".join(broken)


# ------------------------------------------------------------------------- the pipeline walkthrough
def _blocks(text: str, info: str, after: str | None = None) -> list[str]:
    """The fenced blocks of one info string (`toml`, `csv`, `sh`), after a heading if given."""
    if after is not None:
        text = text[text.index(after):]
    return re.findall(rf"(?ms)^\s*```{info}\n(.*?)^\s*```", text)


def test_the_pipeline_walkthrough_runs_for_real(doc_env: Path) -> None:
    """docs/PIPELINE.md's walkthrough, every command run as written (not with --help), in order,
    against a local feed server standing in for Acme's blog, with the doc's own rules and CSV."""
    from email.utils import formatdate

    from tests.fixtures.feeds.server import FeedServer, Route, rss

    doc = (ROOT / "docs" / "PIPELINE.md").read_text(encoding="utf-8")
    (doc_env / "squad.toml").write_text(_blocks(doc, "toml")[0])
    (doc_env / "answers.csv").write_text(textwrap_dedent(_blocks(doc, "csv")[0]))
    commands = [c.text for c in extract(_blocks(doc, "sh", after="## Walkthrough")[0].join(["```sh\n", "```\n"]),
                                        "PIPELINE.md")]
    assert len(commands) >= 10 and any("override" in c for c in commands)
    now = time.time()
    items = [{"title": title, "guid": f"acme-{i}", "pubDate": formatdate(now - i * 86400, usegmt=True),
              "description": "from Acme's blog"}
             for i, title in enumerate(["Acme's new pricing plans", "Acme cuts the price of its team plan",
                                        "Acme: a free plan on the pricing page"], start=1)]
    with FeedServer({"/blog/rss": Route(body=rss("acme", items))}) as server:
        outputs = []
        for text in commands:
            argv = shlex.split(text.replace("https://acme.example/blog/rss", server.url("/blog/rss")))[1:]
            out, err = io.StringIO(), io.StringIO()
            code = cli.main(argv, out=out, err=err)
            assert code == 0, f"{text}: exit {code}: {out.getvalue()}{err.getvalue()}"
            outputs.append((text, out.getvalue()))
    said = dict(outputs)
    assert "3 new" in said[next(c for c in said if c.endswith("pipeline fetch"))]
    show = next(o for c, o in outputs if c.endswith("show o1"))
    assert "pricing moves" in show and "3 signals behind it" in show  # each signal once
    decided = next(o for c, o in outputs if " decide " in f" {c} ")
    assert "  go  " in decided or " go " in decided.split("(")[0]
    assert "decision_overridden" in outputs[-1][1]


def textwrap_dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def test_the_docs_cite_nothing_outside_the_repository() -> None:
    """The operator's documents and the example config name no design notes the repository does
    not ship (DESIGN §n, reference/…, seed/…)."""
    for p in [*DOCS, ROOT / "assets" / "squad.example.toml"]:
        text = p.read_text(encoding="utf-8")
        for word in ("DESIGN", "reference/", "seed/PHASE2", "shared/"):
            assert word not in text, f"{p.name} cites {word!r}"


def test_the_docs_promise_nothing_that_exists() -> None:
    """No "coming" or "not built yet" for what the console has (issue 15: the README called the
    pipeline coming, ONBOARDING said screen 5 was not built yet); the README lists `pipeline`."""
    import re

    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        for words in (r"\bcoming\b", r"not (yet )?built( yet)?", r"keys do not work"):
            assert not re.search(words, text, re.IGNORECASE), f"{p.name}: {words}"
    assert "squad-console pipeline" in (ROOT / "README.md").read_text(encoding="utf-8")
