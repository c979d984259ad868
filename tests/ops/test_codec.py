"""ops.codec: decode equals OpenCV (cv2.imdecode + BGR->RGB) byte for byte on real photos in
every supported form, EXIF orientation agrees with Pillow, headers are read without decoding
(bombs refused), hostile files are refused with a message, encode round-trips; on a GPU,
nvImageCodec agrees with libjpeg-turbo within the documented tolerance and with libpng
exactly."""
from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

import ops
import ops.codec_cv
from ops.codec import CodecError
from tests.codec_cases import (FILES, HOSTILE, PHOTOS, cv_reference, jpeg_sampling,
                               jpeg_with_frame, pil_file, png_chunk, png_with_header)

@pytest.mark.parametrize("name", FILES)
def test_decode_matches_opencv(name):
    f = FILES[name]
    got = ops.decode([f])[0]
    assert got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] == 3
    np.testing.assert_array_equal(got, cv_reference(f))
    info = ops.probe(f)
    assert (info.height, info.width) == got.shape[:2]
    assert info.format == next(fmt for fmt in ops.FORMATS if fmt in name)


def test_decode_semantics_against_pillow():
    """What the docs promise, checked against Pillow (another decoder): alpha dropped, gray
    and palette expanded, 16-bit keeps the high byte, CMYK converted."""
    img = PHOTOS["chelsea"]
    np.testing.assert_array_equal(ops.decode([FILES["png-rgba"]])[0], img)
    np.testing.assert_array_equal(ops.decode([FILES["png-gray"]])[0], np.dstack([img[..., 0]] * 3))
    pal = np.asarray(Image.open(io.BytesIO(FILES["png-palette"])).convert("RGB"))
    np.testing.assert_array_equal(ops.decode([FILES["png-palette"]])[0], pal)
    np.testing.assert_array_equal(ops.decode([FILES["png-16bit"]])[0], img)  # (v*257+3) >> 8 == v
    cmyk = np.asarray(Image.open(io.BytesIO(FILES["jpeg-cmyk"])).convert("RGB")).astype(int)
    assert np.abs(ops.decode([FILES["jpeg-cmyk"]])[0].astype(int) - cmyk).max() <= 2


def exif_file(fmt: str, orientation: int) -> bytes:
    """A 96x160 crop of the astronaut as a JPEG (quality 95) or PNG whose EXIF says
    ``orientation``."""
    img = np.ascontiguousarray(PHOTOS["astronaut"][:96, :160])
    exif = Image.Exif()
    exif[0x0112] = orientation
    kw = {"quality": 95} if fmt == "JPEG" else {}
    return pil_file(img, fmt, exif=exif.tobytes(), **kw)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(orientation, fmt):
    f = exif_file(fmt, orientation)
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(f))).convert("RGB"))
    got = ops.decode([f])[0]
    assert got.shape == want.shape
    info = ops.probe(f)
    assert (info.orientation, info.upright) == (orientation, got.shape[:2])
    if fmt == "PNG":
        np.testing.assert_array_equal(got, want)
    else:  # Pillow and OpenCV bundle different libjpeg builds
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 2


@pytest.mark.parametrize("name", ["astronaut-jpeg-q75", "astronaut-jpeg-progressive", "png-rgb",
                                  "webp-lossy"])
def test_data_after_the_image_is_allowed(name):
    """Zero padding (several files in one request), and what phones append after the image:
    a motion photo's video (random bytes here, full of FF DA pairs, which are not scans)."""
    f = FILES[name]
    video = (np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
             + b"\xff\xda\x00\x02" * 2 * ops.codec.MAX_JPEG_SCANS)
    for tail in (bytes(1000), video):
        np.testing.assert_array_equal(ops.decode([f + tail])[0], ops.decode([f])[0])
        assert ops.probe(f + tail) == ops.probe(f)


def test_a_comment_with_markers_in_it_is_a_comment():
    f = jpeg_with_frame(16, 16, comment=b"\xff\xd9\xff\xda\xff\xd8")
    assert ops.probe(f).height == 16
    assert ops.decode([f])[0].shape == (16, 16, 3)


