"""Closed doors: the dashboard as ``make app`` serves it listens on loopback only, and exposing it is explicit.

No traffic leaves loopback: the test reads the kernel's socket table (``/proc/net/tcp*``) for the
server's listening addresses, and connects to 127.0.0.2 — another loopback address, which a
server bound to every interface would accept and one bound to 127.0.0.1 refuses.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from jetviz import serve

ROOT = Path(__file__).resolve().parent.parent
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
    port = serve.free_port()
    env = {k: v for k, v in os.environ.items() if k != "JETVIZ_ADDRESS"}
    env.update(JETVIZ_CACHE=str(tmp_path / "cache"), JETVIZ_RUNS=str(tmp_path / "runs"))
    log = tmp_path / "serve.log"
    with serve.running_server([sys.executable, "-m", "jetviz.serve", "--port", str(port)],
                              f"http://127.0.0.1:{port}/app", log, env=env, cwd=ROOT, timeout=60):
        yield port, log


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


def test_running_server_reports_an_exit_or_an_http_error_with_the_log(tmp_path):
    port = serve.free_port()
    url = f"http://127.0.0.1:{port}/app"
    log = tmp_path / "server.log"
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3.*no app here"):
        with serve.running_server([sys.executable, "-c", "import sys; print('no app here'); sys.exit(3)"], url, log):
            pytest.fail("a server that exited was yielded")
    # a server that listens but does not serve the page: its answer, not a wait for the timeout
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with pytest.raises(RuntimeError, match="answered HTTP 404"):
        with serve.running_server(command, url, log, timeout=30):
            pytest.fail("a server without the page was yielded")
    # and one that serves it is yielded, then stopped
    (tmp_path / "app").write_text("hello")
    with serve.running_server(command, url, log, timeout=30) as proc:
        assert proc.poll() is None
    assert proc.poll() is not None
