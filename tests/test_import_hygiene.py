"""The service layer never imports Textual (DESIGN §2): checked in a clean interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import console.service

SERVICE_MODULES = sorted(m.name for m in pkgutil.walk_packages(console.service.__path__, "console.service."))
NON_UI = [*SERVICE_MODULES, "console.config", "console.service.wiring"]


def test_service_modules_found() -> None:
    assert {"console.service.store", "console.service.store.sqlite", "console.service.store.convex",
            "console.service.poller", "console.service.models"} <= set(SERVICE_MODULES)


def test_no_textual_below_the_ui() -> None:
    code = (
        "import sys\n"
        f"for m in {NON_UI!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "", f"the service layer imported {p.stdout.strip()}"
