"""Blur the background of image files through Triton.

    python -m clients.blur IMAGE_OR_FOLDER... --out DIR [--url HOST:PORT] [--protocol http|grpc]
        [--sigma S] [--threshold T] [--mask] [--model PIPELINE]

Without --url the embedded server is started for the run. Writes DIR/<name>.png (and
<name>_mask.png with --mask).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .api import BlurClient

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def find_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders expanded (sorted, images only)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@contextlib.contextmanager
def server_url(url: str | None, protocol: str) -> Iterator[str]:
    if url:
        yield url
        return
    from serving.server import EmbeddedServer
    print("starting the embedded Triton server ...", file=sys.stderr, flush=True)
    with EmbeddedServer() as server:
        yield server.http_url if protocol == "http" else server.grpc_url


def blur_files(files: Sequence[Path], out: Path, client: BlurClient, save_mask: bool = False,
               **parameters: float) -> list[Path]:
    from tqdm import tqdm

    written = []
    for f in tqdm(files, unit="img", disable=len(files) < 2):
        blurred, mask = client.blur(read_rgb(f), **parameters)
        dst = out / (f.stem + ".png")
        write_png(dst, blurred)
        written.append(dst)
        if save_mask:
            write_png(out / (f.stem + "_mask.png"), mask)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Blur image backgrounds through Triton.")
    p.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--url", help="host:port of a running server (default: start one)")
    p.add_argument("--protocol", choices=["http", "grpc"], default="http")
    p.add_argument("--sigma", type=float, help="blur strength (default: the server's config)")
    p.add_argument("--threshold", type=float, help="mask threshold in (0, 1)")
    p.add_argument("--mask", action="store_true", help="also write the masks")
    p.add_argument("--model", default="background_blur", help="the pipeline to call")
    args = p.parse_args(argv)
    try:
        files = find_images(args.inputs)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not files:
        print("error: no images found", file=sys.stderr)
        return 2
    params = {k: v for k, v in (("sigma", args.sigma), ("threshold", args.threshold)) if v is not None}
    with server_url(args.url, args.protocol) as url, BlurClient(url, args.protocol, args.model) as client:
        written = blur_files(files, args.out, client, args.mask, **params)
    print(f"wrote {len(written)} image(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
