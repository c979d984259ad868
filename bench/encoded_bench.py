"""Files vs raw frames: background_blur_encoded (the frames sent as JPEG files, the results
returned as JPEG + PNG) against background_blur (raw RGB in, raw RGB + mask out), the same
real photos, one server, perf_analyzer at the same concurrency: throughput, latency and the
bytes each request puts on the wire.

    python -m bench.encoded_bench --workloads 720p 1080p --concurrency 2 --tag cpu-2core

Bytes on the wire are the tensor payloads of one real request per frame and model (the input
sent, the outputs received); the protocol's own framing (headers, a few hundred bytes) is
not counted. No shared memory, so every counted byte goes through the socket.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from serving.paths import REPO_ROOT

from bench.machine import describe
from bench.pipeline_bench import measure, steps_markdown
import ops
from clients.perf.inputs import frames, write_input_data
from clients.perf.sweep import Config, server_urls, write_csv
from tests.helpers import infer

RAW, ENCODED = "background_blur", "background_blur_encoded"
OUTPUTS = ("BLURRED", "MASK")


def wire_bytes(grpc_url: str, model: str, input_name: str, items: list[np.ndarray]) -> tuple[int, int]:
    """Mean (request, response) tensor bytes per request over ``items``, each sent once
    through tritonclient: the input's bytes, and the bytes of the outputs that came back."""
    sent, received = [], []
    for item in items:
        out = infer(grpc_url, "grpc", model, {input_name: item[None]}, OUTPUTS, timeout=120)
        sent.append(item.nbytes)
        received.append(sum(a.nbytes for a in out.values()))
    return round(np.mean(sent)), round(np.mean(received))


def summarize(rows: list[dict]) -> list[dict]:
    """One line per (workload, model, concurrency), with ratios to the raw pipeline's line."""
    out = []
    for r in rows:
        thr = float(r["Inferences/Second"])
        raw = next((b for b in rows if b["model"] == RAW and b["workload"] == r["workload"]
                    and b["Concurrency"] == r["Concurrency"]), None)
        out.append({"workload": r["workload"], "model": r["model"], "sends": r["sends"],
                    "concurrency": int(r["Concurrency"]), "infer_per_s": round(thr, 2),
                    "p50_ms": round(float(r["p50 latency"]) / 1000, 1),
                    "p99_ms": round(float(r["p99 latency"]) / 1000, 1),
                    "request_kb": round(r["request_bytes"] / 1024, 1),
                    "response_kb": round(r["response_bytes"] / 1024, 1),
                    "wire_kb": round(r["wire_bytes"] / 1024, 1),
                    "x_raw_infer": round(thr / float(raw["Inferences/Second"]), 2) if raw else None,
                    "x_raw_bytes": round(r["wire_bytes"] / raw["wire_bytes"], 3) if raw else None})
    return out


def markdown(summary: list[dict], steps: dict[str, list[dict]], failed: dict[str, str],
             args: argparse.Namespace) -> str:
    lines = [f"# Encoded vs raw frames ({args.tag})", "",
             f"Machine: {describe()}", "",
             f"perf_analyzer, protocol {args.protocol}, no shared memory, concurrency "
             f"{args.concurrency}, measurement window {args.measurement_ms} ms. `{ENCODED}` gets "
             f"the same frames as `{RAW}`, as JPEG quality {args.quality}, and returns the blurred "
             "frame as JPEG (the input's format) and the mask as PNG. KB on the wire: request + "
             "response tensor payloads of one real request (1 KB = 1024 bytes).", "",
             "| workload | model | sends | concurrency | infer/s | p50 ms | p99 ms | request KB "
             "| response KB | KB on the wire | × raw infer/s | × raw bytes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['workload']} | {s['model']} | {s['sends']} | {s['concurrency']} | "
              f"{s['infer_per_s']} | {s['p50_ms']} | {s['p99_ms']} | {s['request_kb']} | "
              f"{s['response_kb']} | {s['wire_kb']} | {s['x_raw_infer']} | {s['x_raw_bytes']} |"
              for s in summary]
    if failed:
        lines += ["", "## Failed", ""] + [f"- {label}: {why}" for label, why in failed.items()]
    return "\n".join(lines + steps_markdown(steps)) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["720p", "1080p"])
    p.add_argument("--concurrency", nargs="+", type=int, default=[2])
    p.add_argument("--protocol", default="grpc", choices=["http", "grpc"])
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the files sent")
    p.add_argument("--measurement-ms", type=int, default=3000)
    p.add_argument("--max-trials", type=int, default=6,
                   help="perf_analyzer measurement windows per level before it gives up")
    p.add_argument("--url", help="HTTP host:port of a running server (default: embedded)")
    p.add_argument("--grpc-url")
    p.add_argument("--tag", default="local", help="names the result files")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = p.parse_args(argv)

    rows: list[dict] = []
    steps: dict[str, list[dict]] = {}
    failed: dict[str, str] = {}
    stem = args.out_dir / f"encoded_{args.tag}"

    def write() -> str:
        # After every run, so a run cut short still leaves what it measured.
        md = markdown(summarize(rows), steps, failed, args)
        stem.parent.mkdir(parents=True, exist_ok=True)
        write_csv(rows, stem.with_suffix(".csv"))
        stem.with_suffix(".md").write_text(md)
        return md

    with server_urls(args.url, args.grpc_url) as (http_url, grpc_url), \
            tempfile.TemporaryDirectory() as tmp:
        target = grpc_url if args.protocol == "grpc" else http_url
        for workload in args.workloads:
            raw = frames(workload)
            runs = [(RAW, "IMAGE", raw, "RGB uint8"),
                    (ENCODED, "ENCODED", ops.encode(raw, "jpeg", args.quality),
                     f"JPEG q{args.quality}")]
            for model, input_name, items, sends in runs:
                data = write_input_data(Path(tmp) / f"{model}_{workload}.json", items, input_name)
                # The one real request per frame also warms the model up before perf_analyzer.
                request, response = wire_bytes(grpc_url, model, input_name, items)
                cfg = Config(model, workload, args.protocol, "none")
                got, steps[f"{model} {workload}"], why = measure(
                    cfg, target, http_url, data, args.concurrency, args.measurement_ms, args.max_trials)
                if why:
                    failed[cfg.label] = why
                rows += [{**r, "sends": sends, "request_bytes": request, "response_bytes": response,
                          "wire_bytes": request + response} for r in got]
                write()
    md = write()
    print(md)
    print(f"wrote {stem}.md, .csv")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
