"""ops.codec on the GPU: nvImageCodec (``nvidia-nvimgcodec-cu13[nvjpeg]``), one call per batch.

JPEG decodes and encodes on the device with nvJPEG; PNG and WebP go through nvImageCodec's
CPU extension (libpng, libwebp) and are uploaded by it. Decoded images are CuPy arrays on
the current device, zero copy (``__cuda_array_interface__``, which keeps the nvImageCodec
image alive and synchronises with its stream). What nvImageCodec fails or gets wrong in a
way the header shows, and CMYK JPEGs and 16-bit PNGs (converted by OpenCV's rules), are
decoded by OpenCV and uploaded, so GPU and CPU accept the same files with the same
semantics; without nvImageCodec at all every file goes that way, said once in the log.
The decoder's options that give OpenCV's semantics (chroma interpolated) are pinned by
decoder_options(), which needs neither nvImageCodec nor a GPU. Verified only where a GPU
ran it: see docs/ops.md, Codecs.
"""
from __future__ import annotations

import functools
import sys
import threading
from typing import Any, Sequence

import numpy as np

from ._gpu import memoize_per_device

# One Decoder/Encoder per device, used under a lock: nvImageCodec does not promise that one
# instance is safe from several threads (its own tests use one per thread).
_LOCK = threading.Lock()

# nvImageCodec's device_id for "no GPU, CPU backends only" (NVIMGCODEC_DEVICE_CPU_ONLY in its
# nvimgcodec.h): the tests run the same decoder and encoder set-up on its CPU backends.
CPU_ONLY_DEVICE = -99999


def decoder_options() -> str:
    """The options string of our nvImageCodec Decoder.

    Returns:
        ``":fancy_upsampling=1"``: subsampled chroma (4:2:0, 4:2:2) is interpolated, as
        libjpeg-turbo does under OpenCV. The leading colon, no decoder name, makes it an
        option of every decoder that reads it: nvJPEG's CUDA decoder (GPU and hybrid
        backends) and its hardware decoder, both as NVJPEG_FLAGS_UPSAMPLING_WITH_INTERPOLATION
        (the hardware one reads its options under the CUDA decoder's name, so a named option
        would miss it), and the libjpeg-turbo CPU decoder.
    """
    # nvImageCodec 0.8's Python Decoder defaults to ":fancy_upsampling=0" (nearest-neighbour
    # chroma: colour edges up to ~30 levels off libjpeg-turbo's); 0.9's to "", each
    # extension's own default. Pinned, so that the semantics do not hang on a default.
    return ":fancy_upsampling=1"


def decode_params() -> Any:
    """Our nvImageCodec DecodeParams: RGB, EXIF orientation applied, 8 bits."""
    from nvidia import nvimgcodec as nv

    return nv.DecodeParams(apply_exif_orientation=True, color_spec=nv.ColorSpec.SRGB,
                           allow_any_depth=False)


def make_coder(kind: str, device_id: int, backends: Sequence[str] | None = None) -> Any:
    """A new nvImageCodec Decoder or Encoder with our options.

    Args:
        kind: "decoder" or "encoder".
        device_id: the CUDA device, or CPU_ONLY_DEVICE.
        backends: nvimgcodec.BackendKind names to allow (e.g. ["CPU_ONLY"]); None: all.

    Returns:
        nvimgcodec.Decoder (options ``decoder_options()``) or nvimgcodec.Encoder.
    """
    from nvidia import nvimgcodec as nv

    kw: dict[str, Any] = {"device_id": device_id}
    if backends is not None:
        kw["backends"] = [nv.Backend(getattr(nv.BackendKind, b)) for b in backends]
    return nv.Decoder(options=decoder_options(), **kw) if kind == "decoder" else nv.Encoder(**kw)


@functools.cache
def unavailable() -> str | None:
    """None when nvImageCodec imports, else why not (said once on stderr)."""
    try:
        from nvidia import nvimgcodec  # noqa: F401
        return None
    except Exception as e:  # noqa: BLE001 - not installed, or its libraries are missing
        why = f"{type(e).__name__}: {e}"
        print(f"ops.codec: nvImageCodec is unavailable ({why}); files are decoded by OpenCV "
              f"on the host and uploaded", file=sys.stderr, flush=True)
        return why