def test_decode_takes_arrays_and_lists_of_mixed_sizes():
    fs = [np.frombuffer(FILES[n], np.uint8) for n in ("astronaut-jpeg-q75", "coffee-jpeg-q75", "png-rgb")]
    out = ops.decode(fs)
    assert [o.shape for o in out] == [(512, 512, 3), (400, 600, 3), (300, 451, 3)]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_refused_with_a_message(case):
    f, words = HOSTILE[case]
    with pytest.raises(CodecError) as e:
        ops.decode([FILES["png-rgb"], f])
    assert words in str(e.value) and "item 1" in str(e.value), str(e.value)


@pytest.mark.parametrize("fmt, header", [
    ("png", png_with_header(100_000, 100_000)),
    ("png", png_with_header(4097, 1, idat=zlib.compress(b"\0" * (1 + 3 * 4097)))),
    ("jpeg", jpeg_with_frame(65_500, 65_500)),
    ("jpeg", jpeg_with_frame(1, 4097)),
])
def test_decompression_bombs_are_refused_from_the_header(fmt, header):
    info = ops.probe(header)
    assert info.format == fmt and max(info.width, info.height) > 4096
    with pytest.raises(CodecError, match="over the size limit of 4096x4096"):
        ops.decode([header], max_side=4096)


def test_probe_reads_sizes_and_channels():
    img = PHOTOS["coffee"]
    assert ops.probe(FILES["coffee-jpeg-q75"]) == ops.FileInfo("jpeg", 400, 600, 3, 8)
    assert ops.probe(FILES["jpeg-cmyk"]).channels == 4
    assert ops.probe(FILES["png-rgba"]) == ops.FileInfo("png", 300, 451, 4, 8)
    assert ops.probe(FILES["png-16bit"]).bits == 16
    for name in ("webp-lossy", "webp-lossless", "webp-alpha"):
        info = ops.probe(FILES[name])
        assert (info.format, info.height, info.width) == ("webp", 300, 451), name
    assert ops.probe(pil_file(img, "WEBP", quality=50)).height == 400


@pytest.mark.parametrize("fmt", ops.FORMATS)
def test_encode_round_trips(fmt):
    imgs = [PHOTOS["astronaut"], PHOTOS["coffee"]]
    out = ops.encode(imgs, fmt, 90)
    for img, f in zip(imgs, out):
        assert f.dtype == np.uint8 and f.ndim == 1 and ops.sniff(f) == fmt
        # Against OpenCV's own encoder of the BGR image: byte for byte.
        flag = {"jpeg": cv2.IMWRITE_JPEG_QUALITY, "png": cv2.IMWRITE_PNG_COMPRESSION,
                "webp": cv2.IMWRITE_WEBP_QUALITY}[fmt]
        want = cv2.imencode(ops.codec.EXTENSIONS[fmt], img[..., ::-1],
                            [flag, ops.codec_cv.PNG_LEVEL if fmt == "png" else 90])[1].ravel()
        np.testing.assert_array_equal(f, want)
        back = np.asarray(Image.open(io.BytesIO(f.tobytes())).convert("RGB"))  # Pillow reads it
        if fmt == "png":
            np.testing.assert_array_equal(back, img)
        else:
            assert np.abs(back.astype(float) - img).mean() < 3


def test_encode_masks_as_grayscale_png():
    mask = (PHOTOS["coffee"][..., 0] > 100).astype(np.uint8) * 255
    f = ops.encode([mask], "png")[0]
    pil = Image.open(io.BytesIO(f.tobytes()))
    assert pil.mode == "L"
    np.testing.assert_array_equal(np.asarray(pil), mask)
    want = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_COMPRESSION, ops.codec_cv.PNG_LEVEL,
                                       cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])[1]
    np.testing.assert_array_equal(f, want.ravel())


def test_encode_jpeg_is_420_and_masks_gray():
    """What the GPU encoder must write too (test_gpu_encode_round_trips): OpenCV's default
    JPEG sampling, 4:2:0, and a mask as one gray component."""
    mask = (PHOTOS["coffee"][..., 0] > 100).astype(np.uint8) * 255
    rgb, gray = ops.encode([PHOTOS["coffee"], mask], "jpeg", 90)
    assert jpeg_sampling(rgb.tobytes()) == [(2, 2), (1, 1), (1, 1)]
    assert jpeg_sampling(gray.tobytes()) == [(1, 1)]


