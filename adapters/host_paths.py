"""Host paths as a Docker daemon on this machine follows them.

The daemon resolves symbolic links in a bind mount's source on its own host, so a link
inside an allowed root can point anywhere (a run that may write to the root can even make
one). When the daemon shares this machine's file system, the agent resolves the links
itself before deciding; for a daemon elsewhere it cannot, and the operator's roots must not
hold links out of them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit


def real_host_path(path: str) -> str:
    """``path`` with every symbolic link followed (as far as the path exists)."""
    return os.path.realpath(path)


def daemon_shares_this_file_system(base_url: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """True for a daemon on a local socket or a loopback TCP address (``base_url``, else
    ``DOCKER_HOST``, else the platform's default socket)."""
    url = base_url or (os.environ if environ is None else environ).get("DOCKER_HOST") or "unix://"
    scheme, _, rest = url.partition("://")
    if scheme in ("unix", "npipe"):
        return True
    if scheme not in ("tcp", "http", "https"):
        return False  # ssh://: another machine
    try:
        host = urlsplit(f"//{rest}").hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
