"""Credentials in backend specs: URLs as they may be shown, and which gateways the environment's token may go to.

:func:`redact` cuts every URL in a text to ``scheme://host:port/path`` (what the page, the
registry, logs and errors show). A token of the environment (:data:`TOKEN_VARIABLES`) goes only
to a gateway the operator configured (:func:`configured_origins`), compared by origin.
"""
from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from typing import Mapping

__all__ = ["redact", "origin", "is_loopback", "env_list", "configured_origins", "environment_token",
           "TOKEN_VARIABLES", "DEFAULT_BACKENDS"]

#: where a gateway token may come from, first found wins (sent only to a configured gateway)
TOKEN_VARIABLES = ("JETVIZ_GATEWAY_TOKEN", "JUPYTER_TOKEN")
#: the backends a page offers when ``JETVIZ_BACKENDS`` is not set
DEFAULT_BACKENDS = "local,process"

_URL = re.compile(r"([a-z][a-z0-9+.-]*://)(\S*)", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def redact(text: str) -> str:
    """``text`` with every URL in it cut to ``scheme://host:port/path`` (no ``user:password@``, query or fragment)."""
    def clean(match: re.Match) -> str:
        rest = match.group(2).rpartition("@")[2]  # a password may hold '@' or '/': cut at the last '@'
        return match.group(1) + re.split(r"[?#]", rest, maxsplit=1)[0]

    return _URL.sub(clean, str(text))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the default port filled in (``ValueError`` for a bad port)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def env_list(name: str, environ: Mapping[str, str] | None = None, default: str = "") -> list[str]:
    """The comma-separated entries of the environment variable ``name`` (blank entries skipped)."""
    environ = os.environ if environ is None else environ
    return [entry.strip() for entry in environ.get(name, default).split(",") if entry.strip()]


def configured_origins(environ: Mapping[str, str] | None = None) -> set[tuple[str, str, int | None]]:
    """Origins of the gateways the operator configured: ``JETVIZ_GATEWAY_URL`` and the URLs of ``JETVIZ_BACKENDS``."""
    entries = env_list("JETVIZ_GATEWAY_URL", environ) + env_list("JETVIZ_BACKENDS", environ, DEFAULT_BACKENDS)
    found = set()
    for entry in entries:
        if entry.lower().startswith(("http://", "https://")):
            try:
                found.add(origin(entry))
            except ValueError:  # a malformed entry configures nothing (allowed_backends reports it)
                continue
    return found


def environment_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The gateway token of the environment (the first of :data:`TOKEN_VARIABLES` set), or None."""
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in TOKEN_VARIABLES if environ.get(name)), None)
