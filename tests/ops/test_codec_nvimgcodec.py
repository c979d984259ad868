"""ops._nvimgcodec's options give OpenCV's semantics (docs/ops.md, Codecs): the decoder
interpolates subsampled chroma, JPEG is written 4:2:0 (masks gray). Checked on the options
themselves (no nvImageCodec needed), and, where nvImageCodec is installed (not in CI), on
its CPU backends (libjpeg-turbo, OpenCV), which run without a GPU. On a GPU the proof is
tests/ops/test_codec.py -m gpu."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from ops import _nvimgcodec
from ops.codec_cv import PNG_LEVEL
from tests.codec_cases import FILES, PHOTOS, cv_reference, jpeg_sampling


def test_the_decoder_interpolates_chroma():
    """The option is global (':' and no decoder name) so that every JPEG decoder sees it,
    the hardware one included, and it is on."""
    options = [tok.partition(":") for tok in _nvimgcodec.decoder_options().split()]
    fancy = [(module, value) for module, _, value in options
             if value.startswith("fancy_upsampling=")]
    assert fancy == [("", "fancy_upsampling=1")]


def test_jpeg_is_written_420_and_masks_gray():
    kw = _nvimgcodec.encode_params_kwargs
    assert kw("jpeg", 90, 3) == {"quality_type": "QUALITY", "quality_value": 90.0,
                                 "chroma_subsampling": "CSS_420"}
    assert kw("jpeg", 75, 1) == {"quality_type": "QUALITY", "quality_value": 75.0,
                                 "chroma_subsampling": "CSS_GRAY"}
    for channels in (1, 3):  # unchanged: PNG lossless at our zlib level, WebP by quality
        assert kw("png", 90, channels) == {"quality_type": "LOSSLESS",
                                           "quality_value": float(PNG_LEVEL)}
        assert kw("webp", 80, channels) == {"quality_type": "QUALITY", "quality_value": 80.0}


def test_a_jpeg_batch_of_images_and_masks_is_two_calls():
    """An EncodeParams' chroma subsampling is the same for every image of its call."""
    calls = _nvimgcodec.encode_calls("jpeg", 90, [3, 1, 3, 1])
    assert [(kw["chroma_subsampling"], ks) for kw, ks in calls] == [("CSS_420", [0, 2]),
                                                                      ("CSS_GRAY", [1, 3])]
    assert [ks for _, ks in _nvimgcodec.encode_calls("png", 90, [3, 1, 3])] == [[0, 1, 2]]


# --- nvImageCodec itself, on its CPU backends (skipped where it is not installed) ----------
@pytest.fixture(scope="module")
def nv():
    try:
        from nvidia import nvimgcodec
    except Exception as e:  # noqa: BLE001 - not installed (CI), or its libraries are missing
        pytest.skip(f"nvImageCodec is not importable ({type(e).__name__}: {e})")
    return nvimgcodec


def cpu_coder(nv, kind: str, **kw):
    """Our decoder or encoder (ops._nvimgcodec.make_coder) on the CPU backends; with ``kw``
    a plain Decoder with those options instead (a control)."""
    make, device = _nvimgcodec.make_coder, _nvimgcodec.CPU_ONLY_DEVICE
    try:
        if kw:
            return nv.Decoder(device_id=device, backends=[nv.Backend(nv.BackendKind.CPU_ONLY)],
                              **kw)
        return make(kind, device, ["CPU_ONLY"])
    except RuntimeError as e:  # a build or platform without the CPU extensions
        pytest.skip(f"nvImageCodec's CPU backend is unavailable ({type(e).__name__}: {e})")


def test_encode_params_read_back(nv):
    p = _nvimgcodec.encode_params(_nvimgcodec.encode_params_kwargs("jpeg", 90, 3))
    assert (p.chroma_subsampling, p.quality_type, p.quality_value) == (
        nv.ChromaSubsampling.CSS_420, nv.QualityType.QUALITY, 90.0)
    p = _nvimgcodec.encode_params(_nvimgcodec.encode_params_kwargs("jpeg", 90, 1))
    assert p.chroma_subsampling == nv.ChromaSubsampling.CSS_GRAY
    p = _nvimgcodec.encode_params(_nvimgcodec.encode_params_kwargs("png", 90, 3))
    assert (p.quality_type, p.quality_value) == (nv.QualityType.LOSSLESS, float(PNG_LEVEL))


JPEGS = [name for name in FILES if "jpeg" in name and "cmyk" not in name]  # CMYK: OpenCV's


def max_diffs(images, names) -> dict[str, int]:
    out = {}
    for name, img in zip(names, images):
        assert img is not None, name
        got = np.asarray(img.cpu() if hasattr(img, "cpu") else img)
        assert got.shape == cv_reference(FILES[name]).shape, name
        out[name] = int(np.abs(got.astype(int) - cv_reference(FILES[name]).astype(int)).max())
    return out


def test_cpu_backend_decodes_like_opencv(nv):
    """Our decoder set-up on nvImageCodec's libjpeg-turbo: within 2 of OpenCV's
    libjpeg-turbo (another build) on every JPEG form; the same decoder with
    fancy_upsampling=0 (nvImageCodec 0.8's default) is tens of levels off on 4:2:0 photos,
    so this test sees the option."""
    streams = [nv.CodeStream(FILES[name]) for name in JPEGS]
    ours = max_diffs(cpu_coder(nv, "decoder").decode(streams, params=_nvimgcodec.decode_params()),
                     JPEGS)
    assert max(ours.values()) <= 2, ours
    nearest = max_diffs(cpu_coder(nv, "decoder", options=":fancy_upsampling=0").decode(
        streams, params=_nvimgcodec.decode_params()), JPEGS)
    assert nearest["astronaut-jpeg-q75"] > 10 and nearest["astronaut-jpeg-444"] <= 2, nearest


def test_cpu_backend_encodes_420_and_gray_masks(nv):
    """Our encode set-up on nvImageCodec's OpenCV extension: RGB written 4:2:0 (Y sampled
    2x2, Cb and Cr 1x1, as cv2.imencode writes), masks as one gray component; the control,
    CSS_444, reads back 1x1, so this test sees the parameter."""
    img = PHOTOS["coffee"]
    mask = (img[..., 0] > 100).astype(np.uint8) * 255
    enc = cpu_coder(nv, "encoder")

    def encode(im, channels, **override):
        kwargs = {**_nvimgcodec.encode_params_kwargs("jpeg", 90, channels), **override}
        f = enc.encode([im], "jpeg", params=_nvimgcodec.encode_params(kwargs))[0]
        assert f is not None
        return bytes(f)

    want = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    f = encode(img, 3)
    assert jpeg_sampling(f) == jpeg_sampling(want) == [(2, 2), (1, 1), (1, 1)]
    assert np.abs(cv_reference(f).astype(float) - img).mean() < 3
    f = encode(mask[..., None], 1)
    assert jpeg_sampling(f) == [(1, 1)]
    assert np.abs(cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_UNCHANGED).astype(float)
                  - mask).mean() < 3
    assert jpeg_sampling(encode(img, 3, chroma_subsampling="CSS_444")) == [(1, 1)] * 3
