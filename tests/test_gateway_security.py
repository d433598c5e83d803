"""Backends are the operator's choice and gateway credentials go to the configured gateway only.

Real HTTP servers on 127.0.0.1 (``http.server`` in threads) record every request and its
``Authorization`` header; one redirects to the other. Nothing leaves loopback; every request
is answered at once.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jetviz.compute import (GatewayBackend, JobFailed, KernelBackend, ProcessBackend, Registry, ThreadBackend,
                            allowed_backends, backend, choose_backend, submit)
from jetviz.errors import ConfigError
from jetviz.runners.jetclr import JetclrConfig

TINY = dict(sample="toy_top_qcd", n_jets=160, d_model=8, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4, batch_size=16,
            epochs=1, threads=1)


class Recorder:
    """A real HTTP server on 127.0.0.1 that records (method, path, Authorization) and answers with ``route``."""

    def __init__(self):
        self.requests: list[tuple[str, str, str | None]] = []
        self.route = lambda method, path: (403, {}, b'{"message": "Forbidden"}')
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.command, self.path, self.headers.get("Authorization")))
                code, headers, body = recorder.route(self.command, self.path)
                self.send_response(code)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers(monkeypatch, tmp_path):
    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path / "runs"))
    for name in ("JETVIZ_BACKENDS", "JETVIZ_GATEWAY_URL", "JETVIZ_GATEWAY_TOKEN", "JUPYTER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    a, b = Recorder(), Recorder()
    yield a, b
    a.close()
    b.close()


def failed(spec, tmp_path) -> tuple:
    """Submit a tiny jetclr job to ``spec``; wait for its end; (job, registry record)."""
    registry = Registry(tmp_path / "registry.sqlite")
    job = submit("jetclr", JetclrConfig(**TINY), spec, registry=registry)
    assert job.wait(60), "the gateway job did not end"
    return job, registry.get(job.id)


# ----------------------------------------------------------------------------- the allow-list
def test_a_backend_outside_the_allow_list_is_refused_and_nothing_is_contacted(servers, monkeypatch):
    a, _ = servers
    assert [b.name for b in allowed_backends()] == ["local", "process"]  # the default list
    assert isinstance(choose_backend("local"), ThreadBackend) and isinstance(choose_backend("process"), ProcessBackend)
    for visitor in ("kernel:python3", "dask", "tcp://127.0.0.1:8786", f"{a.url}?token=visitor-secret", "thread", ""):
        with pytest.raises(ConfigError, match="not one this server offers.*JETVIZ_BACKENDS") as refused:
            choose_backend(visitor)
        assert "visitor-secret" not in str(refused.value)
    assert a.requests == []  # refused before anything was started or contacted
    monkeypatch.setenv("JETVIZ_BACKENDS", f"local, kernel:python3, {a.url}/base?token=op-secret&kernel=torch")
    offered = allowed_backends()
    labels = [b.name for b in offered]
    assert labels == ["local", "kernel:python3", f"gateway:{a.url}/base kernel=torch"]
    assert isinstance(choose_backend("kernel:python3", offered), KernelBackend)
    gateway = choose_backend(labels[2], offered)
    assert isinstance(gateway, GatewayBackend) and gateway.token == "op-secret" and gateway.kernel_name == "torch"
    assert "op-secret" not in repr(gateway) + " ".join(labels)
    with pytest.raises(ConfigError, match="not one this server offers"):  # the operator's spec is not a label
        choose_backend(f"{a.url}/base?token=op-secret&kernel=torch", offered)
    assert a.requests == []


def test_the_python_api_stays_free(servers):
    assert isinstance(backend("kernel:python3"), KernelBackend)  # not on the list, but the code's author chose it
    with pytest.raises(ConfigError, match="not one this server offers"):
        choose_backend("kernel:python3")


# ----------------------------------------------------------------------------- where tokens go
def test_the_environment_token_never_reaches_an_unconfigured_host(servers, monkeypatch, tmp_path):
    a, b = servers
    monkeypatch.setenv("JUPYTER_TOKEN", "s3cret-env")
    monkeypatch.setenv("JETVIZ_GATEWAY_URL", a.url)  # the operator's gateway is A
    job, record = failed(b.url, tmp_path)  # a typed URL of another host
    assert job.status == "failed" and "HTTP 403" in job.error
    assert b.requests == [("POST", "/api/kernels", None)]  # asked, without credentials
    assert a.requests == []
    job, _ = failed(a.url, tmp_path)  # the configured gateway gets the token
    assert a.requests[0] == ("POST", "/api/kernels", "token s3cret-env")
    monkeypatch.setenv("JETVIZ_GATEWAY_TOKEN", "jetviz-first")  # JETVIZ_GATEWAY_TOKEN wins over JUPYTER_TOKEN
    failed(a.url, tmp_path)
    assert a.requests[-1] == ("POST", "/api/kernels", "token jetviz-first")
    assert all("s3cret" not in str(r) for r in b.requests)


def test_a_redirect_to_another_host_is_refused_and_gets_no_token(servers, monkeypatch, tmp_path):
    a, b = servers
    monkeypatch.setenv("JETVIZ_GATEWAY_TOKEN", "s3cret-env")
    monkeypatch.setenv("JETVIZ_BACKENDS", f"local,{a.url}")
    a.route = lambda method, path: (307, {"Location": f"{b.url}{path}"}, b"")
    job, record = failed(choose_backend(f"gateway:{a.url}"), tmp_path)
    assert a.requests == [("POST", "/api/kernels", "token s3cret-env")]
    assert b.requests == []  # not followed at all
    assert job.status == "failed" and "redirected to another host" in job.error and "refused" in job.error
    assert "s3cret" not in job.error + (record.error or "")


def test_a_same_host_redirect_is_followed_with_the_token(servers, monkeypatch, tmp_path):
    a, _ = servers
    monkeypatch.setenv("JETVIZ_GATEWAY_TOKEN", "s3cret-env")
    monkeypatch.setenv("JETVIZ_GATEWAY_URL", a.url)
    a.route = lambda method, path: ((303, {"Location": "/moved" + path}, b"") if not path.startswith("/moved")
                                    else (403, {}, b"{}"))  # (urllib follows a POST's 303 as a GET)
    job, _ = failed(a.url, tmp_path)
    assert a.requests == [("POST", "/api/kernels", "token s3cret-env"), ("GET", "/moved/api/kernels", "token s3cret-env")]
    assert "HTTP 403" in job.error


def test_the_kernel_websocket_follows_no_redirect(servers, monkeypatch, tmp_path):
    a, b = servers
    monkeypatch.setenv("JETVIZ_GATEWAY_TOKEN", "s3cret-env")
    monkeypatch.setenv("JETVIZ_GATEWAY_URL", a.url)

    def route(method, path):
        if method == "POST" and path == "/api/kernels":
            return 201, {"Content-Type": "application/json"}, json.dumps({"id": "k-1"}).encode()
        if path.startswith("/api/kernels/k-1/channels"):
            return 302, {"Location": f"{b.url}{path}"}, b""
        return 204, {}, b""

    a.route = route
    job, _ = failed(a.url, tmp_path)
    assert job.status == "failed" and "Redirect" in job.error and "s3cret" not in job.error
    assert b.requests == []  # the websocket did not follow it with the token
    deadline = time.monotonic() + 10  # the kernel is deleted after the job ended
    while len(a.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(m, p.partition("?")[0], auth) for m, p, auth in a.requests] == [
        ("POST", "/api/kernels", "token s3cret-env"), ("GET", "/api/kernels/k-1/channels", "token s3cret-env"),
        ("DELETE", "/api/kernels/k-1", "token s3cret-env")]  # and the kernel it started is deleted


# ----------------------------------------------------------------------------- credentials are never shown
def test_url_credentials_go_to_their_host_and_never_into_the_registry_or_errors(servers, tmp_path):
    _, b = servers
    job, record = failed(f"http://alice:pa%40ss@127.0.0.1:{b.url.rsplit(':', 1)[1]}/?token=tok-123", tmp_path)
    assert b.requests == [("POST", "/api/kernels", "token tok-123")]  # the URL's token, to the URL's host
    with pytest.raises(JobFailed) as raised:
        job.result()
    shown = " ".join([job.backend_name, repr(job), job.error, str(raised.value), record.backend, record.error or ""])
    assert job.backend_name == record.backend == f"gateway:{b.url}"
    for secret in ("tok-123", "alice", "pa%40ss", "pa@ss"):
        assert secret not in shown
    failed(f"http://alice:pa%40ss@127.0.0.1:{b.url.rsplit(':', 1)[1]}", tmp_path)  # no token: the password as Basic
    assert b.requests[-1][2] == "Basic " + base64.b64encode(b"alice:pa@ss").decode()


def test_plain_http_to_a_remote_host_warns_and_loopback_does_not():
    with pytest.warns(UserWarning, match="unencrypted"):
        assert backend("http://gpu.example.org:8888").name == "gateway:http://gpu.example.org:8888"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend("http://127.0.0.1:8888")
        backend("http://localhost:8888")
        backend("http://[::1]:8888")
        backend("https://gpu.example.org:8888")
