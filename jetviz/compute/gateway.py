"""The gateway backend: a job on a remote Jupyter kernel, a Jupyter Server or Kernel/Enterprise Gateway reached over HTTP.

Design notes: docs/architecture.md, section ``jetviz.compute.gateway``.
"""
from __future__ import annotations

import base64
import json
import queue
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from datetime import datetime, timezone

from jetviz.compute.credentials import configured_origins, environment_token, is_loopback, origin, redact
from jetviz.compute.job import Backend, JobFeed
from jetviz.compute.kernel import check_kernel_name, relay_iopub
from jetviz.compute.worker import kernel_code
from jetviz.errors import ConfigError

__all__ = ["GatewayBackend"]


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect to the gateway's own origin only (credentials sent again there); refuses any other."""

    def __init__(self, gateway_origin: tuple, auth: dict):
        super().__init__()
        self.gateway_origin, self.auth = gateway_origin, auth

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        try:
            same = origin(newurl) == self.gateway_origin
        except ValueError:
            same = False
        if not same:
            fp.close()
            raise ConnectionError(f"{req.get_method()} {urllib.parse.urlsplit(req.full_url).path} was redirected to "
                                  f"another host ({redact(newurl)}): refused, credentials go to the configured gateway only")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        for key, value in self.auth.items() if new is not None else ():
            new.add_unredirected_header(key, value)
        return new


class GatewayBackend(Backend):
    """A kernel on the Jupyter Server / Kernel Gateway at ``url`` (see the module docstring).

    ``token``: sent as ``Authorization: token …`` (default: the URL's, else the environment's if
    the operator configured this gateway). ``environ``: where that is looked up (default ``os.environ``).
    """

    schemes = ("http", "https")

    def __init__(self, url: str, kernel_name: str | None = None, token: str | None = None, timeout: float = 120.0,
                 environ=None):
        parts = urllib.parse.urlsplit(url.strip())
        try:
            self.origin = origin(url.strip())
        except ValueError as err:
            raise ConfigError(f"gateway URL {redact(url)!r}: {err}") from None
        scheme, host, _ = self.origin
        if scheme not in self.schemes or not host:
            raise ConfigError(f"gateway URL must be http(s)://host:port[/base], got {redact(url)!r}")
        self.base = f"{scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}"
        query = urllib.parse.parse_qs(parts.query)
        self.kernel_name = check_kernel_name(kernel_name or query.get("kernel", ["python3"])[0])
        configured = self.origin in configured_origins(environ)
        self.token = token or query.get("token", [None])[0] or (environment_token(environ) if configured else None)
        self._secrets = [secret for secret in (self.token, parts.password) if secret]
        if self.token:
            self._auth = {"Authorization": f"token {self.token}"}
        elif parts.username:
            pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self._auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        else:
            self._auth = {}
        self._opener = urllib.request.build_opener(_SameOriginRedirects(self.origin, self._auth))
        self.timeout = timeout
        self.name = f"gateway:{self.base}" + ("" if self.kernel_name == "python3" else f" kernel={self.kernel_name}")
        if scheme == "http" and not is_loopback(host):
            warnings.warn(f"{self.name}: plain http:// to a host other than loopback sends the job, its results and "
                          f"any token unencrypted; use https://", stacklevel=2)

    @classmethod
    def from_spec(cls, spec: str, environ=None) -> "GatewayBackend":
        return cls(spec, environ=environ)

    def _scrub(self, text: str) -> str:
        """``text`` as it may be shown: URLs redacted, this gateway's secrets replaced by ``***``."""
        text = redact(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # ----------------------------------------------------------------------------- REST
    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        for key, value in self._auth.items():  # an unredirected header: never copied onto a redirect
            request.add_unredirected_header(key, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            raise ConnectionError(f"{method} {path} answered HTTP {err.code} {err.reason}") from None
        except urllib.error.URLError as err:
            raise ConnectionError(f"unreachable ({err.reason})") from None
        return json.loads(text) if text else {}

    # ----------------------------------------------------------------------------- the job
    def start(self, feed: JobFeed) -> None:
        threading.Thread(target=self._main, args=(feed,), daemon=True, name=f"jetviz-gateway-{feed.job.id}").start()

    def _main(self, feed: JobFeed) -> None:
        import websocket

        job = feed.job
        kernel_id = ws = None
        try:
            kernel_id = str(self._request("POST", "/api/kernels", {"name": self.kernel_name}).get("id", ""))
            if not re.fullmatch(r"[\w-]+", kernel_id):
                raise ConnectionError(f"POST /api/kernels answered no valid kernel id ({kernel_id[:40]!r})")
            session = uuid.uuid4().hex
            ws = websocket.create_connection(f"ws{self.base[4:]}/api/kernels/{kernel_id}/channels?session_id={session}",
                                             header=[f"{k}: {v}" for k, v in self._auth.items()],
                                             timeout=self.timeout, redirect_limit=0)
            lost = [False]  # the connection closed, or the kernel died

            def get(timeout: float) -> dict:  # the next iopub message ({} for another channel); queue.Empty if none
                ws.settimeout(timeout)
                try:
                    message = json.loads(ws.recv() or "null")
                except websocket.WebSocketTimeoutException:
                    raise queue.Empty from None
                except (websocket.WebSocketException, OSError):
                    message = None
                if message is None:
                    lost[0] = True
                    raise queue.Empty
                if message.get("channel") != "iopub":
                    return {}
                if message.get("content", {}).get("execution_state") in ("dead", "restarting"):
                    lost[0] = True
                return message

            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "jetviz", "session": session,
                           "date": datetime.now(timezone.utc).isoformat(), "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": kernel_code(job.runner, job.config, job.run_dir), "silent": False,
                            "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))
            feed.on_cancel(lambda: self._request("POST", f"/api/kernels/{kernel_id}/interrupt"))
            relay_iopub(feed, msg_id, get, lambda: not lost[0], f"the kernel {self.kernel_name!r} on {self.base}")
        except Exception as err:
            feed.fail(self._scrub(f"gateway {self.name}: {type(err).__name__}: {err}"))
        finally:
            if ws is not None:
                ws.close()
            if kernel_id:
                try:
                    self._request("DELETE", f"/api/kernels/{kernel_id}")
                except Exception:  # already gone
                    pass
