"""The segmentation DNN: conversion against the original TFLite graph, real segmentation
of a real photo, the runner and the build step."""
import logging
import re
import subprocess
import sys

import numpy as np
import pytest
from skimage import data

import segmentation.runner as runner_module
from segmentation.build import ROOT, build, expected_onnx_sha256, fetch_tflite, sha256
from segmentation.overlay import person_probability, stretch_to
from segmentation.cuda_provider import CUDA_EP, cuda_provider_options
from segmentation.output_shape import OutputShapeError, output_shape_rule
from segmentation.runner import CudaProviderError, ModelFileError, SegmentationRunner
from segmentation.tflite_to_onnx import same_pads
from tests.helpers import cuda_reason

# onnxruntime's CUDA provider cannot run here (checked for real, no mocks: this machine
# has onnxruntime-gpu but neither a GPU nor its CUDA 13 libraries).
no_gpu_here = pytest.mark.skipif(cuda_reason() is None, reason="a CUDA device is usable here")


@pytest.fixture
def fresh_process_state(monkeypatch):
    """device="auto" warns once per process and remembers a provider library that failed
    to load: start this test as if it were the process's first runner."""
    monkeypatch.setattr(runner_module, "_fallback_warned", False)
    monkeypatch.setattr(runner_module, "_cuda_library_failure", None)


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


@pytest.mark.parametrize("device", ["auto", "cuda", "cpu"])
def test_missing_model_names_the_build_command(tmp_path, device):
    """A broken file is a ModelFileError whatever the device (not taken for a CUDA failure)."""
    with pytest.raises(ModelFileError, match="python -m segmentation.build"):
        SegmentationRunner(tmp_path / "nope.onnx", device=device)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="make model"):
        SegmentationRunner(bad, device=device)


def test_bad_input_rejected(runner):
    with pytest.raises(ValueError, match="x: expected"):
        runner.run(np.zeros((3, 256, 256), np.float32))


def providers_own_reason(ort_log: str) -> str | None:
    """The loader error onnxruntime itself logs when its CUDA provider library fails to load."""
    m = re.search(r"Failed to load library \S+ with error: ([^\n\x1b]+)", ort_log)
    return m.group(1).strip() if m else None


@no_gpu_here
def test_device_cuda_fails_at_load_with_the_providers_reason(model_path, capfd):
    with pytest.raises(CudaProviderError) as err:
        SegmentationRunner(model_path, device="cuda")
    msg = str(err.value)
    assert "device='cuda' (device_id=0)" in msg and "CUDAExecutionProvider is not active" in msg
    own = providers_own_reason(capfd.readouterr().err)
    if own is not None:   # here: "libcublasLt.so.13: cannot open shared object file: ..."
        assert own in msg and "libonnxruntime_providers_cuda.so" in msg
    else:                 # the library loaded; the provider itself raised (no driver or GPU)
        assert "creating the session with it failed" in msg


@no_gpu_here
def test_device_auto_falls_back_to_the_cpu_and_warns_once(model_path, runner, caplog, capfd,
                                                          fresh_process_state):
    caplog.set_level(logging.WARNING, logger="segmentation.runner")
    first = SegmentationRunner(model_path, device="auto")
    second = SegmentationRunner(model_path, device="auto", device_id=1)
    warned = [r.getMessage() for r in caplog.records if r.name == "segmentation.runner"]
    assert len(warned) == 1, warned
    assert "device='auto' runs on the CPU" in warned[0] and first.fallback_reason in warned[0]
    own = providers_own_reason(capfd.readouterr().err)
    if own is not None:
        assert own in first.fallback_reason
    for r in (first, second):
        assert not r.on_gpu and r.providers == ["CPUExecutionProvider"] and r.fallback_reason
    # and it still segments: the CPU reference's numbers, the astronaut's mask
    img = photo("astronaut")
    x = model_input(img).transpose(0, 3, 1, 2).copy()
    np.testing.assert_array_equal(first.run(x), runner.run(x))
    mask = person_probability(second, img) >= 0.5
    assert 0.45 <= mask.mean() <= 0.65 and mask[90:170, 200:260].mean() >= 0.99


@no_gpu_here
def test_device_auto_matches_tflite(model_path, litert):
    x = model_input(photo("astronaut"))
    ours = SegmentationRunner(model_path, device="auto").run(
        np.ascontiguousarray(x.transpose(0, 3, 1, 2)))[:, 0]
    assert np.abs(ours - litert(x)[..., 0]).max() <= 1e-4


