"""The segmentation DNN: conversion against the original TFLite graph, real segmentation
of a real photo, the runner and the build step."""
import numpy as np
import pytest
from skimage import data

from segmentation.build import build, expected_onnx_sha256, fetch_tflite, sha256
from segmentation.overlay import person_probability, stretch_to
from segmentation.runner import ModelFileError, ModelSpec, SegmentationRunner
from segmentation.tflite_to_onnx import same_pads


@pytest.fixture(scope="session")
def model_path():
    return build()


@pytest.fixture(scope="session")
def runner(model_path):
    return SegmentationRunner(model_path)


@pytest.fixture(scope="session")
def litert():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        pytest.skip(f"the TFLite interpreter ai-edge-litert cannot be imported here: {e}")
    interp = Interpreter(model_path=str(fetch_tflite()))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()

    def run(x_nhwc):
        interp.set_tensor(inp["index"], x_nhwc)
        interp.invoke()
        return interp.get_tensor(out["index"]).copy()
    return run


def photo(name):
    img = getattr(data, name)()
    return np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]


def model_input(img):
    """RGB scaled to [0, 1], stretched to 256x256, NHWC."""
    return (stretch_to(img, 256, 256).astype(np.float32) / 255)[None]


def test_build_is_reproducible(model_path):
    assert sha256(model_path) == expected_onnx_sha256()
    assert build() == model_path  # idempotent: nothing rebuilt


def test_same_padding_puts_the_extra_pixel_at_the_end():
    assert same_pads(256, 3, 2) == (0, 1)
    assert same_pads(64, 5, 1) == (2, 2)
    assert same_pads(5, 1, 1) == (0, 0)


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_onnx_matches_tflite_on_the_pipeline_photos(runner, litert, name):
    x = model_input(photo(name))
    ref = litert(x)[..., 0]
    ours = runner.run(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))[:, 0]
    assert np.abs(ours - ref).max() <= 1e-4


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "immunohistochemistry",
                                  "hubble_deep_field", "retina"])
def test_onnx_matches_tflite_within_float_noise(runner, litert, name):
    """On other photos the difference reaches 2e-4 on a few pixels of mid probability:
    fp32 noise, as large as TFLite's own response to a 1e-6 change of its input."""
    x = model_input(photo(name))
    ref = litert(x)[..., 0]
    ours = runner.run(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))[:, 0]
    diff = np.abs(ours - ref)
    assert diff.max() <= 4e-4
    assert np.quantile(diff, 0.999) <= 1e-4
    flipped = (ours >= 0.5) != (ref >= 0.5)
    assert np.all(np.abs(ref[flipped] - 0.5) <= 4e-4), "only pixels at 0.5 may flip"
    nudged = litert(x + np.float32(1e-6))[..., 0]
    assert diff.max() <= 4 * max(np.abs(nudged - ref).max(), 5e-5)


def test_rgb_in_unit_range_is_what_the_model_expects(runner):
    """RGB in [0, 1] segments the astronaut; BGR or [0, 255] input does markedly worse."""
    img = photo("astronaut")
    x = model_input(img).transpose(0, 3, 1, 2).copy()
    good = runner.run(x)[0, 0] >= 0.5
    bgr = runner.run(x[:, ::-1].copy())[0, 0] >= 0.5
    raw = runner.run(x * 255)[0, 0] >= 0.5
    iou = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert iou(good, bgr) < 0.95 and iou(good, raw) < 0.8


def test_segments_the_astronaut(runner):
    img = photo("astronaut")
    mask = person_probability(runner, img) >= 0.5
    assert 0.45 <= mask.mean() <= 0.65
    assert mask[90:170, 200:260].mean() >= 0.99          # the face
    assert mask[0:150, 0:50].mean() <= 0.05               # the flag
    assert mask[0:200, 390:460].mean() <= 0.05            # the shuttle model


def test_batch_equals_single_runs(runner):
    rng = np.random.default_rng()
    imgs = [photo(n) for n in ("astronaut", "camera", "coffee", "chelsea")]
    x = np.concatenate([model_input(im).transpose(0, 3, 1, 2) for im in imgs] * 2)
    x[4:] += rng.uniform(0, 0.01, x[4:].shape).astype(np.float32)
    batched = runner.run(x)
    assert batched.shape == (8, 1, 256, 256)
    singles = np.concatenate([runner.run(x[i:i + 1]) for i in range(8)])
    np.testing.assert_allclose(batched, singles, atol=1e-6)


def test_cpu_provider_here(runner):
    assert runner.providers[-1] == "CPUExecutionProvider"


def test_missing_model_names_the_build_command(tmp_path):
    with pytest.raises(ModelFileError, match="python -m segmentation.build"):
        SegmentationRunner(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="make model"):
        SegmentationRunner(bad)


def test_bad_input_rejected(runner):
    with pytest.raises(ValueError, match="x: expected"):
        runner.run(np.zeros((3, 256, 256), np.float32))


def test_model_spec_from_parameters():
    spec = ModelSpec.from_parameters({"scale": "1/255", "mean": "0.485 0.456 0.406",
                                      "std": "0.229,0.224,0.225", "channel_order": "BGR",
                                      "input_height": "144"})
    assert spec.input_height == 144 and spec.channel_order == "BGR"
    assert spec.mean == (0.485, 0.456, 0.406) and spec.std == (0.229, 0.224, 0.225)
    with pytest.raises(ValueError, match="channel_order"):
        ModelSpec.from_parameters({"channel_order": "rgb"})


@pytest.mark.gpu
def test_cupy_input_stays_on_device(runner, model_path):
    import cupy
    gpu = SegmentationRunner(model_path, device="auto")
    x = model_input(photo("astronaut")).transpose(0, 3, 1, 2).copy()
    y = gpu.run(cupy.asarray(np.concatenate([x, x])))
    assert isinstance(y, cupy.ndarray) and y.shape == (2, 1, 256, 256)
    np.testing.assert_allclose(cupy.asnumpy(y), runner.run(np.concatenate([x, x])), atol=2e-4)
