"""What one ensemble step costs beyond its pixel work: each op model of ``background_blur``
against a bare identity Python model, written as Triton's python_backend examples write it,
and a whole ``background_blur`` request against ``background_blur_fused``, all in one server
and one run, the targets interleaved (A B C A B C ...).

    python -m bench.step_overhead --sizes 16x16 720x1280 --rounds 6 --requests 40 --tag cpu-2core
    python -m bench.step_overhead --profile resize --tag cpu-2core    # where a step's time goes

Per step: queue, compute_input, compute_infer and compute_output per execution, from Triton's
statistics (one request in flight, so an execution is one request); per pipeline: the
server's time per request (the ensemble's or the fused model's own statistics) and the
client's median round trip. ``--profile`` samples one step's stub with py-spy while
background_blur runs and writes where its time went. Results: bench/results/step_overhead_<tag>.md
(and .json).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from serving.paths import REPO_ROOT

from bench.machine import describe, tag as default_tag
from bench.report import write_report
from clients.perf.inputs import photo_at
from clients.perf.stats import diff_stats, model_stats
from serving.pipeline.repository import load_config
from serving.paths import MODEL_REPOSITORY
from serving.server import EmbeddedServer
from serving.server.stubs import find_stubs

PIPELINE, FUSED, CHAIN, IDENTITY = "background_blur", "background_blur_fused", "identity_chain", "identity"
# The same chain of CHAIN_STEPS distinct copies of the identity model (identity_0, ...), each
# its own stub process, as a pipeline's steps are: a second floor.
DISTINCT = "identity_distinct_chain"
CHAIN_STEPS = 7  # as many steps as background_blur
DNN_STEPS = frozenset({"unet"})

# The floor: Triton's python_backend examples return an input through DLPack, one response
# per request, nothing else.
IDENTITY_MODEL = '''\
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            frame = pb_utils.get_input_tensor_by_name(request, "INPUT0")
            out = pb_utils.Tensor.from_dlpack("OUTPUT0", frame.to_dlpack())
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
'''
IDENTITY_CONFIG = '''\
name: "identity"
backend: "python"
max_batch_size: 8
input { name: "INPUT0" data_type: TYPE_UINT8 dims: [-1, -1, 3] }
output { name: "OUTPUT0" data_type: TYPE_UINT8 dims: [-1, -1, 3] }
dynamic_batching {}
'''


def chain_config(name: str, models: Sequence[str]) -> str:
    """An ensemble of identity steps, one per model of ``models``, IMAGE -> OUT."""
    steps = []
    n = len(models)
    for i, model in enumerate(models):
        src = "IMAGE" if i == 0 else f"t{i}"
        dst = "OUT" if i == n - 1 else f"t{i + 1}"
        steps.append(f'  step {{ model_name: "{model}" model_version: -1 '
                     f'input_map {{ key: "INPUT0" value: "{src}" }} '
                     f'output_map {{ key: "OUTPUT0" value: "{dst}" }} }}')
    return (f'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: 8\n'
            'input { name: "IMAGE" data_type: TYPE_UINT8 dims: [-1, -1, 3] }\n'
            'output { name: "OUT" data_type: TYPE_UINT8 dims: [-1, -1, 3] }\n'
            "ensemble_scheduling {\n" + "\n".join(steps) + "\n}\n")


def pipeline_steps(repository: Path = MODEL_REPOSITORY) -> list[str]:
    """The step models of background_blur, in order."""
    cfg = load_config(repository / PIPELINE / "config.pbtxt")
    return [s.model_name for s in cfg.ensemble_scheduling.step]


def build_repository(tmp: Path, source: Path = MODEL_REPOSITORY) -> Path:
    """A repository of background_blur, its fused model, its step models (links to those of
    ``source``, whose models run their own tree's code) and the identity model and chain."""
    repo = tmp / "repository"
    repo.mkdir()
    for name in {PIPELINE, FUSED, *pipeline_steps(source)}:
        (repo / name).symlink_to(Path(source).resolve() / name, target_is_directory=True)
    copies = [f"{IDENTITY}_{i}" for i in range(CHAIN_STEPS)]
    for name in (IDENTITY, *copies):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "1" / "model.py").write_text(IDENTITY_MODEL)
        (repo / name / "config.pbtxt").write_text(IDENTITY_CONFIG.replace(f'"{IDENTITY}"', f'"{name}"'))
    for name, models in ((CHAIN, [IDENTITY] * CHAIN_STEPS), (DISTINCT, copies)):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "config.pbtxt").write_text(chain_config(name, models))
    return repo


class Target:
    """One model under test: its request and the measurements of every round."""

    def __init__(self, model: str, input_name: str, outputs: Sequence[str]):
        self.model, self.input_name, self.outputs = model, input_name, tuple(outputs)
        self.latencies_ms: list[float] = []
        self.round_p50_ms: list[float] = []
        self.stats: dict[str, dict[str, float]] = {}

    def add_stats(self, delta: dict[str, dict[str, float]]) -> None:
        for name, d in delta.items():
            mine = self.stats.setdefault(name, {})
            for k, v in d.items():
                mine[k] = mine.get(k, 0.0) + v


def run_block(client: Any, target: Target, frame: np.ndarray, n: int) -> None:
    """``n`` requests one after another (one in flight)."""
    import tritonclient.grpc as grpc

    inp = grpc.InferInput(target.input_name, [1, *frame.shape], "UINT8")
    inp.set_data_from_numpy(frame[None])
    outs = [grpc.InferRequestedOutput(o) for o in target.outputs]
    for _ in range(n):
        t0 = time.perf_counter()
        client.infer(target.model, [inp], outputs=outs)
        target.latencies_ms.append((time.perf_counter() - t0) * 1e3)


def per_execution(d: dict[str, float]) -> dict[str, float]:
    """Mean µs per execution of each phase (Triton's cumulative statistics)."""
    n = max(d["execution_count"], 1.0)
    row = {k: d[f"{k}_ns"] / n / 1e3 for k in ("queue", "compute_input", "compute_infer", "compute_output")}
    row["step"] = sum(row.values())
    row["executions"] = d["execution_count"]
    row["mean_batch"] = d["inference_count"] / n
    row["request"] = d["success_ns"] / max(d["requests"], 1.0) / 1e3
    return row


# -- Triton's trace: what each step adds to a request's latency ------------------------------
TRACE_EVERY = 4  # one request in this many is traced (trace rate)


def trace_flags(path: Path) -> list[str]:
    return [f"--trace-config=triton,file={path}", f"--trace-config=rate={TRACE_EVERY}",
            "--trace-config=level=TIMESTAMPS", "--trace-config=count=-1"]


def step_spans(trace_file: Path, ensemble: str) -> dict[str, list[float]]:
    """Per step model of ``ensemble``: how long each traced request spent in it, from its
    own start to the next step's start (the last: to its end), in µs. The steps of both
    ensembles run one after another (each needs the one before), so the spans add up to
    the request (a model a request runs several times, the identity chain's, is listed per
    run)."""
    events = json.loads(trace_file.read_text()) if trace_file.exists() else []
    nodes: dict[int, dict[str, Any]] = {}
    for e in events:
        node = nodes.setdefault(e["id"], {"ts": {}})
        for k in ("model_name", "parent_id"):
            if k in e:
                node[k] = e[k]
        for t in e.get("timestamps", []):
            node["ts"][t["name"]] = t["ns"]
    children: dict[int, list[int]] = {}
    for i, node in nodes.items():
        if "parent_id" in node:
            children.setdefault(node["parent_id"], []).append(i)
    spans: dict[str, list[float]] = {}
    for i, node in nodes.items():
        if node.get("model_name") != ensemble or "parent_id" in node:
            continue
        steps = sorted((nodes[c] for c in children.get(i, [])), key=lambda n: n["ts"].get("REQUEST_START", 0))
        if any("REQUEST_START" not in n["ts"] or "REQUEST_END" not in n["ts"] for n in steps):
            continue
        for k, step in enumerate(steps):
            end = steps[k + 1]["ts"]["REQUEST_START"] if k + 1 < len(steps) else step["ts"]["REQUEST_END"]
            spans.setdefault(step["model_name"], []).append((end - step["ts"]["REQUEST_START"]) / 1e3)
    return spans


def measure(server: EmbeddedServer, sizes: Sequence[tuple[int, int]], rounds: int,
            requests: int, warmup: int) -> dict[str, Any]:
    """Every size in turn: the targets interleaved for ``rounds`` rounds; Triton's
    statistics of each block. Returns the raw measurements per size."""
    import tritonclient.grpc as grpc

    client = grpc.InferenceServerClient(server.grpc_url)
    raw: dict[str, Any] = {}
    try:
        for h, w in sizes:
            frame = photo_at((h, w))
            targets = [Target(CHAIN, "IMAGE", ["OUT"]), Target(DISTINCT, "IMAGE", ["OUT"]),
                       Target(PIPELINE, "IMAGE", ["BLURRED", "MASK"]),
                       Target(FUSED, "IMAGE", ["BLURRED", "MASK"])]
            for t in targets:
                run_block(client, t, frame, warmup)
                t.latencies_ms.clear()
            for _ in range(rounds):  # interleaved: A B C A B C ...
                for t in targets:
                    before = model_stats(server.http_url)
                    start = len(t.latencies_ms)
                    run_block(client, t, frame, requests)
                    t.round_p50_ms.append(statistics.median(t.latencies_ms[start:]))
                    t.add_stats(diff_stats(model_stats(server.http_url), before))
            raw[f"{h}x{w}"] = targets
            print(f"[step_overhead] {h}x{w} done", flush=True)
    finally:
        client.close()
    return raw


def summarize(targets: Sequence[Target], spans: dict[str, dict[str, list[float]]],
              step_order: Sequence[str]) -> dict[str, Any]:
    """The table of one size: per step, Triton's statistics and its span in the traced
    requests; per pipeline, the whole request. ``spans``: step_spans of the two ensembles."""
    chain, distinct, pipe, fused = targets
    identity = per_execution(chain.stats[IDENTITY])
    identity["span"] = statistics.median(spans[CHAIN].get(IDENTITY, [float("nan")]))
    copies = [name for name in distinct.stats if name != DISTINCT]
    summed = {k: sum(distinct.stats[c][k] for c in copies) for k in distinct.stats[copies[0]]}
    separate = per_execution(summed)
    separate["span"] = statistics.median(x for c in copies for x in spans[DISTINCT].get(c, []))
    steps = {}
    for name, d in pipe.stats.items():
        if name == PIPELINE:
            continue
        steps[name] = per_execution(d)
        steps[name]["span"] = statistics.median(spans[PIPELINE].get(name, [float("nan")]))
    op_steps = [s for s in steps if s not in DNN_STEPS]
    median_span = statistics.median(steps[s]["span"] for s in op_steps)
    median_step = statistics.median(steps[s]["step"] for s in op_steps)
    whole = {t.model: {"server_ms": per_execution(t.stats[t.model])["request"] / 1e3,
                       "client_p50_ms": statistics.median(t.round_p50_ms),
                       "client_p90_ms": float(np.percentile(t.latencies_ms, 90))}
             for t in targets}
    return {
        "identity": identity, "identity_distinct": separate, "steps": steps,
        "step_order": list(step_order),
        "traced_requests": {k: len(next(iter(v.values()), [])) for k, v in spans.items()},
        "median_op_span_us": median_span,
        "median_span_x_identity": median_span / identity["span"],
        "median_span_x_identity_distinct": median_span / separate["span"],
        "median_op_step_us": median_step,
        "median_step_x_identity": median_step / identity["step"],
        "whole": whole,
        "ensemble_x_fused_server": whole[PIPELINE]["server_ms"] / whole[FUSED]["server_ms"],
        "ensemble_x_fused_client": whole[PIPELINE]["client_p50_ms"] / whole[FUSED]["client_p50_ms"],
    }