@memoize_per_device
def _coder(kind: str) -> Any:
    """The nvImageCodec decoder or encoder for the current device (made once per device)."""
    import cupy

    return make_coder(kind, cupy.cuda.Device().id)


def decode(files: Sequence[bytes], infos: Sequence[Any]) -> list:
    """Encoded files (host bytes) and their headers (ops.codec.FileInfo) -> (H, W, 3) uint8
    RGB CuPy arrays on the current device, EXIF orientation applied; None for a file
    neither nvImageCodec nor OpenCV can decode. OpenCV decodes (and the result is uploaded)
    what nvImageCodec fails, returns at another size than the header's upright one (a
    rotation it missed), and the files whose conversion ops.codec defines by OpenCV's rules
    (CMYK/YCCK JPEG, 16-bit PNG); also every file when nvImageCodec raises."""
    import cupy

    from .codec import _cv_decode

    images: list = [None] * len(files)
    gpu = [k for k, info in enumerate(infos)
           if not (info.format == "jpeg" and info.channels == 4) and info.bits <= 8]
    if gpu and unavailable() is None:
        from nvidia import nvimgcodec as nv
        try:
            with _LOCK:
                decoded = _coder("decoder").decode(
                    [nv.CodeStream(files[k]) for k in gpu], params=decode_params(),
                    cuda_stream=cupy.cuda.get_current_stream().ptr)
        except Exception as e:  # noqa: BLE001 - the batch goes to OpenCV instead
            print(f"ops.codec: nvImageCodec failed on a batch of {len(gpu)} "
                  f"({type(e).__name__}: {e}); decoded by OpenCV", file=sys.stderr, flush=True)
            decoded = [None] * len(gpu)
        for k, img in zip(gpu, decoded):
            if img is None:
                continue
            arr = cupy.ascontiguousarray(cupy.asarray(img))  # rows may be padded
            if arr.ndim == 3 and arr.shape[2] == 3 and arr.shape[:2] == infos[k].upright:
                images[k] = arr
    for k, f in enumerate(files):
        if images[k] is None:
            host = _cv_decode(np.frombuffer(f, np.uint8))
            images[k] = None if host is None else cupy.asarray(host)
    return images


def encode(images: Sequence[Any], format: str, quality: int) -> list[np.ndarray]:
    """(H, W, 3) RGB or (H, W) CuPy uint8 images -> files as 1-D uint8 NumPy arrays; what
    nvImageCodec fails (or every image, when it raises) is encoded by OpenCV from the host."""
    import cupy

    from .codec import PNG_LEVEL, _cv_encode

    files: list = [None] * len(images)
    if unavailable() is None:
        from nvidia import nvimgcodec as nv
        if format == "png":
            params = nv.EncodeParams(quality_type=nv.QualityType.LOSSLESS,
                                     quality_value=float(PNG_LEVEL))
        else:
            params = nv.EncodeParams(quality_type=nv.QualityType.QUALITY,
                                     quality_value=float(quality))
        arrays = [cupy.ascontiguousarray(im if im.ndim == 3 else im[..., None]) for im in images]
        try:
            with _LOCK:
                coded = _coder("encoder").encode(arrays, format, params=params,
                                                 cuda_stream=cupy.cuda.get_current_stream().ptr)
        except Exception as e:  # noqa: BLE001 - the batch goes to OpenCV instead, as in decode
            print(f"ops.codec: nvImageCodec failed to encode a batch of {len(arrays)} "
                  f"({type(e).__name__}: {e}); encoded by OpenCV", file=sys.stderr, flush=True)
            coded = [None] * len(arrays)
        for k, cs in enumerate(coded):
            if cs is not None:
                files[k] = np.frombuffer(bytes(cs), np.uint8)
    for k, im in enumerate(images):
        if files[k] is None:
            files[k] = _cv_encode(cupy.asnumpy(im), format, quality)
    return files