@no_gpu_here
def test_device_auto_warns_once_per_real_process(model_path):
    """What a Triton log shows: no logging set up, two runners, one warning on stderr, and
    onnxruntime's own complaint once (the failed provider library is not tried again)."""
    code = ("import sys; from segmentation.runner import SegmentationRunner as R; "
            "rs = [R(sys.argv[1]), R(sys.argv[1], device_id='0')]; "
            "assert not any(r.on_gpu for r in rs); print('ok')")
    done = subprocess.run([sys.executable, "-c", code, str(model_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert done.stderr.count("device='auto' runs on the CPU") == 1, done.stderr
    assert done.stderr.count("Failed to create CUDAExecutionProvider") <= 1, done.stderr


def test_device_cpu_tries_nothing_else(model_path, caplog, capfd, fresh_process_state):
    r = SegmentationRunner(model_path, device="cpu", device_id="0")
    assert r.providers == ["CPUExecutionProvider"] and r.fallback_reason is None
    assert r.device_id == 0
    assert not caplog.records and "CUDAExecutionProvider" not in capfd.readouterr().err


# ids: a parameter id "gpu" would be taken for the gpu marker by conftest.py and skipped
@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:0", "", None],
                         ids=["word-gpu", "upper-CUDA", "cuda:0", "empty", "None"])
def test_invalid_device_rejected(model_path, device):
    with pytest.raises(ValueError, match="device: expected one of auto, cuda, cpu"):
        SegmentationRunner(model_path, device=device)


@pytest.mark.parametrize("device_id", [-1, "x", "-1", 1.5, True, None])
def test_invalid_device_id_rejected(model_path, device_id):
    with pytest.raises(ValueError, match="device_id: expected a CUDA device number"):
        SegmentationRunner(model_path, device="cpu", device_id=device_id)


@pytest.mark.gpu
@pytest.mark.ort_cuda
def test_device_cuda_runs_on_the_gpu_it_is_given(runner, model_path):
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
    x = model_input(photo("astronaut")).transpose(0, 3, 1, 2).copy()
    for dev in range(min(n, 2)):
        gpu = SegmentationRunner(model_path, device="cuda", device_id=dev)
        assert gpu.on_gpu and gpu.providers[0] == "CUDAExecutionProvider"
        assert gpu.session.get_provider_options()["CUDAExecutionProvider"]["device_id"] == str(dev)
        np.testing.assert_allclose(gpu.run(x), runner.run(x), atol=2e-4)
        with cupy.cuda.Device(0):
            x0 = cupy.asarray(x)           # made on device 0, bound on device `dev`
        y = gpu.run(x0)
        assert isinstance(y, cupy.ndarray) and y.device.id == dev
        assert cupy.cuda.Device().id == 0  # the caller's current device is left alone
        np.testing.assert_allclose(cupy.asnumpy(y), runner.run(x), atol=2e-4)
    with pytest.raises(CudaProviderError, match=f"device_id={n}"):
        SegmentationRunner(model_path, device="cuda", device_id=n)


@pytest.mark.gpu
def test_cupy_input_stays_on_device(runner, model_path):
    import cupy
    gpu = SegmentationRunner(model_path, device="auto")
    x = model_input(photo("astronaut")).transpose(0, 3, 1, 2).copy()
    y = gpu.run(cupy.asarray(np.concatenate([x, x])))
    assert isinstance(y, cupy.ndarray) and y.shape == (2, 1, 256, 256)
    np.testing.assert_allclose(cupy.asnumpy(y), runner.run(np.concatenate([x, x])), atol=2e-4)


# -- what the CUDA provider is asked for (readable without a GPU) ---------------------------
def test_cuda_provider_options_turn_tf32_off_and_fix_the_conv_algorithm():
    """onnxruntime's CUDA provider defaults to TF32 (about 1e-3 from the CPU provider on
    Ampere and later) and an EXHAUSTIVE cuDNN search per input shape (an algorithm per batch
    size); the runner asks for neither."""
    opts = cuda_provider_options(3)
    assert opts == {"device_id": "3", "use_tf32": "0", "cudnn_conv_algo_search": "DEFAULT",
                    "arena_extend_strategy": "kSameAsRequested"}
    assert all(isinstance(v, str) for v in opts.values())  # onnxruntime takes strings


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_the_session_is_asked_for_those_options(model_path, device, fresh_process_state):
    """What the runner passes to onnxruntime: CUDA with those options, then the CPU."""
    if cuda_reason() is not None and device == "cuda":
        pytest.skip("device='cuda' fails to load without a GPU (its own test)")
    r = SegmentationRunner(model_path, device=device, device_id=0)
    assert r.requested_providers == [(CUDA_EP, cuda_provider_options(0)), "CPUExecutionProvider"]
    assert SegmentationRunner(model_path, device="cpu").requested_providers == ["CPUExecutionProvider"]


@pytest.mark.gpu
@pytest.mark.ort_cuda
def test_the_cuda_session_runs_with_those_options_and_a_frame_ignores_its_batch(runner, model_path):
    """On a GPU: onnxruntime reports the options it was given, and a frame's output is the
    same alone and inside batches of every size up to the unet's max_batch_size (16)."""
    gpu = SegmentationRunner(model_path, device="cuda")
    got = gpu.session.get_provider_options()[CUDA_EP]
    for k, v in cuda_provider_options(0).items():
        assert got[k] == v, (k, got[k])
    imgs = [photo(n) for n in ("astronaut", "camera", "coffee", "chelsea")]
    x = np.concatenate([model_input(im).transpose(0, 3, 1, 2) for im in imgs] * 4)
    alone = gpu.run(x[:1])
    np.testing.assert_allclose(alone, runner.run(x[:1]), atol=2e-4)
    for n in range(2, 17):
        np.testing.assert_array_equal(gpu.run(x[:n])[:1], alone, err_msg=f"batch of {n}")


# -- IO binding: sizing the output before the run -----------------------------------------
def _dynamic_model(path, out_dims, in_dims=("N", 3, "H", "W")):
    """A one-node ONNX model made here: y = the channel mean of x, (N, 1, H, W), with the
    input and output dims declared as given (names for symbolic dims)."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=1)
    graph = helper.make_graph(
        [node], "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_dims))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_io_binding_sizes_symbolic_output_dims_from_the_input_dims_of_the_same_name(tmp_path):
    """A model with symbolic N, H and W through the IO-binding path (host buffers, which a
    CPU session binds the same way as device ones): the output is sized from the input's
    dims by name, and equals an ordinary run. The old rule (every symbolic dim = the batch
    size) would bind (2, 1, 2, 2) here, which onnxruntime refuses."""
    r = SegmentationRunner(_dynamic_model(tmp_path / "dyn.onnx", ("N", 1, "H", "W")), device="cpu")
    x = np.random.default_rng(0).random((2, 3, 5, 7), dtype=np.float32)
    assert r.output_shape(x.shape) == (2, 1, 5, 7)
    y = np.full(r.output_shape(x.shape), np.nan, np.float32)
    r.run_bound(x, y)
    np.testing.assert_allclose(y, x.mean(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(y, r.run(x))


def test_an_output_dim_no_input_dim_names_is_a_clear_error(tmp_path):
    """A CPU session runs such a model (onnxruntime allocates the output); the bound path
    says why it cannot, naming the dim, and what to change in the model."""
    r = SegmentationRunner(_dynamic_model(tmp_path / "odd.onnx", ("N", 1, "Hout", "W")), device="cpu")
    x = np.ones((1, 3, 4, 6), np.float32)
    assert r.run(x).shape == (1, 1, 4, 6)
    with pytest.raises(OutputShapeError, match="dim 2 is symbolic 'Hout'") as e:
        r.output_shape(x.shape)
    assert "the names of the input's dims" in str(e.value)


def test_output_shape_rule():
    assert output_shape_rule(["N", 3, 256, 256], ["N", 1, 256, 256]) == [
        ("input", 0), ("fixed", 1), ("fixed", 256), ("fixed", 256)]
    assert output_shape_rule(["b", 3, "h", "w"], ["b", "w", "h"]) == [
        ("input", 0), ("input", 3), ("input", 2)]
    with pytest.raises(OutputShapeError, match="dim 0 is symbolic 'batch'"):
        output_shape_rule(["N", 3, 8, 8], ["batch", 1, 8, 8])
    with pytest.raises(OutputShapeError, match="dim 2 is unknown"):
        output_shape_rule(["N", 3, 8, 8], ["N", 1, None, 8])
