"""ops.codec on the GPU: nvImageCodec (``nvidia-nvimgcodec-cu13[nvjpeg]``), one call per batch.

JPEG decodes and encodes on the device with nvJPEG; PNG and WebP go through nvImageCodec's
CPU extension (libpng, libwebp) and are uploaded by it. Decoded images are CuPy arrays on
the current device, zero copy (``__cuda_array_interface__``, which keeps the nvImageCodec
image alive and synchronises with its stream). What nvImageCodec fails or gets wrong in a
way the header shows, and CMYK JPEGs and 16-bit PNGs (converted by OpenCV's rules), are
decoded by OpenCV and uploaded, so GPU and CPU accept the same files with the same
semantics; without nvImageCodec at all every file goes that way, said once in the log.
The options that give OpenCV's semantics (chroma interpolated on decode, JPEG written 4:2:0)
are pinned by decoder_options() and encode_params_kwargs(), which need neither nvImageCodec
nor a GPU. Verified only where a GPU ran it: see docs/ops.md, Codecs.
"""
from __future__ import annotations

import functools
import sys
import threading
from typing import Any, Sequence

import numpy as np

from . import codec_cv
from ._gpu import memoize_per_device

# nvImageCodec and CuPy are imported inside the functions: both are optional, and heavy.

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


def encode_params_kwargs(format: str, quality: int, channels: int) -> dict[str, Any]:
    """The EncodeParams of one encode call, with nvImageCodec's enum members by NAME
    (``encode_params`` resolves them), so that they can be checked without nvImageCodec.

    Args:
        format: "jpeg", "png" or "webp".
        quality: 1..100 (JPEG and WebP); PNG is lossless at zlib level ops.codec_cv.PNG_LEVEL.
        channels: 3 for (H, W, 3) RGB images, 1 for (H, W) masks.

    Returns:
        Keyword arguments of ``nvimgcodec.EncodeParams``: quality_type ("QUALITY" or
        "LOSSLESS"), quality_value, and for JPEG chroma_subsampling: "CSS_420" for RGB (what
        OpenCV writes by default, IMWRITE_JPEG_SAMPLING_FACTOR 4:2:0), "CSS_GRAY" for masks
        (one component, as OpenCV writes a 1-channel image).
    """
    if format == "png":
        return {"quality_type": "LOSSLESS", "quality_value": float(codec_cv.PNG_LEVEL)}
    kwargs: dict[str, Any] = {"quality_type": "QUALITY", "quality_value": float(quality)}
    if format == "jpeg":
        # Without chroma_subsampling nvImageCodec 0.8 writes 3 channels as 4:4:4. CSS_GRAY,
        # not CSS_420, for masks: nvJPEG refuses a 1-channel image with any output but gray.
        # WebP has no such parameter (lossy WebP is always 4:2:0).
        kwargs["chroma_subsampling"] = "CSS_420" if channels == 3 else "CSS_GRAY"
    return kwargs


def encode_calls(format: str, quality: int, channels: Sequence[int]
                 ) -> list[tuple[dict[str, Any], list[int]]]:
    """How a batch is encoded: one nvImageCodec call per distinct EncodeParams, since a
    call's chroma subsampling applies to every image in it (a JPEG batch of RGB images and
    masks takes two calls; any other batch one).

    Args:
        format, quality: as ``encode_params_kwargs``.
        channels: each image's channels (3 or 1), in batch order.

    Returns:
        (``encode_params_kwargs`` result, indices of the images it encodes) per call.
    """
    calls: dict[tuple, list[int]] = {}
    for k, c in enumerate(channels):
        calls.setdefault(tuple(sorted(encode_params_kwargs(format, quality, c).items())),
                         []).append(k)
    return [(dict(key), ks) for key, ks in calls.items()]


def decode_params() -> Any:
    """Our nvImageCodec DecodeParams: RGB, EXIF orientation applied, 8 bits."""
    from nvidia import nvimgcodec as nv

    return nv.DecodeParams(apply_exif_orientation=True, color_spec=nv.ColorSpec.SRGB,
                           allow_any_depth=False)


def encode_params(kwargs: dict[str, Any]) -> Any:
    """``encode_params_kwargs``'s result as an nvImageCodec EncodeParams (names -> enums)."""
    from nvidia import nvimgcodec as nv

    enums = {"quality_type": nv.QualityType, "chroma_subsampling": nv.ChromaSubsampling}
    return nv.EncodeParams(**{k: getattr(enums[k], v) if k in enums else v
                              for k, v in kwargs.items()})


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
            host = codec_cv.cv_decode(np.frombuffer(f, np.uint8))
            images[k] = None if host is None else cupy.asarray(host)
    return images


def encode(images: Sequence[Any], format: str, quality: int) -> list[np.ndarray]:
    """(H, W, 3) RGB or (H, W) CuPy uint8 images -> files as 1-D uint8 NumPy arrays; what
    nvImageCodec fails (or every image of a call, when it raises) is encoded by OpenCV from
    the host. One nvImageCodec call per batch (two for a JPEG batch of RGB images and masks:
    ``encode_calls``)."""
    import cupy

    files: list = [None] * len(images)
    if unavailable() is None:
        channels = [3 if im.ndim == 3 else 1 for im in images]
        for kwargs, ks in encode_calls(format, quality, channels):
            arrays = [cupy.ascontiguousarray(im if im.ndim == 3 else im[..., None])
                      for im in (images[k] for k in ks)]
            try:
                with _LOCK:
                    coded = _coder("encoder").encode(
                        arrays, format, params=encode_params(kwargs),
                        cuda_stream=cupy.cuda.get_current_stream().ptr)
            except Exception as e:  # noqa: BLE001 - the call goes to OpenCV instead, as in decode
                print(f"ops.codec: nvImageCodec failed to encode a batch of {len(arrays)} "
                      f"({type(e).__name__}: {e}); encoded by OpenCV", file=sys.stderr, flush=True)
                coded = [None] * len(arrays)
            for k, cs in zip(ks, coded):
                if cs is not None:
                    files[k] = np.frombuffer(bytes(cs), np.uint8)
    for k, im in enumerate(images):
        if files[k] is None:
            files[k] = codec_cv.cv_encode(cupy.asnumpy(im), format, quality)
    return files
