"""build_docker_client: the one place dockyard makes a ``docker.DockerClient``.

The client is built without talking to the daemon, so an agent can start while the daemon
is away. It speaks ``FALLBACK_API_VERSION`` until ``negotiate_api_version`` (which
``DockerContainerRuntime`` calls on ping and before its first request) settles on the
highest version both sides know.

One client is shared by every thread of an agent: a log stream or a ``wait`` holds a
connection for as long as the container runs, so the connection pools are sized for many
concurrent requests (``max_pool_size``) instead of docker-py's 10.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.constants
import docker.errors
import docker.tls
import docker.utils
import requests.adapters
from docker.transport.unixconn import UnixHTTPAdapter

from dockyard.domain.errors import ConfigurationError

# Connections kept per pool; enough for one log stream and one wait per running container
# of a busy agent. Beyond it connections still open, but are closed after use.
DEFAULT_MAX_POOL_SIZE = 128
# Spoken before negotiation: Docker Engine 20.10, the oldest engine dockyard supports
# (``host-gateway`` needs it).
FALLBACK_API_VERSION = "1.41"
# The newest API version the installed docker-py knows how to speak.
NEWEST_KNOWN_API_VERSION = docker.constants.DEFAULT_DOCKER_API_VERSION

_SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe")
_TCP_SCHEMES = ("tcp", "http", "https")


@dataclass(frozen=True)
class TlsSettings:
    """TLS to a remote daemon (``--tls-ca``, ``--tls-cert``, ``--tls-key``, ``--tls-verify``).

    ``verify`` None means: verify the daemon's certificate when a CA is given (Docker's
    ``--tlsverify``), otherwise encrypt without verifying (Docker's ``--tls``).
    """

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool | None = None

    @property
    def verifies(self) -> bool:
        return self.verify if self.verify is not None else self.ca_cert is not None


def build_docker_client(
    base_url: str | None,
    timeout: float,
    *,
    tls: TlsSettings | None = None,
    max_pool_size: int = DEFAULT_MAX_POOL_SIZE,
    environ: Mapping[str, str] | None = None,
) -> docker.DockerClient:
    """A client for the daemon at ``base_url``; None reads ``DOCKER_HOST``,
    ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` like the Docker CLI, else uses the
    platform's default socket. Raises ``ConfigurationError`` for an unusable address or
    TLS setting. Never contacts the daemon."""
    if base_url is None:
        base_url, env_tls = _settings_from_environment(os.environ if environ is None else environ)
        tls = tls or env_tls
    url = base_url or _platform_default()
    scheme = _scheme_of(url)
    if tls is not None and scheme not in _TCP_SCHEMES:
        raise ConfigurationError(f"TLS settings need a tcp:// or https:// Docker daemon address, not {url!r}")
    try:
        client = docker.DockerClient(
            base_url=url,
            version=FALLBACK_API_VERSION,
            # Typed int in the stubs; docker-py hands it to requests, which takes float seconds.
            timeout=timeout,  # type: ignore[arg-type]
            tls=_tls_config(tls) if tls is not None else False,
            max_pool_size=max_pool_size,
            num_pools=max_pool_size,
            # Shell out to `ssh` (as the Docker CLI does) rather than connect while building.
            use_ssh_client=scheme == "ssh",
        )
    except (docker.errors.DockerException, ValueError) as exc:  # ValueError: a port that is no number
        raise ConfigurationError(f"Cannot use the Docker daemon address {url!r}: {exc}") from exc
    if scheme in _TCP_SCHEMES:
        # docker-py leaves tcp:// daemons on requests' default adapters (10 connections).
        adapter = _DaemonAdapter(_pinned_verify(tls), pool_connections=4, pool_maxsize=max_pool_size)
        client.api.mount("http://", adapter)
        client.api.mount("https://", adapter)
    elif scheme == "unix":
        # Replaces the adapter docker-py mounted for the socket (requests picks the adapter
        # by the longest mounted prefix, and this is the same one).
        shared = _SocketAdapter(str(docker.utils.parse_host(url, False)), timeout, max_pool_size)
        client.api.mount("http+docker://", shared)
    # Proxy settings never apply to a daemon connection; reading them costs every request.
    client.api.trust_env = False
    return client


class _SocketAdapter(UnixHTTPAdapter):
    """One connection pool for the daemon's socket. docker-py keys its pools by URL, so
    every container's own paths (``/containers/<id>/start``...) opened a fresh connection;
    an agent that talks about a new container every few milliseconds wants them reused."""

    def __init__(self, socket_url: str, timeout: float, max_pool_size: int) -> None:
        # docker-py passes the timeout on to requests, which takes float seconds.
        super().__init__(socket_url, timeout, pool_connections=1, max_pool_size=max_pool_size)  # type: ignore[arg-type]

    def get_connection(self, url: str | bytes, proxies: Any = None) -> Any:
        return super().get_connection("http+docker://localhost", proxies)


class _DaemonAdapter(requests.adapters.HTTPAdapter):
    """Verifies the daemon against the configured CA (or not at all) whatever the
    environment says: requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a
    session's ``verify``, which would check a private daemon CA against public roots."""

    def __init__(self, verify: str | bool | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._verify = verify

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self._verify is not None:
            kwargs["verify"] = self._verify
        return super().send(request, **kwargs)


def _pinned_verify(tls: TlsSettings | None) -> str | bool | None:
    if tls is None:
        return None  # plain tcp://, or https:// checked against the system's roots
    if not tls.verifies:
        return False
    return tls.ca_cert  # None: the system's roots, as the environment configures them


def negotiate_api_version(client: docker.DockerClient) -> dict[str, Any]:
    """Ask the daemon which API version it speaks (unversioned ``GET /version``) and use
    the highest one both sides know from now on (``client.api.api_version``). Returns the
    daemon's version document. Raises what docker-py raises (the caller translates)."""
    answer: dict[str, Any] = client.api.version(api_version=False)
    daemon_version = str(answer.get("ApiVersion", FALLBACK_API_VERSION))
    agreed = min(daemon_version, NEWEST_KNOWN_API_VERSION, key=_version_key)
    # docker-py has no public way to change a built client's version (its own negotiation,
    # version="auto", asks the daemon while the client is built, which an agent started
    # while the daemon is away cannot). It reads `_version` for every request; a str
    # assignment is atomic.
    client.api._version = agreed  # type: ignore[attr-defined]
    return answer


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _platform_default() -> str:
    if sys.platform == "win32":
        return "npipe:////./pipe/docker_engine"
    return "unix:///var/run/docker.sock"


def _scheme_of(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in _SCHEMES or not rest:
        raise ConfigurationError(
            f"Invalid Docker daemon address {url!r}: expected unix:///path, tcp://host:port, "
            "https://host:port, ssh://[user@]host or npipe:////./pipe/name"
        )
    return scheme


def _settings_from_environment(environ: Mapping[str, str]) -> tuple[str | None, TlsSettings | None]:
    """``DOCKER_HOST``, ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` as the Docker CLI reads
    them (docker-py's ``kwargs_from_env``): any non-empty ``DOCKER_TLS_VERIFY`` turns
    verification on, and a certificate directory alone turns TLS on without it."""
    if not environ:  # kwargs_from_env would read the process's environment instead
        return None, None
    try:
        found = docker.utils.kwargs_from_env(environment=dict(environ))
    except docker.errors.TLSParameterError as exc:
        directory = environ.get("DOCKER_CERT_PATH") or str(Path.home() / ".docker")
        raise ConfigurationError(
            f"The Docker TLS files in {directory} are not usable ({exc}): DOCKER_CERT_PATH must hold "
            "ca.pem, cert.pem and key.pem"
        ) from exc
    tls: docker.tls.TLSConfig | None = found.get("tls")
    if tls is None:
        return found.get("base_url"), None
    client_cert, client_key = tls.cert or (None, None)
    return found.get("base_url"), TlsSettings(
        ca_cert=tls.ca_cert, client_cert=client_cert, client_key=client_key, verify=bool(tls.verify)
    )


def _tls_config(tls: TlsSettings) -> docker.tls.TLSConfig:
    if (tls.client_cert is None) != (tls.client_key is None):
        raise ConfigurationError("A TLS client certificate needs its key, and a key needs its certificate")
    ca_cert = tls.ca_cert if tls.verifies else None  # a CA only matters when verifying
    for role, path in (("CA", ca_cert), ("client certificate", tls.client_cert), ("key", tls.client_key)):
        if path is not None and not Path(path).is_file():
            raise ConfigurationError(f"TLS {role} file not found: {path}")
    client_cert = (tls.client_cert, tls.client_key) if tls.client_cert and tls.client_key else None
    try:
        return docker.tls.TLSConfig(client_cert=client_cert, ca_cert=ca_cert, verify=tls.verifies)
    except docker.errors.TLSParameterError as exc:
        raise ConfigurationError(f"Unusable TLS settings for the Docker daemon: {exc}") from exc
