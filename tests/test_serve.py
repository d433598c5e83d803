"""Closed doors: the dashboard as ``make app`` serves it listens on loopback only, and exposing it is explicit.

No traffic leaves loopback: the test reads the kernel's socket table (``/proc/net/tcp*``) for the
server's listening addresses, and connects to 127.0.0.2 — another loopback address, which a
server bound to every interface would accept and one bound to 127.0.0.1 refuses.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from jetviz import serve

ROOT = Path(__file__).resolve().parent.parent
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            if family == socket.AF_INET:
                raw = raw[::-1]
            else:  # four little-endian 32-bit words
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.fixture
def served_default(tmp_path):
    """``python -m jetviz.serve --port P`` (what ``make app`` runs), with no address given."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "JETVIZ_ADDRESS"}
    env.update(JETVIZ_CACHE=str(tmp_path / "cache"), JETVIZ_RUNS=str(tmp_path / "runs"))
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jetviz.serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                with _NO_PROXY.open(f"http://127.0.0.1:{port}/app", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail(f"the dashboard did not come up:\n{log.read_text()[-2000:]}")
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_make_app_listens_on_loopback_only(served_default):
    port, log = served_default
    addresses = listening_addresses(port)
    assert addresses, "no listening socket found for the server's port"
    assert all(serve.is_loopback(a) for a in addresses), addresses
    assert not addresses & {"0.0.0.0", "::"}
    with pytest.raises(ConnectionRefusedError):  # another loopback address: refused by a 127.0.0.1-only server
        socket.create_connection(("127.0.0.2", port), timeout=5).close()
    assert "WARNING" not in log.read_text()


def test_makefile_serves_through_jetviz_serve_on_loopback():
    makefile = (ROOT / "Makefile").read_text()
    assert "ADDRESS ?= 127.0.0.1" in makefile
    app_recipe = makefile.split("\napp:")[1].split("\n\n")[0]
    assert "jetviz.serve --address $(ADDRESS)" in app_recipe


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                               ("127.0.0.5", True), ("0.0.0.0", False), ("::", False),
                                               ("192.0.2.7", False), ("dashboard.example.org", False)])
def test_exposure_is_explicit_and_warned(address, loopback, capsys):
    assert serve.is_loopback(address) is loopback
    assert serve.main(["--address", address, "--port", "5999", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert ("WARNING" in err) is not loopback
    command = serve.serve_command("app", address, 5999)
    assert command[command.index("--address") + 1] == address
    origins = [a for a in command if a.startswith("--allow-websocket-origin=")]
    assert "--allow-websocket-origin=*" not in origins
    if loopback:
        assert origins == ["--allow-websocket-origin=localhost:5999", "--allow-websocket-origin=127.0.0.1:5999"]


def test_environment_variable_chooses_the_address(monkeypatch, capsys):
    monkeypatch.setenv("JETVIZ_ADDRESS", "0.0.0.0")
    serve.main(["--dry-run"])
    captured = capsys.readouterr()
    assert "--address 0.0.0.0" in captured.out and "every network interface" in captured.err
