"""Load-test Triton models with perf_analyzer: one command sweeps models x workloads x
protocols x shared-memory modes x concurrency, and writes one CSV and one plot.

    python -m clients.perf.sweep --models background_blur --workloads 720p mixed \
        --protocols http grpc --shm none system --concurrency 1 2 4 --out bench/results/x

Without --url the embedded server is started for the run.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .inputs import WORKLOADS, frames, write_input_data
from .install import ensure_perf_analyzer, perf_env

SHM_MODES = ("none", "system", "cuda")


@dataclasses.dataclass(frozen=True)
class Config:
    """One configuration of a sweep: model, workload, protocol, shared memory, request parameters."""
    model: str
    workload: str
    protocol: str
    shm: str
    params: tuple[str, ...] = ()  # perf_analyzer --request-parameter NAME:VALUE:TYPE

    @property
    def variant(self) -> str:
        """The model and its request parameters, e.g. background_blur+downscale:4:int."""
        return "+".join((self.model, *self.params))

    @property
    def label(self) -> str:
        """The configuration in one line, e.g. 'background_blur 720p http shm=none'."""
        return f"{self.variant} {self.workload} {self.protocol} shm={self.shm}"


def parse_variant(text: str) -> tuple[str, tuple[str, ...]]:
    """'model+name:value:type+...' -> (model, request parameters).

    Args:
        text: a model, each request parameter after a '+'.

    Returns:
        (model, perf_analyzer --request-parameter values).

    Raises:
        ValueError: a parameter that is not NAME:VALUE:TYPE.
    """
    model, *params = text.split("+")
    for p in params:
        if p.count(":") != 2:
            raise ValueError(f"request parameter {p!r}: expected NAME:VALUE:TYPE")
    return model, tuple(params)


def _output_shm_bytes(workload: str) -> int:
    # Room for the largest frame's outputs (RGB image + mask), rounded up generously.
    h, w = max(WORKLOADS[workload], key=lambda s: s[0] * s[1])
    return 2 * h * w * 4


def concurrency_ranges(concurrency: Sequence[int]) -> list[tuple[int, int, int]]:
    """perf_analyzer --concurrency-range arguments that run exactly the requested levels.

    Args:
        concurrency: the levels (repeats and order do not matter).

    Returns:
        (START, END, STEP) triples: one for an arithmetic series (1 2 3 4, or 1 8), else one
        per level.

    Raises:
        ValueError: no level, or one below 1.
    """
    levels = sorted(set(int(c) for c in concurrency))
    if not levels or levels[0] < 1:
        raise ValueError(f"concurrency: expected levels >= 1, got {list(concurrency)}")
    steps = {b - a for a, b in zip(levels, levels[1:])}
    if len(steps) <= 1:
        return [(levels[0], levels[-1], steps.pop() if steps else 1)]
    return [(c, c, 1) for c in levels]


def run_perf_analyzer(cfg: Config, url: str, concurrency: Sequence[int], input_data: Path,
                      measurement_ms: int = 3000, timeout_s: float = 600,
                      max_trials: int = 10) -> list[dict]:
    """Run perf_analyzer for one configuration.

    Args:
        cfg: the configuration.
        url: the server's host:port for ``cfg.protocol``.
        concurrency: the levels to run.
        input_data: perf_analyzer --input-data JSON (``write_input_data``).
        measurement_ms: length of one measurement window.
        timeout_s: seconds one perf_analyzer run may take.
        max_trials: measurement windows per level before perf_analyzer gives up on stability.

    Returns:
        One CSV row (dict) per concurrency level, with the configuration's fields added.

    Raises:
        RuntimeError: perf_analyzer failed (its output's tail in the message).
        subprocess.TimeoutExpired: it ran longer than ``timeout_s``.
    """
    binary = ensure_perf_analyzer()
    rows: list[dict] = []
    for start, end, step in concurrency_ranges(concurrency):
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "pa.csv"
            cmd = [str(binary), "-m", cfg.model, "-u", url, "-i", cfg.protocol,
                   "--input-data", str(input_data),
                   "--concurrency-range", f"{start}:{end}:{step}",
                   "--measurement-interval", str(measurement_ms),
                   # A 2-core machine running server and client together is noisy: accept
                   # windows within 50 % of each other rather than fail the whole sweep.
                   "--stability-percentage", "50", "--max-trials", str(max_trials),
                   "--percentile", "99", "-f", str(csv_path)]
            for p in cfg.params:
                cmd += ["--request-parameter", p]
            if cfg.shm != "none":
                cmd += ["--shared-memory", cfg.shm,
                        "--output-shared-memory-size", str(_output_shm_bytes(cfg.workload))]
            proc = subprocess.run(cmd, env=perf_env(), capture_output=True, text=True,
                                  timeout=timeout_s)
            if proc.returncode != 0 or not csv_path.exists():
                raise RuntimeError(f"perf_analyzer failed for {cfg.label} (exit {proc.returncode}):\n"
                                   f"{(proc.stdout + proc.stderr)[-3000:]}")
            rows += list(csv.DictReader(io.StringIO(csv_path.read_text())))
    info = {"model": cfg.variant, "workload": cfg.workload, "protocol": cfg.protocol, "shm": cfg.shm}
    return [{**info, **row} for row in rows]  # only the requested levels ran (concurrency_ranges)


def sweep(url: str, models: Sequence[str], workloads: Sequence[str], protocols: Sequence[str],
          shm_modes: Sequence[str], concurrency: Sequence[int], workdir: Path,
          measurement_ms: int = 3000, grpc_url: str | None = None) -> list[dict]:
    """Run every combination, in a fixed order.

    Args:
        url: the server's HTTP host:port (and gRPC's, without ``grpc_url``).
        models: models, each optionally with request parameters (``parse_variant``).
        workloads: keys of WORKLOADS.
        protocols: 'http', 'grpc'.
        shm_modes: of SHM_MODES.
        concurrency: the levels.
        workdir: where the input data is written.
        measurement_ms: length of one measurement window.
        grpc_url: the server's gRPC host:port.

    Returns:
        All CSV rows.

    Raises:
        RuntimeError: a perf_analyzer run failed.
    """
    rows: list[dict] = []
    for workload in workloads:
        data = write_input_data(workdir / f"input_{workload}.json", frames(workload))
        for variant in models:
            model, params = parse_variant(variant)
            for protocol in protocols:
                for shm in shm_modes:
                    cfg = Config(model, workload, protocol, shm, params)
                    target = grpc_url if protocol == "grpc" and grpc_url else url
                    print(f"[perf] {cfg.label} concurrency {list(concurrency)}", flush=True)
                    rows += run_perf_analyzer(cfg, target, concurrency, data, measurement_ms)
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    """Write rows as CSV, the union of their keys as columns (first seen first).

    Args:
        rows: the rows.
        path: the file to write (its folder is created).

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


