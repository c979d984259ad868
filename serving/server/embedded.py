"""The embedded Triton server: tritonserver from the nvidia-pytriton wheel serving this
repository's model_repository/ on loopback addresses, under serving.server.supervisor (a dead
tritonserver or model comes back by itself). ``EmbeddedServer`` runs it from Python (tests,
clients) on free ports; ``python -m serving.server`` (serving/server/cli.py) in the foreground.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from .gpu_pool import server_pool_flags
from .install import check_installation
from ..malloc import SERVER_ENV
from ..paths import MODEL_REPOSITORY, REPO_ROOT
from .model_control import ADMIN_HEADER, SupervisorError, caller_manages_models, supervised_flags
from .stubs import new_shm_prefix
from .supervisor import Event, Supervisor

REQUIRED_FILES = {
    MODEL_REPOSITORY / "unet" / "1" / "model.onnx": "python -m segmentation.build (or: make model)",
}


class ServerError(RuntimeError):
    """The server could not start or become ready; the message says why."""


def free_port() -> int:
    """A TCP port free on the loopback address now (another process may take it before use).

    Returns:
        The port number.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_files(repository: Path = MODEL_REPOSITORY) -> None:
    """Check that a repository can be served: it exists, and the project's own has its built files.

    Args:
        repository: the model repository.

    Raises:
        ServerError: a required file is missing (the message says how to build it), or the
            repository does not exist.
    """
    if repository == MODEL_REPOSITORY:
        for path, command in REQUIRED_FILES.items():
            if not path.exists():
                raise ServerError(f"{path} is missing; build it with {command}")
    if not repository.is_dir():
        raise ServerError(f"model repository {repository} does not exist")


def server_command(http_port: int, grpc_port: int, metrics_port: int,
                   repository: Path = MODEL_REPOSITORY,
                   extra: Sequence[str] = (), address: str = "127.0.0.1",
                   tritonserver: Path | None = None) -> list[str]:
    """The tritonserver command line.

    On a GPU machine it carries a CUDA memory pool per GPU sized by serving.server.gpu_pool,
    unless ``extra`` sets its own.

    Args:
        http_port: the HTTP port.
        grpc_port: the gRPC port.
        metrics_port: the metrics port.
        repository: the model repository.
        extra: more tritonserver flags, last.
        address: where the three endpoints listen.
        tritonserver: another binary than the wheel's (e.g. /opt/tritonserver/bin/tritonserver
            in NGC's image); its backends are in ../backends.

    Returns:
        The command line, binary first.

    Raises:
        TritonNotInstalled: no ``tritonserver`` given and the wheel's is not installed.
    """
    root = check_installation() if tritonserver is None else Path(tritonserver).resolve().parents[1]
    binary = root / "bin" / "tritonserver" if tritonserver is None else Path(tritonserver)
    pool = ([] if any(a.startswith("--cuda-memory-pool-byte-size") for a in extra)
            else server_pool_flags(repository))
    return [str(binary),
            f"--model-repository={repository}",
            f"--backend-directory={root / 'backends'}",
            f"--http-address={address}", f"--grpc-address={address}",
            f"--http-port={http_port}", f"--grpc-port={grpc_port}",
            f"--metrics-port={metrics_port}", f"--metrics-address={address}",
            "--exit-timeout-secs=10", *pool, *extra]


