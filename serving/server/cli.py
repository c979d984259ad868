"""The command line of the embedded server, in the foreground:

    python -m serving.server [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002]

Supervised (serving.server.supervisor: a dead tritonserver or model comes back by itself);
SIGINT/SIGTERM stop it cleanly. docker-compose.yml runs it too, with NGC's binary.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence, TextIO

from ..paths import MODEL_REPOSITORY
from .embedded import EmbeddedServer, ServerError
from .install import TritonNotInstalled


def follow(path: Path, out: TextIO, stop: threading.Event) -> None:
    """Copy what is appended to ``path`` from now on to ``out``, until ``stop``.

    Shows tritonserver's log, which the supervisor also reads, in the foreground; a --log file
    kept from an earlier run is not shown again.

    Args:
        path: the file followed.
        out: where its new text goes.
        stop: once set, what is left is copied, then the function returns.
    """
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
    """The command line of ``python -m serving.server``.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The parsed arguments.
    """
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
    """The EmbeddedServer the command line describes (not started).

    Args:
        args: what ``parse_args`` returns.

    Returns:
        The server.
    """
    return EmbeddedServer(args.model_repository, args.extra, log_path=args.log,
                          ports=(args.http_port, args.grpc_port, args.metrics_port),
                          address=args.address, tritonserver=args.tritonserver,
                          wedge_seconds=args.wedge_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM, showing tritonserver's log.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: 0 stopped by a signal, 1 the supervisor gave up, 2 the server did not
        start, 130 stopped while starting.
    """
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


