"""What the request limits cost: each model with request parameters, at the largest image
the service takes (MAX_SIDE x MAX_SIDE), its default request against the most expensive
requests its parameter ranges allow (docs/serving.md, Request limits).

In process, on the CPU, through the models' own validate and compute (what a Triton
instance runs per request), with the repository's configs. Best of --repeat runs.

    python -m bench.limits_bench --tag cpu-2core     (writes bench/results/limits_<tag>.md)
    python -m bench.limits_bench --side 256 --quick  (a smoke run; sigma 128 needs a side >= 128)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.machine import describe
from clients.perf.inputs import photo_at
from serving.models.caps import MAX_GUIDED_RADIUS, MAX_JBF_DIAMETER, MAX_KSIZE, MAX_SIGMA
from serving.paths import MODEL_REPOSITORY, REPO_ROOT
from serving.pipeline.repository import load_repository
from serving.pipeline.repository_models import model_instance
from serving.requests import MAX_SIDE

# Per model: its request item at side S, and the requests to time (the first is the default).
# The expensive ends of the ranges: blur cost grows with sigma up to the cap; downscale 2
# costs more than 1 (two resizes around a quarter-size blur), larger factors less.
REQUESTS: dict[str, list[dict[str, Any]]] = {
    "blur": [{}, {"sigma": MAX_SIGMA}, {"downscale": 2}, {"sigma": MAX_SIGMA, "downscale": 2}],
    "morphology": [{}, {"ksize": MAX_KSIZE}],
    "tensor_to_mask": [{}, {"morph_ksize": MAX_KSIZE}, {"morph_ksize": MAX_KSIZE, "threshold": "none"}],
    # The matte: the guided filter's cost does not grow with its radius; the joint bilateral
    # filter's grows with its window's area, the colour guide costs more than the grey.
    "refine_mask": [{}, {"refine": "guided", "refine_guide": "color", "refine_radius": MAX_GUIDED_RADIUS},
                    {"refine": "joint_bilateral", "refine_guide": "color",
                     "refine_diameter": MAX_JBF_DIAMETER}],
    "background_blur_fused": [{}, {"sigma": MAX_SIGMA, "morph_ksize": MAX_KSIZE},
                              {"sigma": MAX_SIGMA, "morph_ksize": MAX_KSIZE, "downscale": 2}],
}


def items(model: str, side: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    mask = np.where(rng.random((side, side)) > 0.5, 255, 0).astype(np.uint8)
    return {
        "blur": lambda: {"IMAGE": photo_at((side, side)), "MASK": mask},
        "morphology": lambda: {"MASK": mask},
        "refine_mask": lambda: {"IMAGE": photo_at((side, side)), "MASK": mask},
        "tensor_to_mask": lambda: {"PROB": rng.random((1, 256, 256)).astype(np.float32),
                                   "ROI": np.array([0, 0, 256, 256], np.int32),
                                   "SRC_SIZE": np.array([side, side], np.int32)},
        "background_blur_fused": lambda: {"IMAGE": photo_at((side, side))},
    }[model]()


def best(f: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(side: int, repeat: int) -> list[dict[str, Any]]:
    entries, _ = load_repository(MODEL_REPOSITORY)
    rows = []
    for name, requests in REQUESTS.items():
        model = model_instance(entries[name])
        item = items(name, side)
        base = None
        for overrides in requests:
            params = model.request_params(overrides)

            def run() -> None:
                model.validate(item, params)
                model.run_items([item], params)
            seconds = best(run, repeat)
            base = base or seconds
            rows.append({"model": name, "request": overrides, "seconds": seconds,
                         "ratio": seconds / base})
            print(f"{name} {overrides or 'default'}: {seconds:.2f} s ({seconds / base:.1f}x)",
                  flush=True)
    return rows


def table(rows: list[dict[str, Any]], side: int) -> str:
    out = [f"Largest image {side}x{side}, batch 1, CPU: {describe()}.", "",
           "| model | request parameters | seconds | x default |", "|---|---|---|---|"]
    for r in rows:
        req = ", ".join(f"{k}={v}" for k, v in r["request"].items()) or "(default)"
        out.append(f"| `{r['model']}` | {req} | {r['seconds']:.2f} | {r['ratio']:.1f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", type=int, default=MAX_SIDE, help=f"image side (default {MAX_SIDE})")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="one run each, print only")
    p.add_argument("--tag", help="write bench/results/limits_<tag>.md")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    a = p.parse_args(argv)
    rows = measure(a.side, 1 if a.quick else a.repeat)
    text = table(rows, a.side)
    print(text)
    if a.tag:
        a.out_dir.mkdir(parents=True, exist_ok=True)
        (a.out_dir / f"limits_{a.tag}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
