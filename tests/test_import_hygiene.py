"""The layering of DESIGN §2, checked twice.

Statically: the import-linter contracts in pyproject.toml (`[tool.importlinter]`) — the service
layer imports no UI, no store implementation imports another, `config` and `errors` are leaves.
Dynamically: every module below `console.service` (subpackages included), with `console.config`
and `console.errors`, is imported in a clean interpreter and must not pull in Textual or any UI module of the project.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import console.service

ROOT = Path(__file__).resolve().parent.parent

SERVICE_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(console.service.__path__, prefix="console.service.")
)
NON_UI = ["console.service", *SERVICE_MODULES, "console.config", "console.errors"]
# Rich is checked by the static contract only: httpx's own __init__ imports rich whenever it is
# installed (for the `httpx` command line), so at run time it arrives with the Convex client.
UI_ROOTS = ("textual", "console.screens", "console.commands", "console.app", "console.palette",
            "console.cli", "widgets")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_service_modules_found() -> None:
    """The walk reaches into every subpackage, so a module added there is checked too."""
    assert {
        "console.service.store", "console.service.store.sqlite", "console.service.store.convex",
        "console.service.store.outbox", "console.service.health.slots", "console.service.openclaw",
        "console.service.vault", "console.service.pipeline.feeds", "console.service.poller",
        "console.service.models", "console.service.wiring",
    } <= set(SERVICE_MODULES)


def test_no_ui_below_the_ui() -> None:
    code = (
        "import sys\n"
        f"for m in {NON_UI!r}: __import__(m)\n"
        f"roots = {UI_ROOTS!r}\n"
        "bad = sorted(m for m in sys.modules if any(m == r or m.startswith(r + '.') for r in roots))\n"
        "print(','.join(bad))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "", f"the service layer imported {p.stdout.strip()}"


def test_import_contracts_hold() -> None:
    """`lint-imports` (import-linter, in the `test` extra) keeps every contract in pyproject.toml."""
    try:
        import importlinter  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        raise AssertionError("import-linter is not installed: pip install -e '.[test]'") from None
    p = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120,
    )
    assert p.returncode == 0, f"import contracts broken (lint-imports exit {p.returncode}):\n{p.stdout}\n{p.stderr}"
    assert "0 broken" in p.stdout, p.stdout
