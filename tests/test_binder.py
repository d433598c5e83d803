"""Binder: binder/ environment and scripts, and the dashboard entry for jupyter-server-proxy.

jupyter-server-proxy itself is not needed (nor installed) here: the tests check the server
config it would read and run the exact command it would start, with its templates filled in.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from jetviz import binder
from jetviz.serve import free_port, running_server

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
SCRIPTS = ["postBuild", "start"]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _scripts():
    return [BINDER / name for name in SCRIPTS if (BINDER / name).exists()]


def test_postbuild_exists():
    assert (BINDER / "postBuild").is_file()


@pytest.mark.parametrize("script", _scripts(), ids=lambda p: p.name)
def test_scripts_are_executable_strict_bash(script):
    mode = script.stat().st_mode
    assert mode & stat.S_IXUSR, f"{script.name} is not executable (chmod +x)"
    lines = script.read_text().splitlines()
    assert lines[0] in ("#!/usr/bin/env bash", "#!/bin/bash"), lines[0]
    assert "set -euo pipefail" in lines, f"{script.name}: no `set -euo pipefail`"
    subprocess.run(["bash", "-n", str(script)], check=True, capture_output=True)
    if script.name == "start":  # repo2docker runs the user's command through start
        last = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][-1]
        assert last.strip() == 'exec "$@"'


def _conda_spec(spec: str) -> Requirement:
    """A conda match spec (``python=3.11``, ``jupyterlab>=4``, ``pip``) as a PEP 508 requirement."""
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", spec.strip())
    assert m, f"unparsable conda spec {spec!r}"
    name, version = m.groups()
    if re.fullmatch(r"=[^=<>!].*", version):  # conda's fuzzy `=3.11` means 3.11.*
        version = f"=={version[1:]}.*"
    return Requirement(name + version)


def _environment():
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def test_environment_yml_parses_and_names_the_jupyter_side():
    env_file = BINDER / "environment.yml"
    assert env_file.is_file() and not env_file.is_symlink()
    env = _environment()
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    specs = {canonicalize_name(r.name): r for r in (_conda_spec(d) for d in deps if isinstance(d, str))}
    for needed in ("python", "pip", "jupyterlab", "jupyter-server-proxy"):
        assert needed in specs, f"binder/environment.yml lacks {needed}"
    # the pinned Python satisfies the project's requires-python and is 3.11
    requires_python = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert specs["python"].specifier.contains("3.11.9")
    assert not specs["python"].specifier.contains("3.12.0")
    assert requires_python.contains("3.11.9")
    # pip: entries (if any) are real requirements; no local `-e .` (conda runs them from binder/)
    # and no torch (postBuild installs the CPU wheel from the PyTorch index first)
    for dep in deps:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                assert not line.startswith(("-e", ".", "--")), line
                assert canonicalize_name(Requirement(line).name) != "torch"
    assert "torch" not in specs and "pytorch" not in specs


def test_postbuild_installs_cpu_torch_then_jetviz_then_proxy_config():
    text = (BINDER / "postBuild").read_text()
    commands = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    torch_at = next(i for i, c in enumerate(commands) if "pip install" in c and "torch" in c)
    jetviz_at = next(i for i, c in enumerate(commands) if re.search(r"pip install .*-e \.$", c))
    config_at = next(i for i, c in enumerate(commands) if "jupyter_server_config.py" in c)
    assert torch_at < jetviz_at < config_at
    torch_cmd = commands[torch_at]
    assert f"--index-url {TORCH_CPU_INDEX}" in torch_cmd
    # the same pin as `make install`
    pin = re.search(r"torch==[0-9][0-9.]*", torch_cmd).group()
    assert pin in (ROOT / "Makefile").read_text()
    assert (BINDER / "jupyter_server_config.py").is_file()


def test_jupyter_config_sets_the_server_proxy_entry():
    from traitlets.config import Config

    c = Config()
    exec(compile((BINDER / "jupyter_server_config.py").read_text(), "jupyter_server_config.py", "exec"), {"c": c})
    assert c.ServerProxy.servers == binder.servers()
    assert list(binder.servers()) == [binder.SERVER_NAME]


def test_panel_server_config():
    cfg = binder.panel_server()
    cmd = cfg["command"]
    assert cfg["absolute_url"] is True
    assert cfg["timeout"] >= 60
    assert cfg["launcher_entry"]["title"] == "jetviz dashboard"
    assert cfg["launcher_entry"]["path_info"] == f"{binder.SERVER_NAME}/app"
    # the templates jupyter-server-proxy fills, and no others
    templates = set(re.findall(r"\{[^}]*\}", " ".join(cmd)))
    assert templates == {"{port}", "{base_url}"}
    assert cmd[1] == "serve" and Path(cmd[0]).name == "panel"
    assert cmd[cmd.index("--port") + 1] == "{port}"
    assert cmd[cmd.index("--prefix") + 1] == "{base_url}" + binder.SERVER_NAME
    assert "--allow-websocket-origin=*" in cmd  # the proxy authenticates; the public host is not known here
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"  # nothing but the proxy reaches it
    app = Path(cmd[2])
    assert app.is_absolute() and (app / "main.py").is_file()
    assert app == (ROOT / "app").resolve()
    assert Path(cmd[0]).is_file(), "panel script of this environment not found"


def test_app_dir_override_and_error(tmp_path, monkeypatch):
    (tmp_path / "main.py").write_text("")
    monkeypatch.setenv("JETVIZ_APP_DIR", str(tmp_path))
    assert binder.app_dir() == tmp_path.resolve()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("JETVIZ_APP_DIR", str(empty))
    monkeypatch.setattr(binder, "__file__", str(empty / "jetviz" / "binder.py"))
    monkeypatch.chdir(empty)
    with pytest.raises(FileNotFoundError, match="main.py"):
        binder.app_dir()


def _get(url: str, timeout: float = 30.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.geturl(), r.read().decode("utf-8", "replace")


def test_command_serves_the_dashboard_under_the_prefix(tmp_path):
    """The proxy's command, templates filled as jupyter-server-proxy would, serves the app."""
    port, base_url = free_port(), "/user/test/"
    cmd = [a.replace("{port}", str(port)).replace("{base_url}", base_url) for a in binder.panel_server()["command"]]
    env = dict(os.environ, JETVIZ_CACHE=str(tmp_path / "cache"), JETVIZ_RUNS=str(tmp_path / "runs"))
    log = tmp_path / "panel.log"
    prefix = f"http://127.0.0.1:{port}{base_url}{binder.SERVER_NAME}"
    with running_server(cmd, f"{prefix}/app", log, env=env, cwd=tmp_path, timeout=60):  # fails on an HTTP error
        status, _, body = _get(f"{prefix}/app")
        assert status == 200
        assert "<title>jetviz</title>" in body
        scripts = re.findall(r'<script[^>]+src="([^"]*bokeh\.min\.js[^"]*)"', body)
        assert scripts, "no bokeh script in the page"
        # assets resolve under the prefix (what the browser asks the proxy for)
        status, _, js = _get(urllib.parse.urljoin(f"{prefix}/app", scripts[0]))
        assert status == 200 and len(js) > 10_000
        # the launcher's bare {base_url}panel/ also lands on the app
        status, url, _ = _get(f"{prefix}/")
        assert status == 200 and url.rstrip("/").endswith(f"{base_url}{binder.SERVER_NAME}/app")
        # nothing is served outside the prefix
        with pytest.raises(urllib.error.HTTPError):
            _get(f"http://127.0.0.1:{port}/app")
