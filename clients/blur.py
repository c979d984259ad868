"""Blur the background of image files through Triton.

    python -m clients.blur IMAGE_OR_FOLDER... --out DIR [--url HOST:PORT] [--protocol http|grpc]
        [--sigma S] [--threshold T] [--mask] [--format jpeg|png|webp] [--quality Q]
        [--raw] [--model PIPELINE] [--concurrency N]

Without --url the embedded server is started for the run. By default each file is sent as
it is (its bytes) to background_blur_encoded, which decodes it on the server and answers
a file: DIR/<name> keeps the input's extension and format (JPEG in, JPEG out) unless
--format asks for another; with --mask also DIR/<name>_mask.png. --raw decodes each file
here with Pillow and sends its RGB pixels to background_blur: any format Pillow reads
(BMP, TIFF, ...) in, DIR/<name>.png out. --concurrency requests (default 4) are in flight at
once, so the server never waits for this client; the files are still written in order.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ops.codec import EXTENSIONS, FORMATS, sniff

from .api import FILE_MODEL, MODEL, BlurClient, RequestRefused
from .inflight import DEFAULT_CONCURRENCY, check_concurrency

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
# The extensions that name each format the server writes (an input's own is kept).
FORMAT_OF_SUFFIX = {**{ext: fmt for fmt, ext in EXTENSIONS.items()}, ".jpeg": "jpeg"}

EPILOG = """\
Folders are searched recursively for .jpg .jpeg .png .webp .bmp .tif .tiff files; other
files in them are left alone.

By default every file is sent as it is to the server, which takes JPEG, PNG and WebP: the
result keeps the input's extension and format (a.jpg -> OUT/a.jpg) unless --format sets it
(then the extension follows the format, e.g. a.jpg -> OUT/a.png). A file the server cannot
take (a BMP or TIFF, an empty or corrupt file, one over 4096 px on a side) is skipped with
a warning saying why, the other files are still written, and the exit status is then 1.
--raw decodes each file here with Pillow and sends its pixels instead: it handles BMP and
TIFF too and always writes PNG (OUT/<name>.png). Two inputs that would write the same
output file (a/x.jpg and b/x.jpg) are refused likewise: the first one is written.

Exit status: 0 all files written, 1 some skipped (or the server failed), 2 bad arguments."""


class Skipped(Exception):
    """A file this run does not blur; the message says why."""


def find_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders expanded (sorted, images only).

    Args:
        paths: files and folders; folders are searched recursively for IMAGE_SUFFIXES.

    Returns:
        The files: each given file (whatever its suffix), then each folder's images.

    Raises:
        FileNotFoundError: a path that is neither a file nor a folder.
    """
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
    """Decode an image file with Pillow.

    Args:
        path: any format Pillow reads.

    Returns:
        (H, W, 3) uint8 RGB (cv2.imread + cv2.cvtColor(..., cv2.COLOR_BGR2RGB) in OpenCV).

    Raises:
        OSError: Pillow cannot read it (PIL.UnidentifiedImageError is one).
    """
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def write_png(path: Path, array: np.ndarray) -> None:
    """Write an array as PNG with Pillow, creating the folder.

    Args:
        path: the file to write.
        array: (H, W, 3) uint8 RGB or (H, W) uint8 grayscale.
    """
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_file(path: Path, data: bytes) -> None:
    """Write bytes, creating the folder.

    Args:
        path: the file to write.
        data: its content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def output_name(src: Path, fmt: str) -> str:
    """The result's file name.

    Args:
        src: the input file.
        fmt: the result's format (jpeg, png, webp).

    Returns:
        src's stem with src's extension when it names ``fmt`` (photo.JPEG stays photo.JPEG),
        else with the format's own (photo.jpg as PNG: photo.png).
    """
    keep = FORMAT_OF_SUFFIX.get(src.suffix.lower()) == fmt
    return src.stem + (src.suffix if keep else EXTENSIONS[fmt])


@contextlib.contextmanager
def server_url(url: str | None, protocol: str) -> Iterator[str]:
    """The server to use for the duration: ``url``, or the embedded server started for it.

    Args:
        url: host:port of a running server, or None to start one.
        protocol: 'http' or 'grpc': which of the embedded server's URLs to yield.

    Returns:
        A context manager yielding host:port.

    Raises:
        ServerError: the embedded server did not start.
    """
    if url:
        yield url
        return
    from serving.server import EmbeddedServer
    print("starting the embedded Triton server ...", file=sys.stderr, flush=True)
    with EmbeddedServer() as server:
        yield server.http_url if protocol == "http" else server.grpc_url


def _blur_raw(f: Path, client: BlurClient, save_mask: bool,
              parameters: dict[str, Any]) -> dict[str, Callable[[Path], None]]:
    """Pillow decodes, the pixels go to client.model; PNG writers by output name."""
    try:
        image = read_rgb(f)
    except OSError as e:  # PIL.UnidentifiedImageError is one
        raise Skipped(f"Pillow cannot read it ({e})") from None
    blurred, mask = client.blur(image, **parameters)
    writers = {f.stem + ".png": lambda p: write_png(p, blurred)}
    if save_mask:
        writers[f.stem + "_mask.png"] = lambda p: write_png(p, mask)
    return writers


def _blur_encoded(f: Path, client: BlurClient, save_mask: bool,
                  parameters: dict[str, Any]) -> dict[str, Callable[[Path], None]]:
    """The file's bytes go to client.file_model; file writers by output name."""
    data = f.read_bytes()
    if not data:
        raise Skipped("empty file")
    if sniff(data) is None:
        raise Skipped("not a JPEG, PNG or WebP file, the formats the server decodes "
                      "(--raw decodes other formats here, with Pillow)")
    blurred, mask = (client.blur_file(data, mask=True, **parameters) if save_mask
                     else (client.blur_file(data, **parameters), None))
    writers = {output_name(f, sniff(blurred)): lambda p: write_file(p, blurred)}
    if mask is not None:
        writers[f.stem + "_mask.png"] = lambda p: write_file(p, mask)
    return writers


