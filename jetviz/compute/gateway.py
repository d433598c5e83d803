"""Jobs on a remote Jupyter kernel: a Jupyter Server or Kernel/Enterprise Gateway reached over HTTP.

This is how a user reaches a GPU node: the gateway starts a kernel there (``POST
/api/kernels``), the job's code runs in it and its progress lines come back over the kernel's
websocket channel (``/api/kernels/<id>/channels``, the Jupyter messaging protocol in JSON).
Cancel asks the kernel to interrupt (``POST /api/kernels/<id>/interrupt``; the runner keeps its
last checkpoint); the kernel is deleted when the job ends. Results and checkpoints stay in
the run directory on the remote side's storage (by path: share it, or copy it back).

URL form: ``http(s)://host:port[/base]?token=TOKEN&kernel=NAME`` (token also from
``JUPYTER_TOKEN``/``JETVIZ_GATEWAY_TOKEN``; kernel default ``python3``). The same code path is
exercised in the tests against a real local ``jupyter server``.
"""
from __future__ import annotations

import json
import os
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

from jetviz.compute.jobs import Backend, Job, _relay_kernel_messages
from jetviz.errors import ConfigError

__all__ = ["GatewayBackend"]


class GatewayBackend(Backend):
    """A kernel on the Jupyter Server / Kernel Gateway at ``url`` (see the module docstring)."""

    def __init__(self, url: str, kernel_name: str | None = None, token: str | None = None, timeout: float = 120.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"gateway URL must be http(s)://host:port[/base], got {url!r}")
        query = urllib.parse.parse_qs(parts.query)
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.token = token or query.get("token", [None])[0] or os.environ.get("JETVIZ_GATEWAY_TOKEN") \
            or os.environ.get("JUPYTER_TOKEN")
        self.kernel_name = kernel_name or query.get("kernel", ["python3"])[0]
        self.timeout = timeout
        self.name = f"gateway:{self.base}"

    # ----------------------------------------------------------------------------- REST
    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **self._auth()})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            raise ConnectionError(f"gateway {self.base}: {method} {path} answered HTTP {err.code} {err.reason}") from None
        except urllib.error.URLError as err:
            raise ConnectionError(f"gateway {self.base} unreachable: {err.reason}") from None
        return json.loads(text) if text else {}

    def _auth(self) -> dict:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    # ----------------------------------------------------------------------------- the job
    def start(self, job: Job) -> None:
        threading.Thread(target=self._main, args=(job,), daemon=True, name=f"jetviz-gateway-{job.id}").start()

    def _main(self, job: Job) -> None:
        import websocket

        kernel_id = None
        ws = None
        try:
            kernel_id = self._request("POST", "/api/kernels", {"name": self.kernel_name})["id"]
            job.kernel = kernel_id
            ws_base = "ws" + self.base[len("http"):]
            session = uuid.uuid4().hex
            ws = websocket.create_connection(f"{ws_base}/api/kernels/{kernel_id}/channels?session_id={session}",
                                             header=[f"{k}: {v}" for k, v in self._auth().items()],
                                             timeout=self.timeout)
            ws.settimeout(0.5)
            messages: queue.Queue = queue.Queue()
            closed = threading.Event()

            def read() -> None:
                while not closed.is_set():
                    try:
                        text = ws.recv()
                    except websocket.WebSocketTimeoutException:
                        continue
                    except Exception:  # connection lost: the kernel or the gateway went away
                        closed.set()
                        return
                    if not text:
                        closed.set()
                        return
                    message = json.loads(text)
                    if message.get("channel") == "iopub":
                        messages.put(message)
                        content = message.get("content", {})
                        if message.get("msg_type") == "status" and content.get("execution_state") in ("dead", "restarting"):
                            closed.set()

            reader = threading.Thread(target=read, daemon=True, name=f"jetviz-gateway-read-{job.id}")
            reader.start()
            code = ("from jetviz.compute.worker import kernel_main\n"
                    f"kernel_main({job.runner!r}, {json.dumps(job.config)!r}, {str(job.run_dir)!r})")
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "jetviz", "session": session,
                           "date": datetime.now(timezone.utc).isoformat(), "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True},
            }))
            job._cancel_hook = lambda: self._request("POST", f"/api/kernels/{kernel_id}/interrupt")
            if job._cancel.is_set():
                job._cancel_hook()
            _relay_kernel_messages(job, msg_id, lambda timeout: messages.get(timeout=timeout),
                                   lambda: not closed.is_set() or not messages.empty(),
                                   f"the kernel {self.kernel_name!r} on {self.base}")
            closed.set()
        except Exception as err:
            job._finish("failed", error=f"gateway {self.base}: {type(err).__name__}: {err}")
        finally:
            if ws is not None:
                try:
                    ws.close()
                except Exception:
                    pass
            if kernel_id is not None:
                try:
                    self._request("DELETE", f"/api/kernels/{kernel_id}")
                except Exception:  # already gone
                    pass
