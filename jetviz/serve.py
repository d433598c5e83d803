"""Serving the dashboard: ``panel serve app/`` on the loopback address unless the operator asks otherwise.

The dashboard runs code on its host (it trains models, reads files, starts jobs): whoever can
open its page can make the server work. So ``jetviz serve`` (and ``make app``, which calls it)
listens on ``127.0.0.1`` only, and accepts websocket connections only from pages served by that
address. Another address is the operator's explicit choice — ``--address`` or ``$JETVIZ_ADDRESS``
— and is announced with a warning: put an authenticating proxy in front (docs/security.md).

:func:`serve_command` builds the command line (the Binder proxy uses it too);
:func:`main` is ``jetviz serve``; :func:`running_server` starts a server process, waits until it
answers and stops it (the browser tests, the Binder test and ``benchmarks/ui_latency.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping, Sequence

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_PORT", "is_loopback", "exposure_warning", "serve_command", "free_port",
           "running_server", "main"]

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 5006


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or ``localhost``) only listens on this machine's loopback interface."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def exposure_warning(address: str, port: int) -> str | None:
    """The warning printed when the dashboard listens beyond loopback (None on loopback)."""
    if is_loopback(address):
        return None
    everywhere = address in ("0.0.0.0", "::", "")
    where = "on every network interface" if everywhere else f"on {address}"
    return (f"WARNING: the jetviz dashboard will listen {where} (port {port}). It runs code for whoever "
            "reaches the page: training, file access under $JETVIZ_DATA and the backends in $JETVIZ_BACKENDS. "
            "Expose it only behind an authenticating proxy (see docs/security.md).")


def panel_executable() -> str:
    """The ``panel`` script of this Python environment (falls back to ``panel`` on ``$PATH``)."""
    here = Path(sys.executable).parent / "panel"
    if here.is_file():
        return str(here)
    return shutil.which("panel") or "panel"


def serve_command(app_dir: str | Path, address: str = DEFAULT_ADDRESS, port: int | str = DEFAULT_PORT,
                  allow_origins: Sequence[str] = (), prefix: str | None = None,
                  extra: Sequence[str] = ()) -> list[str]:
    """The ``panel serve`` command line for the dashboard in ``app_dir``.

    Parameters
    ----------
    app_dir : path
        The Bokeh directory app (``app/``, holding ``main.py``).
    address : str
        Interface to listen on (default loopback).
    port : int or str
        Port (a str for templates such as jupyter-server-proxy's ``"{port}"``).
    allow_origins : sequence of str
        ``host[:port]`` of pages allowed to open the websocket, beyond the address itself
        (``*`` only behind a proxy that authenticates: Binder).
    prefix : str, optional
        URL prefix (behind a proxy).
    extra : sequence of str
        Further ``panel serve`` arguments.
    """
    origins: list[str] = []
    if is_loopback(address):
        origins += [f"localhost:{port}", f"127.0.0.1:{port}"]
    elif address not in ("0.0.0.0", "::", ""):
        origins.append(f"{address}:{port}")
    origins += [o for o in allow_origins if o not in origins]
    command = [panel_executable(), "serve", str(app_dir), "--address", address, "--port", str(port)]
    command += [f"--allow-websocket-origin={origin}" for origin in origins]
    if prefix:
        command += ["--prefix", prefix]
    return command + list(extra)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextlib.contextmanager
def running_server(command: Sequence[str], url: str, log: str | Path, env: Mapping[str, str] | None = None,
                   cwd: str | Path | None = None, timeout: float = 90.0) -> Iterator[subprocess.Popen]:
    """Run the server ``command`` until the block ends; yields its process once ``url`` answers HTTP 200.

    Parameters
    ----------
    command : sequence of str
        The server's command line (e.g. :func:`serve_command`, or ``python -m panel serve app/ …``).
    url : str
        A page of the server; fetched without proxies every 0.3 s until it answers 200.
    log : path
        The server's stdout and stderr go there (overwritten); its tail is in the errors.
    env : mapping, optional
        The server's whole environment (default: this process's).
    cwd : path, optional
        The server's working directory.
    timeout : float
        Seconds to wait for the first answer.

    Raises
    ------
    RuntimeError
        The server exited, answered with an HTTP error, or did not answer within ``timeout``.
    """
    log = Path(log)

    def failed(why: str) -> RuntimeError:
        return RuntimeError(f"{why}:\n{log.read_text(errors='replace')[-3000:]}")

    with open(log, "wb") as out:
        proc = subprocess.Popen(list(command), cwd=cwd, env=None if env is None else dict(env),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise failed(f"the server exited with {proc.returncode}")
            try:
                with _NO_PROXY.open(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except urllib.error.HTTPError as err:  # listening, but not serving that page
                raise failed(f"{url} answered HTTP {err.code}") from None
            except OSError:  # not listening yet
                pass
            if time.monotonic() > deadline:
                raise failed(f"the server did not answer {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """``jetviz serve``: serve the dashboard (replaces this process with ``panel serve``)."""
    from jetviz.binder import app_dir

    parser = argparse.ArgumentParser(prog="jetviz serve", description="serve the jetviz dashboard (panel serve app/)")
    parser.add_argument("--address", default=os.environ.get("JETVIZ_ADDRESS", DEFAULT_ADDRESS),
                        help="interface to listen on (default 127.0.0.1, or $JETVIZ_ADDRESS); another address "
                             "lets anyone who reaches it run code on this machine")
    parser.add_argument("--port", type=int, default=int(os.environ.get("JETVIZ_PORT", DEFAULT_PORT)))
    parser.add_argument("--allow-origin", action="append", default=[], metavar="HOST:PORT",
                        help="a further page origin allowed to open the websocket (e.g. your proxy's host)")
    parser.add_argument("--dry-run", action="store_true", help="print the command and exit")
    args, extra = parser.parse_known_args(argv)
    warning = exposure_warning(args.address, args.port)
    if warning:
        print(warning, file=sys.stderr)
    command = serve_command(app_dir(), args.address, args.port, args.allow_origin, extra=extra)
    where = f"[{args.address}]" if ":" in args.address else args.address
    print(f"jetviz dashboard: http://{'localhost' if is_loopback(args.address) else where}:{args.port}/app",
          file=sys.stderr)
    if args.dry_run:
        print(" ".join(command))
        return 0
    os.execv(command[0], command) if os.path.isabs(command[0]) else os.execvp(command[0], command)
    return 0  # pragma: no cover (execv does not return)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
