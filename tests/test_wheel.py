"""The project as a new user gets it: a wheel built from a copy of the checkout, installed into a
fresh venv (its dependencies from the package index or pip's cache), run from a folder outside the
checkout with private HOME/XDG folders and no PYTHONPATH: `--version`, `check`, `tasks list`, and
the demo console in tmux. The shipped assets must be the installed package's own files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console import __version__
from tests.test_terminal import Tmux

ROOT = Path(__file__).resolve().parent.parent
ASSETS = sorted(p.name for p in (ROOT / "assets").iterdir() if p.is_file())
# not part of a clean clone: never copied into the build
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".hypothesis", "*.pyc")

pytestmark = pytest.mark.timeout(300)  # building, installing (index or cache) and the demo together


@dataclass
class Installed:
    venv: Path
    work: Path  # the folder outside the checkout the commands run in
    env: dict[str, str]  # private HOME/XDG folders, the venv's bin first on PATH, no PYTHONPATH

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=timeout)

    def console(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "squad-console"), *args)


def _run(*args: str | Path, cwd: Path) -> None:
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=_NOT_SOURCE)  # console/assets stays a symlink
    dist = base / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist, src, cwd=base)
    wheels = list(dist.glob("squad_console-*.whl"))
    assert len(wheels) == 1, wheels
    shutil.rmtree(src)  # nothing of the build's source is left to read from

    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    _run(env_dir / "bin" / "python", "-m", "pip", "install", "--quiet", wheels[0], cwd=base)

    work = base / "elsewhere"
    work.mkdir()
    env = {
        "HOME": str(base / "home"),
        "XDG_DATA_HOME": str(base / "home" / "data"),
        "XDG_CONFIG_HOME": str(base / "home" / "config"),
        "XDG_CACHE_HOME": str(base / "home" / "cache"),
        "PATH": os.pathsep.join([str(env_dir / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    yield Installed(env_dir, work, env)


def test_the_wheel_carries_every_asset(installed: Installed) -> None:
    """Read through importlib.resources from the installed package, with the checkout nowhere on
    sys.path (-I: no PYTHONPATH, no user site, no current folder)."""
    code = (
        "import sys, console, console.app, console.config\n"
        "print(console.__file__)\n"
        "print(console.app.SquadApp.CSS_PATH[0])\n"
        "print(console.config.PipelineSettings().survey_template)\n"
        f"for name in {ASSETS!r}: print(console.asset(name))\n"
        f"print(any(p.startswith({str(ROOT)!r}) for p in sys.path))\n"
    )
    p = installed.run(str(installed.bin / "python"), "-I", "-c", code)
    assert p.returncode == 0, p.stderr
    init, css, template, *assets, on_path = p.stdout.splitlines()
    package = Path(init).parent
    site = installed.venv.resolve()
    assert package.is_relative_to(site) and package.name == "console", init
    assert on_path == "False"
    assert Path(css) == package / "assets" / "app.tcss"
    assert Path(template) == package / "assets" / "survey.template.json"
    for name, path in zip(ASSETS, assets, strict=True):
        shipped = Path(path)
        assert shipped == package / "assets" / name and not shipped.is_symlink()
        assert shipped.read_bytes() == (ROOT / "assets" / name).read_bytes(), name


def test_the_commands_run_outside_the_checkout(installed: Installed) -> None:
    p = installed.console("--version")
    assert (p.returncode, p.stdout.strip()) == (0, f"squad-console {__version__}"), p.stderr

    # an empty store: every agent NEW (degraded, exit 1); with the gateway probed at a closed port
    # (from ./squad.toml, found in the current folder) it is down (exit 2)
    p = installed.console("check", "--no-gateway")
    assert p.returncode == 1 and p.stdout.splitlines()[-1] == "DEGRADED", p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    (installed.work / "squad.toml").write_text('[openclaw]\ngateway = "http://127.0.0.1:9"\n')
    try:
        p = installed.console("check")
    finally:
        (installed.work / "squad.toml").unlink()
    assert p.returncode == 2 and p.stdout.splitlines()[-1] == "DOWN", p.stdout + p.stderr
    assert "gateway  DOWN" in p.stdout and "Traceback" not in p.stderr

    p = installed.console("tasks", "list")
    assert p.returncode == 0 and "no tasks yet" in p.stdout, p.stdout + p.stderr

    p = installed.console("pipeline", "survey", "template")  # the shipped survey template
    assert p.returncode == 0 and str(installed.venv.resolve()) in p.stdout, p.stdout + p.stderr


def test_the_demo_console_from_the_wheel(installed: Installed) -> None:
    # env -u: tmux's server inherits this process's environment (PYTHONPATH included)
    command = ["env", "-u", "PYTHONPATH", "-u", "PYTHONHOME", "-C", str(installed.work),
               str(installed.bin / "squad-console"), "--demo"]
    t = Tmux(installed.work, command, {**installed.env, "ESCDELAY": "25"})
    try:
        screen = t.wait_for("Success criteria", "Cestra", "VEDA", "ORIN", timeout=45)
        assert "Overview" in screen and "Agents registered" in screen, screen
        t.keys("q")
        t.wait_for("EXITED 0")
    finally:
        t.close()
