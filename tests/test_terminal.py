"""The console in a real terminal: `squad-console --demo` in tmux at 80×24, keys sent with
send-keys, the screen read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


class Tmux:
    def __init__(self, tmp_path: Path, command: list[str], env: dict[str, str], size=(80, 24)) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is needed for the real-terminal tests: `make test` installs it")
        self.socket = f"squad-{uuid.uuid4().hex[:8]}"
        self.env = env
        shell = " ".join(f"{k}={_q(v)}" for k, v in env.items()) + " " + " ".join(_q(c) for c in command)
        # keep the pane after the program exits, so its last words can be read
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "c", "-x", str(size[0]), "-y", str(size[1]),
                   f"{shell}; echo EXITED $?; sleep 30")

    def _tmux(self, *args: str) -> str:
        p = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return p.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "c")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "c", *keys)

    def wait_for(self, *texts: str, timeout: float = 25.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{texts} not on screen after {timeout}s:\n{screen}")

    def wait_until(self, predicate, timeout: float = 25.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"condition not met after {timeout}s:\n{screen}")

    def wait_drawn(self, *texts: str, timeout: float = 25.0) -> str:
        """The screen with its colours (`capture-pane -e`) once `texts` are on it and two captures
        in a row agree: the frame has been drawn whole."""
        deadline = time.monotonic() + timeout
        previous = screen = ""
        while time.monotonic() < deadline:
            screen = self._tmux("capture-pane", "-p", "-e", "-t", "c")
            if screen == previous and all(t in self.screen() for t in texts):
                return screen
            previous = screen
            time.sleep(0.2)
        raise AssertionError(f"{texts} not drawn whole after {timeout}s:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Tmux]:
    env = {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ESCDELAY": "25",
    }
    t = Tmux(tmp_path, [sys.executable, "-m", "console", "--demo"], env)
    yield t
    t.close()


def test_demo_in_a_real_terminal(demo: Tmux) -> None:
    screen = demo.wait_for("Success criteria", "Cestra", "VEDA", "ORIN")
    assert "Overview" in screen and "Agents registered" in screen
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "Credential encryption" in screen and "plaintext" in screen  # the demo's workspace files

    demo.keys("3")
    screen = demo.wait_for("Heartbeats", "FAILING")
    assert "cestra" in screen and "veda" in screen and "orin" in screen
    demo.keys("Down")  # VEDA's row: the cause of its failures, with the fix
    screen = demo.wait_for("WhatsApp logged out", "openclaw channels login --channel whatsapp")

    demo.keys("2")
    demo.wait_for("Agents", "workspace")
    demo.keys("/")
    demo.wait_for("filter: type to narrow")  # keys sent before the filter box is up would be lost
    demo.keys("o", "r", "i")
    screen = demo.wait_until(lambda s: "orin" in s and "market analysis" not in s and "lead: go" not in s)
    demo.keys("Escape")
    demo.wait_until(lambda s: "veda" in s and "cestra" in s)

    demo.keys("?")
    demo.wait_for("Keys — Agents", "id in squad.toml [keys]", "agents.import")
    demo.keys("Escape")
    # (wait for it: a key sent within ESCDELAY of an Escape would read as alt+key)
    demo.wait_until(lambda s: "Keys —" not in s)

    demo.keys("q")
    demo.wait_for("EXITED 0")


def _colors(tmp_path: Path, *args: str, **env: str) -> str:
    base = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    t = Tmux(tmp_path, [sys.executable, "-m", "console", "--demo", *args], {**base, **env})
    try:
        return t.wait_drawn("Success criteria", "ORIN", "FAILING", "UP")
    finally:
        t.close()


def test_truecolor_kept_over_ssh(tmp_path: Path) -> None:
    """SSH forwards TERM but drops COLORTERM: the launcher restores truecolor."""
    screen = _colors(tmp_path)
    assert "38;2;" in screen or "48;2;" in screen


def test_256_and_16_colours_on_request(tmp_path: Path) -> None:
    screen = _colors(tmp_path / "a", "--color", "256")
    assert "38;2;" not in screen and "48;2;" not in screen and ("38;5;" in screen or "48;5;" in screen)
    screen = _colors(tmp_path / "b", "--color", "16")
    assert "38;2;" not in screen and "38;5;" not in screen and "48;5;" not in screen


def test_no_color_is_respected(tmp_path: Path) -> None:
    """NO_COLOR: Textual draws in monochrome (greys only); the states are still there in words."""
    import re

    screen = _colors(tmp_path, NO_COLOR="1")
    assert "38;2;" not in screen and "48;2;" not in screen
    palette = {int(n) for n in re.findall(r"[34]8;5;(\d+)", screen)}
    assert palette <= {0, 7, 8, 15, 16, 231} | set(range(232, 256)), palette
    assert "FAILING" in screen and "UP" in screen


def test_the_migration_wizard_in_a_real_terminal(tmp_path: Path) -> None:
    from console.service.vault import generate_key

    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ESCDELAY": "25",
           "CONVEX_VAULT_KEY": generate_key().hex(), "SQUAD_CONSOLE_KEYRING": "off"}
    t = Tmux(tmp_path, [sys.executable, "-m", "console", "--demo"], env, size=(100, 30))
    try:
        t.wait_for("Success criteria", "plaintext")
        t.keys("4")
        t.wait_for("Vault", "Press m to migrate")
        t.keys("m")
        t.wait_for("step 1/8", ".convex-deploy-key")
        for title, phrase in (("step 2/8", None), ("step 3/8", None), ("step 4/8", None), ("step 5/8", None),
                              ("step 6/8", None), ("step 7/8", "update workflows"), ("step 8/8", "remove plaintext"),
                              ("Migration report", None)):  # step 8 (OpenClaw's config): no openclaw CLI here
            if phrase:
                t.keys("-l", phrase)
            t.keys("Enter")
            t.wait_for(title)
        screen = t.wait_for("Migration report", "migrated:")
        assert "convex-deploy-key" in screen
        t.keys("Escape")
        t.wait_until(lambda s: "Migration report" not in s and "convex-deploy-key" in s)
        t.keys("1")
        t.wait_for("Credential encryption", "done")
    finally:
        t.close()
