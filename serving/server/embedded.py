"""The embedded Triton server: tritonserver from the nvidia-pytriton wheel serving this
repository's model_repository/ on loopback addresses.

    python -m serving.server [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002]

Runs in the foreground under serving.server.supervisor (a dead tritonserver or model comes back by
itself); SIGINT/SIGTERM stop it cleanly. ``EmbeddedServer`` does the same from Python
(tests, clients) on free ports. docker-compose.yml runs this module too, with NGC's binary.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Sequence, TextIO

from .gpu_pool import server_pool_flags
from .install import TritonNotInstalled, check_installation
from ..malloc import SERVER_ENV
from ..paths import MODEL_REPOSITORY, REPO_ROOT
from .supervisor import (ADMIN_HEADER, Event, Supervisor, SupervisorError,
                         caller_manages_models, new_shm_prefix, supervised_flags)

REQUIRED_FILES = {
    MODEL_REPOSITORY / "unet" / "1" / "model.onnx": "python -m segmentation.build (or: make model)",
}


class ServerError(RuntimeError):
    """The server could not start or become ready; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_files(repository: Path = MODEL_REPOSITORY) -> None:
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
    """The tritonserver command line; on a GPU machine with a CUDA memory pool per GPU sized
    by serving.server.gpu_pool (unless ``extra`` sets its own). ``tritonserver``: another binary
    than the wheel's (e.g. /opt/tritonserver/bin/tritonserver in NGC's image)."""
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
    """The Python backend stub takes its Python from the python3 first on PATH: put this
    environment's bin/ first so models import its packages (this project, installed there,
    and its NumPy, CuPy and onnxruntime)."""
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
        return self.supervisor.events if self.supervisor else []

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header the model-repository API needs (restricted to the supervisor unless the
        caller chose the model-control mode)."""
        return {ADMIN_HEADER: self.admin_token}

    def command(self) -> list[str]:
        """The tritonserver command line the supervisor runs."""
        extra = [*self.extra_args, *supervised_flags(self.extra_args, self.shm_prefix, self.admin_token)]
        return server_command(*self.ports, repository=self.repository, extra=extra,
                              address=self.address, tritonserver=self.tritonserver)

    def start(self) -> "EmbeddedServer":
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
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        self.supervisor = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def follow(path: Path, out: TextIO, stop: threading.Event) -> None:
    """Copy what is appended to ``path`` from now on to ``out``; once ``stop`` is set, what
    is left, then return (tritonserver's log, which the supervisor also reads, shown in the
    foreground; a --log file kept from an earlier run is not shown again)."""
    with open(path, "a+", errors="replace") as f:
        f.seek(0, 2)
        while True:
            chunk = f.read()
            if chunk:
                out.write(chunk)
                out.flush()
            elif stop.wait(0.2):
                return


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the embedded Triton server in the foreground, "
                                            "supervised (docs/serving.md, Failure and recovery).")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--address", default="127.0.0.1",
                   help="where the three endpoints listen (0.0.0.0 in a container)")
    p.add_argument("--model-repository", type=Path, default=MODEL_REPOSITORY)
    p.add_argument("--tritonserver", type=Path, default=None,
                   help="a tritonserver binary (default: the nvidia-pytriton wheel's); its "
                        "backends are in ../backends")
    p.add_argument("--wedge-seconds", type=float, default=20.0,
                   help="a model with requests waiting and no execution finished for this "
                        "long is wedged: its stubs are killed and it is reloaded")
    p.add_argument("--log", type=Path, default=None,
                   help="tritonserver's log file (default: a new temporary file); it is also "
                        "shown here")
    p.add_argument("extra", nargs="*", help="more tritonserver flags, after --")
    return p.parse_args(argv)


def server_from_args(args: argparse.Namespace) -> EmbeddedServer:
    return EmbeddedServer(args.model_repository, args.extra, log_path=args.log,
                          ports=(args.http_port, args.grpc_port, args.metrics_port),
                          address=args.address, tritonserver=args.tritonserver,
                          wedge_seconds=args.wedge_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The supervisor's events are in the log shown below; not twice on stderr.
    logging.getLogger("serving.server.supervisor").addHandler(logging.NullHandler())
    server = server_from_args(args)
    stop, shown, started = threading.Event(), threading.Event(), threading.Event()
    shower = threading.Thread(target=follow, args=(server.log_path, sys.stdout, shown), daemon=True)
    shower.start()

    def on_signal(*_: object) -> None:
        stop.set()
        if not started.is_set():
            raise KeyboardInterrupt  # still starting: start() cleans up on the way out

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    print(f"serving {args.model_repository} on http://{args.address}:{args.http_port} and "
          f"grpc {args.address}:{args.grpc_port}, log {server.log_path} (Ctrl-C stops)", flush=True)
    try:
        try:
            server.start()
        except (ServerError, TritonNotInstalled) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("stopped while starting", file=sys.stderr)
            return 130
        started.set()
        print("ready", flush=True)
        while not stop.wait(0.5):
            if server.supervisor.failed:
                print(f"error: {server.supervisor.failed}", file=sys.stderr)
                return 1
    finally:
        server.stop()
        shown.set()
        shower.join(timeout=5)  # the last lines of the log
    return 0


