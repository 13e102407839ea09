"""squad-console: a terminal console for running a squad of OpenClaw agents.

`asset(name)` is the one way to read a shipped file (stylesheet, example config, survey template,
systemd unit, vault test vectors). They live in the repository's top-level `assets/` folder;
`console/assets` is a symlink to it, so the same files are the package `console.assets` in a
checkout, in an editable install and in the wheel (which carries them as package data).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
from importlib import resources
from pathlib import Path

__version__ = "0.1.0"

_EXTRACTED = contextlib.ExitStack()  # files extracted from a zipped install live until exit
atexit.register(_EXTRACTED.close)


@functools.cache
def asset(name: str) -> Path:
    """A real file path of the shipped asset `name` (e.g. "app.tcss"), read through
    importlib.resources: a wheel installs unpacked, so this is the file inside the installed
    package; from a zip it is a temporary copy kept until the process exits."""
    ref = resources.files("console.assets").joinpath(name)
    return _EXTRACTED.enter_context(resources.as_file(ref)).resolve()
