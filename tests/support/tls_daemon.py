"""A second Docker daemon on a loopback TCP port that only talks TLS with client
certificates, for remote-daemon tests.

Certificates come from the ``openssl`` CLI: a throwaway CA, a server certificate for
127.0.0.1/localhost and a client certificate. The daemon gets its own data, exec and pid
paths, and a network namespace of its own: a daemon's network set-up is host-wide (with
``--bridge=none`` it deletes the host's ``docker0``, which the main daemon's containers
need), so it must not see the host's interfaces. Its TCP listener is made here, on the
host's loopback, and handed over by socket activation (``-H fd://``, ``LISTEN_FDS``). It
is stopped (TERM, then KILL) and its directories removed when the context ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class Certificates:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key(self) -> Path:
        return self.directory / "key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"


def make_certificates(directory: Path) -> Certificates:
    """CA, server (SAN IP:127.0.0.1, DNS:localhost) and client certificates, named as
    DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(directory)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    def new_key(path: Path) -> None:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))

    new_key(directory / "ca-key.pem")
    openssl(
        "req", "-x509", "-new", "-key", "ca-key.pem", "-out", str(certs.ca),
        "-days", "2", "-subj", "/CN=dockyard-test-ca",
    )  # fmt: skip
    for role, key, cert, extensions in (
        ("server", certs.server_key, certs.server_cert,
         "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", certs.key, certs.cert, "extendedKeyUsage=clientAuth\n"),
    ):  # fmt: skip
        new_key(key)
        (directory / f"{role}.ext").write_text(extensions)
        openssl("req", "-new", "-key", str(key), "-out", f"{role}.csr", "-subj", f"/CN=dockyard-test-{role}")
        openssl(
            "x509", "-req", "-in", f"{role}.csr", "-CA", str(certs.ca), "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", f"{role}.ext",
        )  # fmt: skip
    return certs


@dataclass(frozen=True)
class TlsDaemon:
    url: str  # tcp://127.0.0.1:<port>
    port: int
    certs: Certificates
    unix_socket: Path
    log: Path


def dockerd_missing() -> str | None:
    """Why a second daemon cannot be started here, or None."""
    for tool, purpose in (
        ("dockerd", "the daemon"),
        ("openssl", "certificates"),
        ("unshare", "its namespace"),
    ):
        if shutil.which(tool) is None:
            return f"no {tool} for {purpose}"
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    return None


@contextmanager
def tls_daemon(start_within: float = 90.0) -> Iterator[TlsDaemon]:
    # Short root path: the daemon's unix sockets live under it (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="dyd-", dir="/tmp"))
    process: subprocess.Popen[bytes] | None = None
    listener = socket.socket()
    try:
        certs = make_certificates(root / "certs")
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = int(listener.getsockname()[1])
        config = root / "daemon.json"
        # The daemon's ID comes from its key file, shared by default (/etc/docker/key.json).
        config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
        log = root / "dockerd.log"
        unix_socket = root / "docker.sock"
        dockerd = [
            "dockerd",
            f"--config-file={config}",
            f"--data-root={root / 'data'}",
            f"--exec-root={root / 'exec'}",
            f"--pidfile={root / 'docker.pid'}",
            f"--host=unix://{unix_socket}",
            "--host=fd://",
            "--tlsverify",
            f"--tlscacert={certs.ca}",
            f"--tlscert={certs.server_cert}",
            f"--tlskey={certs.server_key}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
        ]
        # unshare and bash exec in place, so dockerd keeps the pid that LISTEN_PID=$$ names
        # (bash, not sh: dash cannot redirect file descriptors above 9).
        activation = f'exec 3<&{listener.fileno()}; LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"'
        command = ["unshare", "--net", "bash", "-c", activation, "bash", *dockerd]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
        daemon = TlsDaemon(f"tcp://127.0.0.1:{port}", port, certs, unix_socket, log)
        _wait_until_answering(daemon, process, start_within)
        yield daemon
    finally:
        listener.close()
        if process is not None:
            _stop(process)
        _remove_tree(root)


def _wait_until_answering(daemon: TlsDaemon, process: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited with {process.returncode}:\n{_tail(daemon.log)}")
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(
                f"https://127.0.0.1:{daemon.port}/_ping",
                cert=(str(daemon.certs.cert), str(daemon.certs.key)),
                verify=str(daemon.certs.ca),
                timeout=2,
            )
            if answer.ok:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"dockerd did not answer within {within}s:\n{_tail(daemon.log)}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _remove_tree(root: Path) -> None:
    # The daemon may leave mounts under its data root (overlay, shm); unmount before removing.
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(root))), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
