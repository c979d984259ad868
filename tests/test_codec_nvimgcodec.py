"""ops._nvimgcodec's options give OpenCV's semantics (docs/ops.md, Codecs): the decoder
interpolates subsampled chroma. Checked on the options themselves (no nvImageCodec
needed), and, where nvImageCodec is installed (not in CI), on its CPU backend
(libjpeg-turbo), which runs without a GPU. On a GPU the proof is tests/test_codec.py -m gpu."""
from __future__ import annotations

import numpy as np
import pytest

from ops import _nvimgcodec
from tests.codec_cases import FILES, cv_reference


def test_the_decoder_interpolates_chroma():
    """The option is global (':' and no decoder name) so that every JPEG decoder sees it,
    the hardware one included, and it is on."""
    options = [tok.partition(":") for tok in _nvimgcodec.decoder_options().split()]
    fancy = [(module, value) for module, _, value in options
             if value.startswith("fancy_upsampling=")]
    assert fancy == [("", "fancy_upsampling=1")]


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