@contextlib.contextmanager
def server_urls(url: str | None, grpc_url: str | None) -> Iterator[tuple[str, str]]:
    """Given URLs, or the embedded server started for the duration.

    Args:
        url: HTTP host:port of a running server, or None to start one.
        grpc_url: its gRPC host:port (default: ``url``).

    Returns:
        A context manager yielding (HTTP host:port, gRPC host:port).
    """
    if url:
        yield url, grpc_url or url
        return
    from serving.server import EmbeddedServer

    with EmbeddedServer() as server:
        yield server.http_url, server.grpc_url


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m clients.perf.sweep``: run a sweep, write PREFIX.csv and PREFIX.png.

    Args:
        argv: the arguments (default: sys.argv[1:]).
    """
    p = argparse.ArgumentParser(description="perf_analyzer sweep over Triton models")
    p.add_argument("--models", nargs="+", default=["background_blur"],
                   help="models, each optionally with request parameters: MODEL+NAME:VALUE:TYPE")
    p.add_argument("--workloads", nargs="+", default=["720p"], choices=list(WORKLOADS))
    p.add_argument("--protocols", nargs="+", default=["http"], choices=["http", "grpc"])
    p.add_argument("--shm", nargs="+", default=["none"], choices=SHM_MODES)
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--measurement-ms", type=int, default=3000)
    p.add_argument("--url", help="HTTP host:port of a running server (default: embedded)")
    p.add_argument("--grpc-url", help="gRPC host:port of that server")
    p.add_argument("--out", type=Path, required=True, help="output prefix: writes PREFIX.csv, PREFIX.png")
    args = p.parse_args(argv)
    from .plot import plot_throughput_latency

    with server_urls(args.url, args.grpc_url) as (http, grpc), \
            tempfile.TemporaryDirectory() as tmp:
        rows = sweep(http, args.models, args.workloads, args.protocols, args.shm,
                     args.concurrency, Path(tmp), args.measurement_ms, grpc_url=grpc)
    csv_path = write_csv(rows, args.out.with_suffix(".csv"))
    png = plot_throughput_latency(rows, args.out.with_suffix(".png"))
    print(f"wrote {csv_path} and {png}")


if __name__ == "__main__":
    sys.exit(main())
