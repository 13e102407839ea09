"""`squad-console serve`: textual-serve on loopback only, with the warning, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel lists them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(address)
    return found


def test_serve_on_loopback_with_the_warning(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SQUAD_CONSOLE_DB": str(tmp_path / "squad.db")}
    proc = subprocess.Popen([sys.executable, "-m", "console", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        assert "squad-console" in page.text
        # bound to loopback only: the listening socket's address says so
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and no other address
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert "no authentication of its own" in err and f"ssh -L {port}:127.0.0.1:{port}" in err


def test_serve_refuses_a_public_address() -> None:
    p = subprocess.run([sys.executable, "-m", "console", "serve", "--host", "0.0.0.0"], capture_output=True, text=True)
    assert p.returncode == 2 and "loopback address only" in p.stderr and "ssh -L" in p.stderr
    assert "Traceback" not in p.stderr
