"""The embedded Triton server: tritonserver from the nvidia-pytriton wheel serving this
repository's model_repository/ on loopback addresses.

    python -m serving.server [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002]

Runs in the foreground; SIGINT/SIGTERM stop it cleanly. ``EmbeddedServer`` does the same
from Python (tests, clients) on free ports.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .gpu_pool import server_pool_flags
from .install import TritonNotInstalled, check_installation

ROOT = Path(__file__).resolve().parents[1]
MODEL_REPOSITORY = ROOT / "model_repository"
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
                   extra: Sequence[str] = ()) -> list[str]:
    """The tritonserver command line; on a GPU machine with a CUDA memory pool per GPU sized
    by serving.gpu_pool (unless ``extra`` sets its own)."""
    root = check_installation()
    pool = ([] if any(a.startswith("--cuda-memory-pool-byte-size") for a in extra)
            else server_pool_flags(repository))
    return [str(root / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={root / 'backends'}",
            "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
            f"--http-port={http_port}", f"--grpc-port={grpc_port}",
            f"--metrics-port={metrics_port}", "--metrics-address=127.0.0.1",
            "--exit-timeout-secs=10", *pool, *extra]


def server_env() -> dict[str, str]:
    """The Python backend stub finds packages through PATH (not PYTHONPATH): put this
    environment's bin/ first so models import its NumPy, CuPy and onnxruntime."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class EmbeddedServer:
    """tritonserver on free loopback ports for the duration of a ``with`` block.

    ``http_url`` / ``grpc_url`` are host:port strings for tritonclient.
    """

    def __init__(self, repository: Path = MODEL_REPOSITORY, extra_args: Sequence[str] = (),
                 startup_timeout: float = 180.0, log_path: Path | None = None):
        self.repository = Path(repository)
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.ports = (free_port(), free_port(), free_port())
        self.http_url = f"127.0.0.1:{self.ports[0]}"
        self.grpc_url = f"127.0.0.1:{self.ports[1]}"
        self.metrics_url = f"127.0.0.1:{self.ports[2]}"
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="tritonserver-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self) -> "EmbeddedServer":
        check_files(self.repository)
        cmd = server_command(*self.ports, repository=self.repository, extra=self.extra_args)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=ROOT)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        import tritonclient.http as http

        client = http.InferenceServerClient(self.http_url)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(f"tritonserver exited with {self.proc.returncode}; "
                                      f"log:\n{self.log_tail()}")
                try:
                    if client.is_server_ready():
                        return
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                time.sleep(0.25)
        finally:
            client.close()
        self.stop()
        raise ServerError(f"tritonserver not ready after {self.startup_timeout:.0f} s; "
                          f"log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the embedded Triton server in the foreground.")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--model-repository", type=Path, default=MODEL_REPOSITORY)
    p.add_argument("extra", nargs="*", help="more tritonserver flags, after --")
    args = p.parse_args(argv)
    try:
        check_files(args.model_repository)
        cmd = server_command(args.http_port, args.grpc_port, args.metrics_port,
                             args.model_repository, args.extra)
    except (ServerError, TritonNotInstalled) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"serving {args.model_repository} on http://127.0.0.1:{args.http_port} and "
          f"grpc 127.0.0.1:{args.grpc_port} (Ctrl-C stops)", flush=True)
    proc = subprocess.Popen(cmd, env=server_env(), cwd=ROOT)

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
