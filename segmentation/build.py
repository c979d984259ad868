"""Build model_repository/unet/1/model.onnx from the mediapipe wheel, reproducibly.

    python -m segmentation.build          (also run by `make model`)

Downloads mediapipe==0.10.21 with `pip download --no-deps` into build/ (never installs
it), extracts selfie_segmentation.tflite, checks its sha256, converts it, and checks the
ONNX file against the committed checksum. Idempotent: a model with the right checksum is
left alone. Nothing downloads weights at run time.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

# The repository root: the model is built into its model_repository/ (serving.paths knows the
# rest of the layout; segmentation sits below serving, so it names this one place itself).
ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "model_repository" / "unet"
DEFAULT_OUT = MODEL_DIR / "1" / "model.onnx"
CHECKSUM_FILE = MODEL_DIR / "model.onnx.sha256"
CACHE = ROOT / "build"
WHEEL_REQ = "mediapipe==0.10.21"
TFLITE_MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
TFLITE_SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
BUILD_COMMAND = "python -m segmentation.build (or: make model)"


def sha256(path: Path) -> str:
    """The sha256 of a file.

    Args:
        path: the file.

    Returns:
        Its hex digest.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def expected_onnx_sha256() -> str:
    """The committed checksum of the ONNX model (CHECKSUM_FILE).

    Returns:
        The hex digest.
    """
    return CHECKSUM_FILE.read_text().split()[0]


def fetch_tflite(cache: Path = CACHE) -> Path:
    """selfie_segmentation.tflite from the mediapipe wheel (downloaded once into cache).

    Args:
        cache: the folder the wheel and the extracted file are kept in.

    Returns:
        The .tflite file, its sha256 checked.

    Raises:
        subprocess.CalledProcessError: pip could not download the wheel.
        RuntimeError: no wheel after the download, or the file's sha256 differs (it is deleted).
    """
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / "selfie_segmentation.tflite"
    if not out.exists():
        wheels = sorted(cache.glob("mediapipe-0.10.21-*.whl"))
        if not wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            WHEEL_REQ, "-d", str(cache)], check=True)
            wheels = sorted(cache.glob("mediapipe-0.10.21-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download {WHEEL_REQ} produced no wheel in {cache}")
        with zipfile.ZipFile(wheels[0]) as zf:
            out.write_bytes(zf.read(TFLITE_MEMBER))
    got = sha256(out)
    if got != TFLITE_SHA256:
        out.unlink()
        raise RuntimeError(f"{TFLITE_MEMBER}: sha256 {got}, expected {TFLITE_SHA256}")
    return out


def build(out: Path = DEFAULT_OUT, force: bool = False) -> Path:
    """Build the ONNX model at ``out`` unless it is already there with the right checksum.

    Args:
        out: the model file to write.
        force: convert even when it is up to date.

    Returns:
        ``out``.

    Raises:
        RuntimeError: the download's or the converted model's sha256 differs from the pinned one.
    """
    from .tflite_to_onnx import convert

    out = Path(out)
    if not force and out.exists() and sha256(out) == expected_onnx_sha256():
        return out
    model = convert(fetch_tflite())
    data = model.SerializeToString()
    got = hashlib.sha256(data).hexdigest()
    if got != expected_onnx_sha256():
        raise RuntimeError(f"converted model sha256 {got} differs from {CHECKSUM_FILE} "
                           f"({expected_onnx_sha256()}); the converter or its pinned "
                           f"onnx version changed")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def main() -> None:
    """``python -m segmentation.build``: build the model, print its path, size and sha256."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = p.parse_args()
    path = build(args.out, args.force)
    print(f"{path} ({path.stat().st_size} bytes, sha256 {sha256(path)[:16]}…)")


if __name__ == "__main__":
    main()