def blur_files(files: Sequence[Path], out: Path, client: BlurClient, save_mask: bool = False,
               raw: bool = False, warn: Callable[[str], None] | None = None,
               **parameters: Any) -> tuple[list[Path], list[Path]]:
    """Blur each file into ``out``.

    A file that cannot be blurred (unreadable, refused by the server as a client error, or
    whose output another input of this run already wrote) is skipped and ``warn`` says why.
    The client's ``concurrency`` files are read and sent at once; the results are written in
    the files' order.

    Args:
        files: the input files.
        out: the output folder.
        client: the client to send them with.
        save_mask: also write ``<name>_mask.png``.
        raw: decode here with Pillow and send pixels (PNG out), else send each file as it is.
        warn: where the warnings go (default: stderr, above the progress bar).
        **parameters: request parameters (sigma, threshold, format, quality, ...).

    Returns:
        (blurred files written, input files skipped).

    Raises:
        InferenceServerException: the server failed (not a refusal); the run stops.
    """
    from tqdm import tqdm

    warn = warn or (lambda msg: tqdm.write(msg, file=sys.stderr))
    written: list[Path] = []
    skipped: list[Path] = []
    owners: dict[Path, Path] = {}  # output file -> the input that wrote it
    blur_one = _blur_raw if raw else _blur_encoded
    results = client.in_flight(lambda f: blur_one(f, client, save_mask, parameters), files)
    with contextlib.closing(results):  # a failure stops what is still in flight
        for f, writers in tqdm(results, total=len(files), unit="img", disable=len(files) < 2):
            try:
                if isinstance(writers, RequestRefused):
                    raise Skipped(f"the server refused it: {writers.message()}")
                if isinstance(writers, Exception):
                    raise writers  # Skipped: this file's; else the server failed (main says so)
                taken = [owners[out / n] for n in writers if out / n in owners]
                if taken:
                    raise Skipped(f"its output would overwrite that of {taken[0]} (same name)")
            except Skipped as e:
                warn(f"warning: {f}: skipped: {e}")
                skipped.append(f)
                continue
            for k, (name, write) in enumerate(writers.items()):
                write(out / name)
                owners[out / name] = f
                if k == 0:
                    written.append(out / name)
    return written, skipped


def concurrency(text: str) -> int:
    """argparse type of --concurrency.

    Args:
        text: the argument.

    Returns:
        An integer in 1..256.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    try:
        return check_concurrency(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..256, got {text}") from None


def quality(text: str) -> int:
    """argparse type of --quality.

    Args:
        text: the argument.

    Returns:
        An integer in 1..100.

    Raises:
        argparse.ArgumentTypeError: an integer outside 1..100.
        ValueError: not an integer (argparse reports it as invalid).
    """
    q = int(text)
    if not 1 <= q <= 100:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..100, got {text}")
    return q


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m clients.blur``: blur image files through Triton.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: 0 all files written, 1 some skipped (or the server failed), 2 bad
        arguments.
    """
    from tritonclient.utils import InferenceServerException

    p = argparse.ArgumentParser(prog="python -m clients.blur", epilog=EPILOG,
                                description="Blur image backgrounds through Triton.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--url", help="host:port of a running server (default: start one)")
    p.add_argument("--protocol", choices=["http", "grpc"], default="http")
    p.add_argument("--sigma", type=float, help="blur strength (default: the server's config)")
    p.add_argument("--threshold", type=float, help="mask threshold in (0, 1)")
    p.add_argument("--mask", action="store_true", help="also write the masks (<name>_mask.png)")
    p.add_argument("--format", choices=FORMATS,
                   help="the output format (default: the input's; not with --raw)")
    p.add_argument("--quality", type=quality,
                   help="JPEG and WebP quality, 1..100 (default: the server's, 90; not with --raw)")
    p.add_argument("--raw", action="store_true",
                   help="decode here with Pillow, send the pixels, write PNG (BMP, TIFF, ...)")
    p.add_argument("--model", help=f"the pipeline to call (default: {FILE_MODEL}, with --raw {MODEL})")
    p.add_argument("--concurrency", type=concurrency, default=DEFAULT_CONCURRENCY,
                   help=f"requests in flight at once (default {DEFAULT_CONCURRENCY}): the server "
                        f"works on the next file while this client writes the last")
    args = p.parse_args(argv)
    if args.raw and (args.format or args.quality is not None):
        p.error("--format and --quality apply to files sent as they are, not to --raw (PNG out)")
    try:
        files = find_images(args.inputs)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not files:
        print("error: no images found", file=sys.stderr)
        return 2
    params = {k: v for k, v in (("sigma", args.sigma), ("threshold", args.threshold),
                                ("format", args.format), ("quality", args.quality))
              if v is not None}
    model = args.model or (MODEL if args.raw else FILE_MODEL)
    try:
        with server_url(args.url, args.protocol) as url, \
                BlurClient(url, args.protocol, model=model, file_model=model,
                           concurrency=args.concurrency) as client:
            written, skipped = blur_files(files, args.out, client, args.mask, args.raw, **params)
    except (InferenceServerException, ConnectionError) as e:
        where = f"the server at {args.url}" if args.url else "the embedded server"
        print(f"error: {where} failed: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} image(s) to {args.out}")
    if skipped:
        print(f"skipped {len(skipped)} file(s), see the warnings above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
