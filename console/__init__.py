"""squad-console: a terminal console for running a squad of OpenClaw agents.

`asset(name)` is the one way to read a shipped file (stylesheet, example config, survey template,
systemd unit, vault test vectors). They live in the repository's top-level `assets/` folder;
`console/assets` is a symlink to it, so the same files are the package `console.assets` in a
checkout, in an editable install and in the wheel (which carries them as package data).
"""

from __future__ import annotations

import functools
from pathlib import Path

__version__ = "0.1.0"


@functools.cache
def asset(name: str) -> Path:
    """A real file path of the shipped asset `name` (e.g. "app.tcss"). A checkout and a wheel
    (which installs unpacked) have it beside this file, in `assets/`; from a zip it is read through
    importlib.resources, as a temporary copy kept until the process exits (importlib.resources is
    imported only then: it is not start-up's cost)."""
    here = Path(__file__).resolve().parent / "assets" / name
    if here.is_file():
        return here.resolve()
    import atexit
    import contextlib
    from importlib import resources

    extracted = contextlib.ExitStack()  # files extracted from a zipped install live until exit
    atexit.register(extracted.close)
    ref = resources.files("console.assets").joinpath(name)
    return extracted.enter_context(resources.as_file(ref)).resolve()
