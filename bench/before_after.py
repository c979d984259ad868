"""A change measured against the commit before it, in one run: bench/pipeline_bench.py on
a server of each tree in turn (before, after, before, after, ...), the same machine, inputs
and settings, so that a slower or faster machine moves both.

    python -m bench.before_after --before 5bdb6a3 --rounds 2 --tag cpu-2core_issue20 \
        -- --workloads 720p --concurrency 1 2 4

The before tree is a detached git worktree of ``--before`` (its model.onnx copied from this
tree), served by this environment's Python. Writes bench/results/before_after_<tag>.md (best
infer/s of each model per round and tree, and after ÷ before) and .csv (every row).
"""
from __future__ import annotations

import argparse
import csv
import io
import shutil
import statistics
import subprocess
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from serving.paths import REPO_ROOT

from bench.machine import describe
from clients.perf.sweep import write_csv
from serving.server import free_port

ONNX = Path("model_repository/unet/1/model.onnx")


def worktree(rev: str, where: Path) -> Path:
    """A detached worktree of ``rev`` with this tree's (git-ignored) DNN file."""
    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(where), rev],
                   check=True, capture_output=True, text=True)
    shutil.copy2(REPO_ROOT / ONNX, where / ONNX)
    return where


def serve(tree: Path, log: Path) -> tuple[subprocess.Popen, str, str]:
    """``python -m serving.server`` of ``tree`` on free ports, once it says ready (its output,
    the server's log among it, goes to ``log``)."""
    http, grpc, metrics = free_port(), free_port(), free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "serving.server", "--http-port", str(http),
                                 "--grpc-port", str(grpc), "--metrics-port", str(metrics)],
                                cwd=tree, stdout=out, stderr=subprocess.STDOUT, text=True,
                                # The installed project is this tree; the stubs of ``tree``'s
                                # server must import ``tree``'s packages.
                                env={**os.environ, "PYTHONPATH": str(tree)})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if "ready" in log.read_text(errors="replace").splitlines():
            return proc, f"127.0.0.1:{http}", f"127.0.0.1:{grpc}"
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"the server of {tree} did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench(http: str, grpc: str, tag: str, out: Path, args: Sequence[str]) -> list[dict]:
    """One bench/pipeline_bench.py run against a server; its CSV rows."""
    r = subprocess.run([sys.executable, "-m", "bench.pipeline_bench", "--url", http,
                        "--grpc-url", grpc, "--tag", tag, "--out-dir", str(out), *args],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
    path = out / f"pipeline_{tag}.csv"
    return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []


def best(rows: list[dict]) -> dict[tuple[str, str], float]:
    """Best infer/s per (model, workload)."""
    out: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r["model"], r["workload"])
        out[key] = max(out.get(key, 0.0), float(r["Inferences/Second"]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the commit to compare against")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tag", required=True)
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    p.add_argument("bench_args", nargs="*", help="bench/pipeline_bench.py's arguments, after --")
    args = p.parse_args(argv)

    rows: list[dict] = []
    per_round: dict[str, list[dict[tuple[str, str], float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        trees = {"before": worktree(args.before, tmp_path / "before"), "after": REPO_ROOT}
        try:
            for k in range(args.rounds):
                for name, tree in trees.items():
                    proc, http, grpc = serve(tree, tmp_path / f"server_{name}_{k}.log")
                    try:
                        got = bench(http, grpc, f"{name}{k}", tmp_path, args.bench_args)
                    finally:
                        stop(proc)
                    rows += [{"tree": name, "round": k, **r} for r in got]
                    per_round[name].append(best(got))
                    print(f"[before_after] round {k} {name}: "
                          + ", ".join(f"{m} {w} {v:.2f}/s" for (m, w), v in best(got).items()), flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force",
                            str(tmp_path / "before")], capture_output=True)
    keys = sorted({k for r in per_round.values() for b in r for k in b})
    lines = [f"# Before and after ({args.tag})", "", f"Machine: {describe()}", "",
             f"bench/pipeline_bench.py {' '.join(args.bench_args)}, against a server of commit "
             f"{args.before} (before) and of this tree (after), in turn, {args.rounds} rounds. "
             "Best infer/s over the concurrency levels; the median of the rounds.", "",
             "| model | workload | before infer/s (rounds) | after infer/s (rounds) | after ÷ before |",
             "|---|---|---|---|---|"]
    for model, workload in keys:
        b = [r.get((model, workload)) for r in per_round["before"] if (model, workload) in r]
        a = [r.get((model, workload)) for r in per_round["after"] if (model, workload) in r]
        ratio = f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "—"
        fmt = lambda v: (f"{statistics.median(v):.2f} ({', '.join(f'{x:.2f}' for x in v)})" if v else "—")
        lines.append(f"| {model} | {workload} | {fmt(b)} | {fmt(a)} | {ratio} |")
    stem = args.out_dir / f"before_after_{args.tag}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    write_csv(rows, stem.with_suffix(".csv"))
    print("\n".join(lines))
    print(f"wrote {stem}.md, .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
