"""Per-op benchmark: each op at 720p and 1080p, batch 1 and 32.

CPU: the NumPy reference (numpy_ms), what ops run on NumPy input (cpu_ms: OpenCV where it
gives the reference's result, docs/ops.md) and OpenCV itself (the same op, one image at a time). GPU (when CuPy sees a
device): kernel time with CUDA events (median), achieved GB/s against a measured
device-to-device copy, and CV-CUDA's equivalent when `cvcuda` is importable.

    python -m bench.ops_bench --tag cpu-2core            (writes bench/results/ops_<tag>.md)
    python -m bench.ops_bench --quick                     (one size, batch 1: a smoke run)
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from serving.paths import REPO_ROOT

import ops
from bench.machine import describe, gpu_name

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}
SIGMA = 8.0


@dataclass
class Case:
    name: str
    ours: Callable[[Any], Any]                 # batch (NumPy or CuPy) -> result
    opencv: Callable[[np.ndarray], Any] | None  # one HWC image -> result
    make: Callable[[np.ndarray], Any]           # uint8 NHWC photo batch -> op input
    nbytes: Callable[[Any], int]                # bytes read + written by one call
    cvcuda: Callable[[Any], Any] | None = None  # CuPy input -> CV-CUDA call


def _u8(x: Any) -> int:
    return int(x.nbytes) if hasattr(x, "nbytes") else sum(int(i.nbytes) for i in x)


def cases() -> list[Case]:
    import cv2

    out: list[Case] = []
    photo = lambda b: b  # noqa: E731
    letter = (256, 256)
    out.append(Case("resize linear -> 256x455", lambda x: ops.resize(x, (256, 455)),
                    lambda im: cv2.resize(im, (455, 256), interpolation=cv2.INTER_LINEAR), photo,
                    lambda x: _u8(x) + x.shape[0] * 256 * 455 * 3))
    out.append(Case("resize area -> 256x455", lambda x: ops.resize(x, (256, 455), "area"),
                    lambda im: cv2.resize(im, (455, 256), interpolation=cv2.INTER_AREA), photo,
                    lambda x: _u8(x) + x.shape[0] * 256 * 455 * 3))
    out.append(Case("resize nearest -> 2x", lambda x: ops.resize(x, (x.shape[1] * 2, x.shape[2] * 2), "nearest"),
                    lambda im: cv2.resize(im, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), photo,
                    lambda x: _u8(x) * 5))
    out.append(Case("letterbox -> 256x256", lambda x: ops.letterbox(x, letter)[0],
                    lambda im: cv2.copyMakeBorder(cv2.resize(im, (256, 144)), 56, 56, 0, 0,
                                                  cv2.BORDER_CONSTANT), photo,
                    lambda x: _u8(x) + x.shape[0] * 256 * 256 * 3))
    out.append(Case("pad 32 reflect101", lambda x: ops.pad(x, 32, 32, 32, 32, "reflect101"),
                    lambda im: cv2.copyMakeBorder(im, 32, 32, 32, 32, cv2.BORDER_REFLECT_101), photo,
                    lambda x: 2 * _u8(x)))
    out.append(Case("cvt_color rgb2gray", lambda x: ops.cvt_color(x, "rgb2gray"),
                    lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), photo,
                    lambda x: _u8(x) * 4 // 3))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    out.append(Case("image_to_tensor imagenet fp32",
                    lambda x: ops.image_to_tensor(x, mean=mean, std=std),
                    lambda im: cv2.dnn.blobFromImage(im, 1 / 255.0),  # mean/std need a 2nd pass in OpenCV
                    photo, lambda x: _u8(x) * 5))
    out.append(Case("tensor_to_mask 256->frame", lambda t: ops.tensor_to_mask(
        t[0], roi=t[1], size=t[2], activation="sigmoid"), None,
        lambda b: (np.random.default_rng(0).standard_normal((b.shape[0], 1, 256, 256)).astype(np.float32),
                   (0, 56, 256, 144), b.shape[1:3]),
        lambda t: t[0].nbytes + t[0].shape[0] * t[2][0] * t[2][1]))
    if hasattr(ops, "gaussian_blur"):
        out.append(Case(f"gaussian_blur sigma {SIGMA:g}", lambda x: ops.gaussian_blur(x, 0, SIGMA),
                        lambda im: cv2.GaussianBlur(im, (0, 0), SIGMA), photo, lambda x: 2 * _u8(x)))
    if hasattr(ops, "morphology"):
        mask = lambda b: np.ascontiguousarray(b[..., 0] > 128).astype(np.uint8) * 255  # noqa: E731
        out.append(Case("morphology open 5", lambda m: ops.morphology(m, "open", 5),
                        lambda m: cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)),
                        mask, lambda m: 2 * _u8(m)))
    if hasattr(ops, "composite"):
        out.append(Case("composite", lambda t: ops.composite(t[0], t[1], t[2]), None,
                        lambda b: (b, b[:, ::-1].copy(), np.ascontiguousarray(b[..., 1])),
                        lambda t: 2 * _u8(t[0]) + _u8(t[2]) + _u8(t[0])))
    if hasattr(ops, "blur_background"):
        out.append(Case(f"blur_background sigma {SIGMA:g}", lambda t: ops.blur_background(t[0], t[1], SIGMA),
                        None, lambda b: (b, np.ascontiguousarray(b[..., 1])),
                        lambda t: 3 * _u8(t[0]) + _u8(t[1])))
        out.append(Case(f"blur_background sigma {SIGMA:g} downscale 4",
                        lambda t: ops.blur_background(t[0], t[1], SIGMA, downscale=4), None,
                        lambda b: (b, np.ascontiguousarray(b[..., 1])),
                        lambda t: 2 * _u8(t[0]) + _u8(t[1])))
    return out


def photo_batch(size: tuple[int, int], n: int) -> np.ndarray:
    from clients.perf.inputs import photo_at
    one = photo_at(size)
    return np.ascontiguousarray(np.broadcast_to(one, (n, *one.shape)))


def time_cpu(fn: Callable[[], Any], budget_s: float) -> float:
    """Median seconds of fn over repeats fitting the budget (at least one)."""
    times = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < budget_s and len(times) < 20):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_gpu(fn: Callable[[], Any], repeats: int = 20) -> float:
    """Median seconds between CUDA events around fn (after warm-up/compilation)."""
    import cupy
    fn()
    cupy.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeats):
        a, b = cupy.cuda.Event(), cupy.cuda.Event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(cupy.cuda.get_elapsed_time(a, b) / 1e3)
    return statistics.median(times)


def copy_bandwidth() -> float:
    """Measured device-to-device copy GB/s (read + write bytes), 512 MiB buffers."""
    import cupy
    a = cupy.empty(512 << 20, cupy.uint8)
    b = cupy.empty_like(a)
    t = time_gpu(lambda: b.__setitem__(slice(None), a))
    return 2 * a.nbytes / t / 1e9


def to_device(x: Any) -> Any:
    import cupy
    if isinstance(x, tuple):
        return tuple(to_device(i) for i in x)
    return cupy.asarray(x) if isinstance(x, np.ndarray) else x


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    p.add_argument("--budget", type=float, default=2.0, help="seconds per CPU measurement")
    p.add_argument("--quick", action="store_true", help="720p, batch 1, short budget")
    p.add_argument("--no-cpu", action="store_true", help="skip the NumPy/OpenCV timings")
    p.add_argument("--tag", default="local")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.batches, args.budget = ["720p"], [1], 0.2
    gpu = gpu_name() is not None
    bw = copy_bandwidth() if gpu else None
    rows = []
    for size in args.sizes:
        for n in args.batches:
            batch = photo_batch(SIZES[size], n)
            for case in cases():
                x = case.make(batch)
                row: dict[str, Any] = {"op": case.name, "size": size, "batch": n}
                if not args.no_cpu:
                    with ops.use_reference():
                        row["numpy_ms"] = 1e3 * time_cpu(lambda: case.ours(x), args.budget)
                    row["cpu_ms"] = 1e3 * time_cpu(lambda: case.ours(x), args.budget)
                    if case.opencv is not None:
                        imgs = list(x) if isinstance(x, np.ndarray) else None
                        row["opencv_ms"] = 1e3 * time_cpu(lambda: [case.opencv(i) for i in imgs], args.budget)
                if gpu:
                    xd = to_device(x)
                    t = time_gpu(lambda: case.ours(xd))
                    row["gpu_ms"] = 1e3 * t
                    row["gpu_GBps"] = case.nbytes(x) / t / 1e9
                    row["of_copy_bw"] = row["gpu_GBps"] / bw
                rows.append(row)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
                      flush=True)
    write_results(rows, args, bw)


def write_results(rows: list[dict], args: argparse.Namespace, bw: float | None) -> None:
    cols = ["op", "size", "batch", "numpy_ms", "cpu_ms", "opencv_ms", "gpu_ms", "gpu_GBps", "of_copy_bw"]
    cols = [c for c in cols if any(c in r for r in rows)]
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"# ops benchmark ({args.tag})", "", f"Machine: {describe()}", ""]
    if bw:
        lines += [f"Measured device-to-device copy: {bw:.0f} GB/s (read + write).", ""]
    lines += ["Times are medians per call (the whole batch); opencv_ms loops over the batch.", "",
              "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    md = args.out_dir / f"ops_{args.tag}.md"
    md.write_text("\n".join(lines) + "\n")
    (args.out_dir / f"ops_{args.tag}.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {md}")


if __name__ == "__main__":
    main()