def server_env() -> dict[str, str]:
    """The environment tritonserver runs in.

    The Python backend stub takes its Python from the python3 first on PATH: this
    environment's bin/ goes first so models import its packages (this project, installed there,
    and its NumPy, CuPy and onnxruntime); serving.malloc's settings are added unless set.

    Returns:
        A copy of os.environ with those changes.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for name, value in SERVER_ENV.items():  # why: serving/malloc.py
        env.setdefault(name, value)
    return env


class EmbeddedServer:
    """tritonserver on free loopback ports for the duration of a ``with`` block, supervised
    (serving.server.supervisor): a dead tritonserver is restarted on the same ports, a dead or
    wedged model is reloaded, and nothing is left behind at the end.

    ``http_url`` / ``grpc_url`` are host:port strings for tritonclient; ``events`` lists what
    the supervisor saw and did.
    """

    def __init__(self, repository: Path = MODEL_REPOSITORY, extra_args: Sequence[str] = (),
                 startup_timeout: float = 180.0, log_path: Path | None = None,
                 ports: tuple[int, int, int] | None = None, address: str = "127.0.0.1",
                 tritonserver: Path | None = None, wedge_seconds: float = 20.0):
        """Prepare a server; nothing starts before ``start`` (or ``with``).

        Args:
            repository: the model repository.
            extra_args: more tritonserver flags (e.g. ``--model-control-mode=explicit``, which
                leaves model control to the caller).
            startup_timeout: seconds tritonserver may take to become ready.
            log_path: tritonserver's log file (default: a new temporary file).
            ports: (HTTP, gRPC, metrics) ports (default: free ones).
            address: where the endpoints listen (0.0.0.0 in a container).
            tritonserver: another binary than the wheel's.
            wedge_seconds: a model with requests waiting and no execution finished for this long
                is wedged, and reloaded.
        """
        self.repository = Path(repository)
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.ports = ports or (free_port(), free_port(), free_port())
        self.address = address
        self.tritonserver = tritonserver
        self.wedge_seconds = wedge_seconds
        host = "127.0.0.1" if address in ("0.0.0.0", "") else address  # reachable from here
        self.http_url = f"{host}:{self.ports[0]}"
        self.grpc_url = f"{host}:{self.ports[1]}"
        self.metrics_url = f"{host}:{self.ports[2]}"
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="tritonserver-", suffix=".log")[1])
        self.log_path.touch()
        self.shm_prefix = new_shm_prefix()
        self.admin_token = secrets.token_hex(16)
        self.supervisor: Supervisor | None = None

    @property
    def proc(self) -> subprocess.Popen | None:
        """The tritonserver process running now (a new one after a restart)."""
        return self.supervisor.proc if self.supervisor else None

    @property
    def events(self) -> list[Event]:
        """What the supervisor saw and did, oldest first (empty before ``start``)."""
        return self.supervisor.events if self.supervisor else []

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header the model-repository API needs (restricted to the supervisor unless the
        caller chose the model-control mode)."""
        return {ADMIN_HEADER: self.admin_token}

    def command(self) -> list[str]:
        """The tritonserver command line the supervisor runs.

        Returns:
            ``server_command`` with ``extra_args`` and the supervisor's flags.

        Raises:
            SupervisorError: ``extra_args`` set the shm region prefix, which is the supervisor's.
            TritonNotInstalled: the wheel's tritonserver is needed and not installed.
        """
        extra = [*self.extra_args, *supervised_flags(self.extra_args, self.shm_prefix, self.admin_token)]
        return server_command(*self.ports, repository=self.repository, extra=extra,
                              address=self.address, tritonserver=self.tritonserver)

    def start(self) -> "EmbeddedServer":
        """Start tritonserver under a supervisor and wait until it is ready.

        Returns:
            self.

        Raises:
            ServerError: a required file is missing, or tritonserver did not become ready (the
                message ends with the log's tail).
            TritonNotInstalled: the wheel's tritonserver is needed and not installed.
        """
        check_files(self.repository)
        try:
            self.supervisor = Supervisor(self.command(), env=server_env(), cwd=REPO_ROOT, http_url=self.http_url,
                                         metrics_url=self.metrics_url, log_path=self.log_path,
                                         shm_prefix=self.shm_prefix, admin_token=self.admin_token,
                                         ready_timeout=self.startup_timeout,
                                         wedge_s=self.wedge_seconds,
                                         manage_models=not caller_manages_models(self.extra_args))
            self.supervisor.start()
        except SupervisorError as e:
            self.supervisor = None
            raise ServerError(f"{e}\nlog ({self.log_path}):\n{self.log_tail()}") from None
        return self

    def log_tail(self, chars: int = 4000) -> str:
        """The end of tritonserver's log.

        Args:
            chars: how many characters at most.

        Returns:
            The text ('' when the log cannot be read).
        """
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop supervising and stop tritonserver, leaving no stub or /dev/shm region behind."""
        if self.supervisor is not None:
            self.supervisor.stop()
        self.supervisor = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