def test_encode_refuses_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        ops.encode([PHOTOS["coffee"]], "gif")
    with pytest.raises(ValueError, match="quality"):
        ops.encode([PHOTOS["coffee"]], "jpeg", 0)
    with pytest.raises(ValueError, match="images\\[0\\]"):
        ops.encode([np.zeros((4, 4, 4), np.uint8)], "png")


# --- nvImageCodec on a GPU (docs/ops.md, Codecs: the tolerance) -------------------------------
JPEG_MEAN_TOLERANCE = 1.0   # mean |GPU - libjpeg-turbo| over the image
JPEG_P999_TOLERANCE = 8     # 99.9th percentile of |GPU - libjpeg-turbo|


def exif_files() -> dict[str, bytes]:
    return {f"{fmt.lower()}-exif{o}": exif_file(fmt, o) for o in range(1, 9) for fmt in ("JPEG", "PNG")}


@pytest.mark.gpu
def test_gpu_decode_agrees_with_the_cpu_in_one_batch():
    """Every file form and every EXIF orientation, mixed sizes, in ONE call: the same shape as
    the CPU path, JPEG within the tolerance (nvJPEG's IDCT and upsampling differ), everything
    else exact (PNG and WebP decode exactly; CMYK and 16-bit go through OpenCV by design)."""
    import cupy

    from ops import _nvimgcodec
    assert _nvimgcodec.unavailable() is None, "nvImageCodec is not installed on this GPU host"
    files = {**FILES, **exif_files()}
    out = ops.decode(list(files.values()), on_device=True)
    for (name, f), got in zip(files.items(), out):
        assert isinstance(got, cupy.ndarray) and got.flags.c_contiguous, name
        want = cv_reference(f)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        diff = np.abs(got.get().astype(int) - want.astype(int))
        if "jpeg" in name and "cmyk" not in name:
            assert diff.mean() <= JPEG_MEAN_TOLERANCE, (name, diff.mean())
            assert np.percentile(diff, 99.9) <= JPEG_P999_TOLERANCE, name
        else:
            assert diff.max() == 0, (name, int(diff.max()))


@pytest.mark.gpu
def test_gpu_encode_round_trips():
    import cupy
    imgs = [cupy.asarray(PHOTOS["astronaut"]), cupy.asarray(PHOTOS["coffee"])]
    for fmt in ("jpeg", "png"):
        for img, f in zip(imgs, ops.encode(imgs, fmt, 90)):
            assert ops.sniff(f) == fmt
            back = cv_reference(f.tobytes())
            if fmt == "png":
                np.testing.assert_array_equal(back, img.get())
            else:
                assert np.abs(back.astype(float) - img.get()).mean() < 3
    mask = cupy.asarray((PHOTOS["coffee"][..., 0] > 100).astype(np.uint8) * 255)
    f = ops.encode([mask], "png")[0]
    np.testing.assert_array_equal(cv2.imdecode(f, cv2.IMREAD_UNCHANGED), mask.get())
    # JPEG as cv2.imencode writes it: RGB 4:2:0, a mask one gray component (a mixed batch is
    # two nvImageCodec calls, ops._nvimgcodec.encode_calls).
    rgb, gray = ops.encode([imgs[1], mask], "jpeg", 90)
    assert jpeg_sampling(rgb.tobytes()) == [(2, 2), (1, 1), (1, 1)]
    assert jpeg_sampling(gray.tobytes()) == [(1, 1)]
    assert np.abs(cv2.imdecode(gray, cv2.IMREAD_UNCHANGED).astype(float) - mask.get()).mean() < 3


def test_png_text_and_profile_bombs_cost_nothing():
    """Metadata chunks may be compressed bombs too (512 MB of zeros in ~0.5 MB): libpng caps
    what it inflates of them, and the pixels are what the header says."""
    import resource

    z = zlib.compressobj(9)
    zeros = b"".join(z.compress(bytes(1 << 24)) for _ in range(32)) + z.flush()
    img = PHOTOS["coffee"][:8, :8]
    png = pil_file(img, "PNG")
    i = png.index(b"IDAT") - 4
    bomb = (png[:i] + png_chunk(b"zTXt", b"Comment\0\0" + zeros)
            + png_chunk(b"iCCP", b"icc\0\0" + zeros) + png[i:])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.testing.assert_array_equal(ops.decode([bomb])[0], img)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB
