"""Whole-pipeline benchmark: the classic CPU pipeline vs the background_blur ensemble
(vs the fused model when present), all served by one Triton server and measured the same
way with perf_analyzer, in one run. Writes a table of throughput ratios, the raw CSV, a
plot and the per-model time breakdown to bench/results/.

    python -m bench.pipeline_bench --workloads 720p --concurrency 1 2 4 --tag cpu-2core
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from serving.paths import REPO_ROOT

from bench.machine import describe
from clients.perf.inputs import frames, write_input_data
from clients.perf.plot import plot_throughput_latency
from clients.perf.stats import diff_stats, model_stats, per_request_table
from clients.perf.sweep import Config, parse_variant, run_perf_analyzer, server_urls, write_csv

BASELINE = "baseline_cpu_pipeline"
CANDIDATES = [BASELINE, "background_blur", "background_blur_fused"]


def available_models(url: str) -> list[str]:
    import tritonclient.http as http

    client = http.InferenceServerClient(url)
    try:  # readiness, not the repository index: that API is the supervisor's (docs/serving.md)
        return [m for m in CANDIDATES if client.is_model_ready(m)]
    finally:
        client.close()


def summarize(rows: list[dict], models: list[str]) -> list[dict]:
    """Best throughput per (model, workload) and its ratio to the baseline's best."""
    best: dict[tuple[str, str], dict] = {}
    for r in rows:
        key = (r["model"], r["workload"])
        if key not in best or float(r["Inferences/Second"]) > float(best[key]["Inferences/Second"]):
            best[key] = r
    out = []
    for (model, workload), r in sorted(best.items(), key=lambda kv: (kv[0][1], models.index(kv[0][0]))):
        base = best.get((BASELINE, workload))
        thr = float(r["Inferences/Second"])
        out.append({"workload": workload, "model": model, "best_infer_per_s": round(thr, 2),
                    "at_concurrency": int(r["Concurrency"]),
                    "p99_ms": round(float(r["p99 latency"]) / 1000, 1),
                    "x_baseline": round(thr / float(base["Inferences/Second"]), 2) if base else None})
    return out


def markdown(summary: list[dict], steps: dict[str, list[dict]], args: argparse.Namespace) -> str:
    lines = [f"# Pipeline benchmark ({args.tag})", "",
             f"Machine: {describe()}", "",
             f"perf_analyzer, protocol {args.protocol}, shared memory {args.shm}, "
             f"concurrency {args.concurrency}, measurement window {args.measurement_ms} ms.", "",
             "| workload | model | best infer/s | at concurrency | p99 ms | × baseline |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {s['workload']} | {s['model']} | {s['best_infer_per_s']} | {s['at_concurrency']} "
              f"| {s['p99_ms']} | {s['x_baseline']} |" for s in summary]
    return "\n".join(lines + steps_markdown(steps)) + "\n"


def steps_markdown(steps: dict[str, list[dict]]) -> list[str]:
    """Markdown lines: one per-model time breakdown (stats.per_request_table) per run."""
    lines: list[str] = []
    for label, table in steps.items():
        lines += ["", f"## Where the time goes: {label} (mean µs per request, Triton statistics)", "",
                  "| model | requests | mean batch | queue | compute input | compute infer | compute output | total |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {t['model']} | {t['requests']} | {t['mean_batch']} | {t['queue_us']} | "
                  f"{t['compute_input_us']} | {t['compute_infer_us']} | {t['compute_output_us']} | "
                  f"{t['total_us']} |" for t in table]
    return lines


def measure(cfg: Config, target: str, http_url: str, data: Path, concurrency: list[int],
            measurement_ms: int, max_trials: int) -> tuple[list[dict], list[dict], str | None]:
    """One configuration under perf_analyzer: its CSV rows, the per-model breakdown of the
    time spent meanwhile (Triton statistics), and why it failed (None when it did not).
    A failing configuration is reported, not raised, so it does not lose the others."""
    print(f"[bench] {cfg.label}", flush=True)
    before = model_stats(http_url)
    rows: list[dict] = []
    why = None
    try:
        rows = run_perf_analyzer(cfg, target, concurrency, data, measurement_ms, max_trials=max_trials)
    except RuntimeError as e:
        lines = str(e).strip().splitlines()
        reasons = [l.strip() for l in lines if re.search(r"(?i)error|failed|no valid|unable", l)]
        why = " / ".join(reasons[1:3] or lines[-1:])[:300]
        print(f"[bench] FAILED {cfg.label}:\n{e}", file=sys.stderr, flush=True)
    return rows, per_request_table(diff_stats(model_stats(http_url), before)), why


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["720p"])
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--protocol", default="grpc", choices=["http", "grpc"])
    p.add_argument("--shm", default="system", choices=["none", "system", "cuda"])
    p.add_argument("--measurement-ms", type=int, default=4000)
    p.add_argument("--models", nargs="+", help="default: every candidate the server has")
    p.add_argument("--variants", nargs="*", default=[],
                   help="more runs with request parameters, e.g. background_blur+downscale:4:int")
    p.add_argument("--url", help="HTTP host:port of a running server (default: embedded)")
    p.add_argument("--grpc-url")
    p.add_argument("--tag", default="local", help="names the result files")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    p.add_argument("--max-trials", type=int, default=10,
                   help="perf_analyzer measurement windows per level before it gives up")
    args = p.parse_args(argv)

    rows: list[dict] = []
    steps: dict[str, list[dict]] = {}
    failed: dict[str, str] = {}
    stem = args.out_dir / f"pipeline_{args.tag}"
    models: list[str] = []

    def write(final: bool) -> str:
        # After every variant, so a run cut short still leaves what it measured.
        summary = summarize(rows, models)
        md = markdown(summary, steps, args)
        if failed:
            md += "\n## Failed\n\n" + "\n".join(f"- {v}: {e}" for v, e in failed.items()) + "\n"
        stem.parent.mkdir(parents=True, exist_ok=True)
        write_csv(rows, stem.with_suffix(".csv"))
        stem.with_suffix(".md").write_text(md)
        if final and rows:
            plot_throughput_latency(rows, stem.with_suffix(".png"))
        return md

    with server_urls(args.url, args.grpc_url) as (http_url, grpc_url), \
            tempfile.TemporaryDirectory() as tmp:
        models = (args.models or available_models(http_url)) + list(args.variants)
        if BASELINE not in models:
            print(f"warning: {BASELINE} not loaded; ratios will be empty", file=sys.stderr)
        target = grpc_url if args.protocol == "grpc" else http_url
        for workload in args.workloads:
            data = write_input_data(Path(tmp) / f"{workload}.json", frames(workload))
            for variant in models:
                model, params = parse_variant(variant)
                cfg = Config(model, workload, args.protocol, args.shm, params)
                got, steps[f"{variant} {workload}"], why = measure(
                    cfg, target, http_url, data, args.concurrency, args.measurement_ms, args.max_trials)
                rows += got
                if why:
                    failed[cfg.label] = why
                write(final=False)
    md = write(final=True)
    print(md)
    print(f"wrote {stem}.md, .csv" + (", .png" if rows else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
