"""Binder / JupyterHub: the dashboard behind ``jupyter-server-proxy``.

``binder/postBuild`` installs ``binder/jupyter_server_config.py`` into the user's Jupyter config
directory; that file sets ``c.ServerProxy.servers = servers()``. jupyter-server-proxy then starts
``panel serve app/`` on first request of ``{base_url}panel/`` and proxies it, so the dashboard is
at ``{base_url}panel/app`` (e.g. ``/user/<id>/panel/app`` on mybinder.org) and in the JupyterLab
launcher as "jetviz dashboard".

The same entry could be registered as a ``jupyter_serverproxy_servers`` entry point
(``panel = "jetviz.binder:panel_server"``); the config file does it without touching packaging.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SERVER_NAME", "app_dir", "panel_server", "servers"]

#: URL segment under the Jupyter base URL (``{base_url}panel/``); also the ``--prefix`` tail.
SERVER_NAME = "panel"


def app_dir() -> Path:
    """Absolute path of the ``app/`` directory (the Bokeh directory app holding ``main.py``).

    Looked up, first hit wins: ``$JETVIZ_APP_DIR``; ``app/`` next to the ``jetviz`` package
    (the repository root, since Binder installs jetviz with ``pip install -e .``); ``app/`` in
    the current directory (Binder starts the Jupyter server in the repository root).

    Raises
    ------
    FileNotFoundError
        None of these holds ``main.py``.
    """
    candidates = []
    if os.environ.get("JETVIZ_APP_DIR"):
        candidates.append(Path(os.environ["JETVIZ_APP_DIR"]))
    candidates.append(Path(__file__).resolve().parent.parent / "app")
    candidates.append(Path.cwd() / "app")
    for candidate in candidates:
        if (candidate / "main.py").is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        "jetviz dashboard app not found: no main.py in " + ", ".join(str(c) for c in candidates)
        + " (install jetviz with `pip install -e .` from the repository, or set JETVIZ_APP_DIR)"
    )


def panel_server() -> dict:
    """jupyter-server-proxy server-process config for the dashboard.

    ``{port}`` and ``{base_url}`` are left as templates: jupyter-server-proxy fills them (the port
    it picked, the notebook base URL with its trailing slash). ``absolute_url=True`` keeps the
    full path on proxied requests, which is what Panel's ``--prefix {base_url}panel`` expects.

    The Panel server listens on loopback only (:func:`jetviz.serve.serve_command`): nothing but
    jupyter-server-proxy, which authenticates every request with the Jupyter server's token,
    reaches it. Its websocket origin check allows any page origin (``*``) because the public host
    name of the Jupyter server (mybinder.org's, a hub's) is not known when the command is written;
    the proxy's authentication, not the origin, is what keeps other people out.
    """
    from jetviz.serve import serve_command

    return {
        "command": serve_command(app_dir(), "127.0.0.1", "{port}", ["*"], prefix="{base_url}" + SERVER_NAME),
        "absolute_url": True,
        "timeout": 120,
        "launcher_entry": {
            "title": "jetviz dashboard",
            # open the app itself, not the Bokeh index
            "path_info": f"{SERVER_NAME}/app",
        },
    }


def servers() -> dict:
    """``c.ServerProxy.servers`` value: ``{"panel": panel_server()}``."""
    return {SERVER_NAME: panel_server()}