def tree_commit(path: Path) -> str:
    """The commit of the git tree holding ``path`` (and whether it has changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(path), *a], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "not a git tree"
    return head + (" with uncommitted changes" if git("status", "--porcelain", "--", ".") else "")


def markdown(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"# Step overhead ({args.tag})", "", f"Machine: {describe()}", "",
             f"Models: {args.repository} ({tree_commit(args.repository)}).", "",
             f"One server, gRPC, one request in flight; {args.rounds} interleaved rounds of "
             f"{args.requests} requests per target (identity chain, {PIPELINE}, {FUSED}) and "
             f"size. `identity` is a bare python_backend model (Triton's examples: its input back "
             f"through DLPack), measured as the {CHAIN_STEPS} steps of `{CHAIN}`; `identity, "
             f"{CHAIN_STEPS} processes` is the same with {CHAIN_STEPS} copies of it (`{DISTINCT}`), "
             f"each step its own stub process as a pipeline's are.", "",
             "- **span**: what the step adds to a request's latency, from Triton's trace (one "
             f"request in {TRACE_EVERY}): from the step's request start to the next step's (the "
             "last: to its end); the median of the traced requests. The steps run one after "
             "another, so the spans add up to the request.",
             "- queue … compute output: mean µs per execution from Triton's statistics (one "
             "request in flight: an execution is one request). Their sum overlaps the next "
             "step: a step's compute output ends after its response has started the next step, "
             "which on 2 cores competes with it.", ""]
    for size, r in results.items():
        lines += [f"## {size}", "",
                  "| step | span | × identity | queue | compute input | compute infer | compute output | sum |",
                  "|---|---|---|---|---|---|---|---|"]
        ident = r["identity"]
        rows = ([(IDENTITY + " (floor)", ident),
                 (f"{IDENTITY}, {CHAIN_STEPS} processes", r["identity_distinct"])]
                + [(s, r["steps"][s]) for s in r["step_order"] if s in r["steps"]])
        for name, s in rows:
            lines.append(f"| {name} | {s['span']:.0f} | {s['span'] / ident['span']:.2f} | {s['queue']:.0f} "
                         f"| {s['compute_input']:.0f} | {s['compute_infer']:.0f} "
                         f"| {s['compute_output']:.0f} | {s['step']:.0f} |")
        lines += ["", f"Median non-DNN step: span {r['median_op_span_us']:.0f} µs = "
                      f"**{r['median_span_x_identity']:.2f}× identity** "
                      f"({r['median_span_x_identity_distinct']:.2f}× identity in {CHAIN_STEPS} "
                      f"processes); by the statistics' sum {r['median_op_step_us']:.0f} µs = "
                      f"{r['median_step_x_identity']:.2f}×.", "",
                  "| whole request | server ms (Triton statistics, mean) | client ms (median of round medians) | client p90 ms |",
                  "|---|---|---|---|"]
        for model, w in r["whole"].items():
            lines.append(f"| {model} | {w['server_ms']:.2f} | {w['client_p50_ms']:.2f} | {w['client_p90_ms']:.2f} |")
        lines += ["", f"{PIPELINE} ÷ {FUSED}: **{r['ensemble_x_fused_client']:.2f}×** (client), "
                      f"{r['ensemble_x_fused_server']:.2f}× (server).", ""]
    return "\n".join(lines) + "\n"


# -- profile: where one step's time goes ----------------------------------------------------
def profile(server: EmbeddedServer, model: str, seconds: float, size: tuple[int, int],
            out: Path) -> str:
    """Sample ``model``'s stub with py-spy while background_blur runs; a summary of where its
    Python time went (own time and cumulative, by function)."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    stubs = [s for s in find_stubs(server.shm_prefix) if s.model == model]
    if not stubs:
        raise SystemExit(f"no stub of {model} is running")
    raw = out.with_suffix(".collapsed.txt")
    rec = subprocess.Popen([pyspy, "record", "--pid", str(stubs[0].pid), "--duration", str(int(seconds)),
                            "--rate", str(PROFILE_RATE), "--format", "raw", "--output", str(raw), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    import tritonclient.grpc as grpc

    client = grpc.InferenceServerClient(server.grpc_url)
    t = Target(PIPELINE, "IMAGE", ["BLURRED", "MASK"])
    frame = photo_at(size)
    try:
        end = time.monotonic() + seconds + 1
        while time.monotonic() < end and rec.poll() is None:
            run_block(client, t, frame, 10)
    finally:
        client.close()
    _, err = rec.communicate(timeout=60)
    if rec.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed: {err.strip()[-500:]}")
    return summarize_profile(raw.read_text(), model, len(t.latencies_ms))


PROFILE_RATE = 1000  # py-spy samples per second


def summarize_profile(collapsed: str, model: str, requests: int, top: int = 25) -> str:
    """A collapsed-stack profile (py-spy --format raw) as two tables: own samples and
    cumulative samples per function, as a share of the samples inside ``execute``."""
    own, cum = Counter(), Counter()
    total = in_execute = 0
    for line in collapsed.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        n = int(n)
        frames = [_frame(f) for f in stack.split(";")]
        total += n
        if not any(f.split(" (")[0].split(".")[-1] == "execute" for f in frames):
            continue
        in_execute += n
        own[frames[-1]] += n
        for f in set(frames):
            cum[f] += n
    lines = [f"### {model}: py-spy, {total} samples while {requests} requests ran, {in_execute} "
             f"inside execute(): about {1e6 * in_execute / PROFILE_RATE / max(requests, 1):.0f} µs "
             f"of Python in execute per request (py-spy samples running Python only)", "",
             "| function (file) | own % of execute | cumulative % of execute |", "|---|---|---|"]
    names = sorted(cum, key=lambda f: -cum[f])[:top]
    for f in names:
        lines.append(f"| {f} | {100 * own[f] / max(in_execute, 1):.1f} | {100 * cum[f] / max(in_execute, 1):.1f} |")
    return "\n".join(lines) + "\n"


def _frame(text: str) -> str:
    """'OpModel.execute (serving/base.py:336)' -> 'OpModel.execute (base.py)'."""
    name, _, where = text.partition(" (")
    return f"{name} ({Path(where.rsplit(':', 1)[0]).name})" if where else name


def parse_size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", type=parse_size, default=[(16, 16), (720, 1280)])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--requests", type=int, default=40, help="requests per target per round")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--profile", metavar="MODEL", help="profile this step's stub instead")
    p.add_argument("--profile-seconds", type=float, default=20)
    p.add_argument("--repository", type=Path, default=MODEL_REPOSITORY,
                   help="the model repository measured (another commit's worktree, for a "
                        "before/after; its models run that tree's code)")
    p.add_argument("--tag", default=default_tag())
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = p.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if Path(args.repository).resolve() != MODEL_REPOSITORY.resolve():
        # The installed project is this tree: the stubs of another tree's models must import
        # that tree's packages (the server's environment, and so theirs, comes from here).
        os.environ["PYTHONPATH"] = str(Path(args.repository).resolve().parent)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        repo = build_repository(tmp_path, args.repository)
        if args.profile:
            with EmbeddedServer(repo) as server:
                out = args.out_dir / f"step_profile_{args.profile}_{args.tag}.md"
                md = profile(server, args.profile, args.profile_seconds, args.sizes[0], out)
            out.write_text(f"# Where a step's time goes ({args.tag})\n\nMachine: {describe()}\n\n"
                           f"background_blur at {args.sizes[0][0]}x{args.sizes[0][1]}, one request "
                           f"in flight.\n\n{md}")
            print(md)
            print(f"wrote {out}")
            return 0
        results = {}
        for h, w in args.sizes:  # a server per size: its trace is that size's
            trace = tmp_path / f"trace_{h}x{w}.json"
            with EmbeddedServer(repo, extra_args=trace_flags(trace)) as server:
                raw = measure(server, [(h, w)], args.rounds, args.requests, args.warmup)
            spans = {name: step_spans(trace, name) for name in (PIPELINE, CHAIN, DISTINCT)}
            results[f"{h}x{w}"] = summarize(raw[f"{h}x{w}"], spans, pipeline_steps(args.repository))
    write_report(args.out_dir, "step_overhead", args.tag, markdown(results, args), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
