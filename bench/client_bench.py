"""Does one client keep a server busy? A folder of 64 real photos (JPEG) through
``clients.blur`` (what ``python -m clients.blur FOLDER --out DIR --mask`` runs after start-up)
against perf_analyzer sending the same 64 files to the same model at the same concurrency,
on one server, interleaved (A B A B) in one run.

    python -m bench.client_bench --concurrency 1 4 --rounds 2 --tag cpu-2core

Both ask background_blur_encoded for BLURRED and MASK over gRPC. The client also reads each
file, checks its format and writes both results; perf_analyzer only sends and receives.
Results: bench/results/client_<tag>.md (and .json).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from serving.paths import REPO_ROOT

from bench.machine import describe, tag as default_tag
from bench.report import write_report
from clients.api import FILE_MODEL, BlurClient
from clients.blur import blur_files
from clients.perf.inputs import real_photos, write_input_data
from clients.perf.sweep import Config, run_perf_analyzer, server_urls

PHOTOS = 64
# Each photo at these scales of its own size (about 150 to 600 px on a side).
SCALES = (0.3, 0.45, 0.6, 0.75, 0.9, 1.0, 1.1, 1.2, 0.35, 0.5, 0.65, 0.8, 0.95)


def photo_folder(folder: Path, n: int = PHOTOS) -> list[Path]:
    """``n`` JPEG files (quality 90, Pillow) of scikit-image's real photos at several sizes."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photos = real_photos()
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        s = SCALES[(i // len(photos)) % len(SCALES)]
        h, w = (max(16, round(d * s)) for d in photo.shape[:2])
        path = folder / f"photo_{i:02d}.jpg"
        Image.fromarray(photo).resize((w, h), Image.BILINEAR).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def client_run(grpc_url: str, files: list[Path], out: Path, concurrency: int) -> float:
    """Files per second of clients.blur over the folder (gRPC, masks too)."""
    with BlurClient(grpc_url, "grpc", model=FILE_MODEL, file_model=FILE_MODEL,
                    concurrency=concurrency) as client:
        t0 = time.perf_counter()
        written, skipped = blur_files(files, out, client, save_mask=True,
                                      warn=lambda msg: print(msg, file=sys.stderr))
        elapsed = time.perf_counter() - t0
    if skipped or len(written) != len(files):
        raise RuntimeError(f"clients.blur skipped {len(skipped)} of {len(files)} files")
    return len(files) / elapsed


def perf_run(grpc_url: str, data: Path, concurrency: int, measurement_ms: int) -> float:
    """perf_analyzer's infer/s on the same files, model and protocol."""
    cfg = Config(FILE_MODEL, "photos", "grpc", "none")
    rows = run_perf_analyzer(cfg, grpc_url, [concurrency], data, measurement_ms)
    return float(rows[0]["Inferences/Second"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--measurement-ms", type=int, default=8000)
    p.add_argument("--photos", type=int, default=PHOTOS, help="files in the folder")
    p.add_argument("--url", help="a running server's HTTP host:port (default: embedded)")
    p.add_argument("--grpc-url", help="its gRPC host:port")
    p.add_argument("--tag", default=default_tag())
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = p.parse_args(argv)

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, server_urls(args.url, args.grpc_url) as (_, url):
        tmp_path = Path(tmp)
        files = photo_folder(tmp_path / "photos", args.photos)
        data = write_input_data(tmp_path / "photos.json",
                                [np.frombuffer(f.read_bytes(), np.uint8) for f in files], "ENCODED")
        client_run(url, files[:8], tmp_path / "warm", 2)  # loads and warms every step
        for c in args.concurrency:
            r = results.setdefault(str(c), {"client": [], "perf_analyzer": []})
            for k in range(args.rounds):  # A B A B
                r["client"].append(client_run(url, files, tmp_path / f"out_{c}_{k}", c))
                r["perf_analyzer"].append(perf_run(url, data, c, args.measurement_ms))
                print(f"[client_bench] concurrency {c} round {k}: client {r['client'][-1]:.2f}/s, "
                      f"perf_analyzer {r['perf_analyzer'][-1]:.2f}/s", flush=True)
    lines = [f"# One client against perf_analyzer ({args.tag})", "", f"Machine: {describe()}", "",
             f"{args.photos} JPEG photos (scikit-image's, 150-600 px a side) through {FILE_MODEL}, "
             "BLURRED and MASK, gRPC, one server; clients.blur reads, sends, and writes both "
             f"files; perf_analyzer sends the same files ({args.measurement_ms} ms windows). "
             f"{args.rounds} rounds, client and perf_analyzer alternating.", "",
             "| concurrency | clients.blur files/s | perf_analyzer infer/s | client ÷ perf_analyzer |",
             "|---|---|---|---|"]
    summary = {}
    for c, r in results.items():
        client, perf = statistics.median(r["client"]), statistics.median(r["perf_analyzer"])
        summary[c] = {"client_per_s": client, "perf_analyzer_per_s": perf, "ratio": client / perf,
                      "rounds": r}
        lines.append(f"| {c} | {client:.2f} | {perf:.2f} | **{client / perf:.2f}** |")
    write_report(args.out_dir, "client", args.tag, "\n".join(lines) + "\n", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
