"""Placement: the decision per instance, the one move per request tensor, the counters and
the require_device guard, over real arrays (the GPU half is marked gpu), and the CUDA pool
sizing. The same through the real server is in tests/integration/test_ensembles.py."""
import numpy as np
import pytest

from serving.base import OUTSIDE_TRITON
from serving.items import request_slice
from serving.server.gpu_pool import ensemble_max_batch_size, parse_frame, pool_bytes, pool_flags
from serving.models import BlurModel, TensorToMaskModel, UploadModel
from serving.placement import (Placement, PlacementCounters, PlacementError, Placer,
                               cuda_unusable_reason, decide, move)
from tests.helpers import cuda_reason
from tests.serving.triton_standins import FakeResponses, Request

GPU0 = Placement(True, 0, "a GPU instance")
CPU = Placement(False, 0, "a CPU instance")


def placer(model_cls, placement):
    return Placer(placement, PlacementCounters(model_cls.__name__, "i0"),
                  model_cls.HOST_TENSORS, model_cls.ENTRY_INPUTS)


def test_cpu_instances_work_on_the_cpu():
    p = decide("CPU", 0)
    assert not p.gpu and p.label == "cpu" and "instance kind CPU" in p.why


@pytest.mark.skipif(cuda_reason() is None, reason="this machine has a usable GPU")
def test_a_gpu_instance_without_usable_cuda_works_on_the_cpu_and_says_why():
    p = decide("GPU", 0)
    assert not p.gpu
    assert p.why.startswith("instance kind GPU, but CUDA is unusable on device 0: ")
    assert cuda_unusable_reason(0) in p.why


def test_the_decision_follows_the_cuda_check():
    assert decide("GPU", 1, unusable_reason=lambda d: None) == Placement(True, 1, "instance kind GPU, device 1")
    assert not decide("GPU", 1, unusable_reason=lambda d: f"no device {d}").gpu


def test_cpu_instance_takes_host_tensors_as_they_are_and_counts_them():
    pl = placer(TensorToMaskModel, CPU)
    prob, roi = np.zeros((2, 1, 8, 8), np.float32), np.zeros((2, 4), np.int32)
    assert pl.place_input("PROB", prob, False) is prob
    assert pl.place_input("ROI", roi, True) is roi      # guard is moot on a CPU instance
    assert pl.counters.counts == {("in", "PROB", "host", "none"): 1,
                                  ("in", "ROI", "host_declared", "none"): 1}


def test_guard_refuses_a_host_frame_on_a_gpu_instance_before_moving_it():
    pl = placer(BlurModel, GPU0)
    img = np.zeros((1, 4, 5, 3), np.uint8)
    with pytest.raises(PlacementError, match=r"input IMAGE \(1, 4, 5, 3\) arrived in host memory "
                                             r"on a GPU instance, and require_device=gpu"):
        pl.place_input("IMAGE", img, True)
    assert pl.counters.counts == {("in", "IMAGE", "host", "refused"): 1}


def test_guard_lets_declared_host_tensors_and_the_entry_through():
    pl = placer(TensorToMaskModel, GPU0)
    roi = np.array([[0, 0, 8, 8]], np.int32)
    assert pl.place_input("ROI", roi, True) is roi      # declared host: stays, not a hop
    assert pl.counters.counts == {("in", "ROI", "host_declared", "none"): 1}
    up = placer(UploadModel, GPU0)
    assert "IMAGE" in up.entry_tensors
    with pytest.raises(PlacementError, match="output UPLOADED"):
        up.place_output("UPLOADED", np.zeros((1, 2, 2, 3), np.uint8), True)   # outputs are guarded


def test_require_device_can_be_tightened_by_a_request_never_relaxed():
    loose = BlurModel.from_config({"name": "blur", "parameters": {}})
    assert loose.params["require_device"] == "none"
    assert loose.request_params({"require_device": "gpu"})["require_device"] == "gpu"
    strict = BlurModel.from_config({"name": "blur", "parameters": {"require_device": {"string_value": "gpu"}}})
    assert strict.request_params({"require_device": "none"})["require_device"] == "gpu"
    with pytest.raises(ValueError, match="require_device"):
        loose.request_params({"require_device": "tpu"})
    assert loose.placement == OUTSIDE_TRITON


def test_request_slices_are_views_where_a_slice_will_do():
    batch = np.arange(4 * 2 * 3).reshape(4, 2, 3)
    s = request_slice(batch, 1, 2)
    assert s.shape == (2, 2, 3) and np.shares_memory(s, batch) and s.flags.c_contiguous
    items = [np.zeros((2, 3)), np.ones((5, 3))]
    one = request_slice(items, 1, 1)
    assert one.shape == (1, 5, 3) and np.shares_memory(one, items[1]) and one.flags.c_contiguous
    two = request_slice([np.zeros((2, 3)), np.ones((2, 3))], 0, 2)
    np.testing.assert_array_equal(two, np.stack([np.zeros((2, 3)), np.ones((2, 3))]))


def test_pool_size_rule():
    frame = 7 * 1080 * 1920 + 22 * 256 * 256
    assert pool_bytes(8, 1080, 1920) == -(-2 * 8 * frame // (1 << 20)) * (1 << 20)
    assert pool_bytes(8) >= 2 * 8 * 7 * 4096 * 4096            # the largest frame, batch of 8
    assert pool_flags([0, 1], 5) == ["--cuda-memory-pool-byte-size=0:5",
                                     "--cuda-memory-pool-byte-size=1:5"]
    assert ensemble_max_batch_size() == 8                        # background_blur's
    assert parse_frame("1920x1080") == (1080, 1920)
    with pytest.raises(Exception, match="WIDTHxHEIGHT"):
        parse_frame("8000x10")
    with pytest.raises(ValueError):
        pool_bytes(0)


# -- on a GPU -----------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_instance_uploads_once_and_downloads_on_the_cpu():
    import cupy

    img = np.random.default_rng(0).integers(0, 256, (2, 7, 9, 3), dtype=np.uint8)
    pl = placer(BlurModel, decide("GPU", 0))
    assert pl.placement.gpu
    dev = pl.place_input("IMAGE", img, False)
    assert isinstance(dev, cupy.ndarray) and dev.device.id == 0
    np.testing.assert_array_equal(cupy.asnumpy(dev), img)
    assert pl.place_input("IMAGE", dev, True) is dev                    # already there: no move
    assert pl.counters.counts == {("in", "IMAGE", "host", "upload"): 1,
                                  ("in", "IMAGE", "device", "none"): 1}
    back, moved = move(dev, CPU)
    assert moved == "download" and isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, img)
    roi = cupy.asarray(np.array([[0, 0, 3, 3]], np.int32))
    host_roi = placer(TensorToMaskModel, GPU0).place_input("ROI", roi, True)
    assert isinstance(host_roi, np.ndarray)                      # declared host: downloaded


@pytest.mark.gpu
def test_a_tensor_on_another_gpu_is_copied_to_the_instance_device():
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    with cupy.cuda.Device(1):
        x = cupy.arange(12, dtype=cupy.uint8).reshape(1, 2, 2, 3)
    y, moved = move(x, GPU0)
    assert moved == "peer" and y.device.id == 0
    np.testing.assert_array_equal(cupy.asnumpy(y), cupy.asnumpy(x))


def test_every_models_warm_up_sample_is_a_valid_request(repository_model):
    """initialize() warms a GPU instance with sample_items(): each model's sample must pass
    its own validation and compute (here on the CPU, the same code path)."""
    from serving.paths import MODEL_REPOSITORY
    from serving.pipeline.repository import load_repository

    warmed = []
    for name in load_repository(MODEL_REPOSITORY)[0]:
        model = repository_model(name)
        if model is None:
            continue
        model.warm_up()
        warmed.append(name)
    assert {"upload", "resize", "pad", "center_crop", "image_to_tensor", "unet", "tensor_to_mask",
            "blur", "morphology", "background_blur_fused"} <= set(warmed)


@pytest.mark.parametrize("name, top", [("unet", 16), ("background_blur_fused", 8), ("blur", 1)])
def test_the_dnn_is_warmed_at_every_batch_size_of_its_model(name, top, repository_model):
    """The DNN's library prepares work per batch size (cuDNN plans, arena growth): its
    model, and a fused model holding it, warm it at every batch size, the largest first
    (the arena grows once); an operator model warms once. Counted at the onnxruntime session / compute (a spy on
    the real calls)."""
    model = repository_model(name)
    assert int(model.model_config["max_batch_size"]) >= top
    seen, compute = [], model.compute_items
    model.compute_items = lambda items, params: seen.append(len(items)) or compute(items, params)
    runs = []
    runner = getattr(model, "runner", None) or next(
        (m.runner for _, m in getattr(model, "steps", []) if hasattr(m, "runner")), None)
    if runner is not None:
        run = runner.session.run
        runner.session.run = lambda out, feed: runs.append(next(iter(feed.values())).shape[0]) or run(out, feed)
    model.warm_up()
    n = len(model.sample_items())
    if top == 1:
        assert seen == [n]
    else:
        assert seen == list(range(int(model.model_config["max_batch_size"]), 1, -1)) + [n]
        assert sorted(set(runs)) == list(range(1, int(model.model_config["max_batch_size"]) + 1))


# -- a GPU instance's execute: synchronised on every way out, the pool trimmed ------------
class StandInDevice:
    """cupy.cuda.Device where no GPU exists: a context manager with synchronize(), logging
    what happens (the CUDA calls themselves run in the gpu tests and the GPU check)."""

    def __init__(self, log, fail_sync=False):
        self.log, self.fail_sync = log, fail_sync

    def __call__(self, device_id):
        self.log.append(f"device {device_id}")
        return self

    def __enter__(self):
        self.log.append("enter")

    def __exit__(self, *exc):
        self.log.append("exit")

    def synchronize(self):
        self.log.append("synchronize")
        if self.fail_sync:
            raise RuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")


class StandInPool:
    def __init__(self, log, free_mib):
        self.log, self.free = log, free_mib << 20

    def free_bytes(self):
        return self.free

    def used_bytes(self):
        return 3 << 20

    def free_all_blocks(self):
        self.log.append("free_all_blocks")
        self.free = 0


def guarded_model(log, free_mib=0, fail_sync=False, fail_compute=False):
    """A real OpModel (upload: IMAGE -> UPLOADED) whose compute logs itself, its execute
    guarded as on GPU device 1 with stand-ins for the CUDA device and pool."""
    from serving.device import DeviceGuard

    model = UploadModel.from_config({"name": "upload", "max_batch_size": 4, "input": [
        {"name": "IMAGE", "data_type": "TYPE_UINT8", "dims": [-1, -1, 3]}]})
    compute = model.compute

    def logged(inputs, params):
        log.append("compute")
        if fail_compute:
            raise RuntimeError("a kernel failed")
        return compute(inputs, params)
    model.compute = logged
    model.placer = placer(UploadModel, OUTSIDE_TRITON)
    model.device = DeviceGuard(Placement(True, 1, "test"), 256 << 20,
                               device=StandInDevice(log, fail_sync), pool=lambda: StandInPool(log, free_mib))
    return model


@pytest.fixture
def outputs_by_name(monkeypatch):
    import serving.triton_instance as instance
    monkeypatch.setattr(instance, "to_triton", lambda pb_utils, name, value, *_: (name, tuple(value.shape)))


GOOD = np.zeros((1, 4, 5, 3), np.uint8)


@pytest.mark.parametrize("case", ["served", "compute fails", "request refused"])
def test_execute_on_a_gpu_instance_synchronises_before_it_returns_whatever_happened(case, outputs_by_name):
    """Triton reuses a request's input buffers once execute returns: the device must have
    finished every kernel by then, also when compute failed (no output went through the
    stub's synchronising DLPack hand-off) or every request was refused."""

    log = []
    model = guarded_model(log, fail_compute=case == "compute fails")
    bad = np.zeros((1, 4, 5, 4), np.uint8)  # 4 channels: refused by validate
    responses = model.serve(FakeResponses, [Request(IMAGE=bad if case == "request refused" else GOOD)])
    assert log[:2] == ["device 1", "enter"] and log[-2:] == ["synchronize", "exit"]
    assert ("compute" in log) == (case != "request refused")
    if case == "served":
        assert responses[0].error is None and responses[0].tensors == [("UPLOADED", (1, 4, 5, 3))]
    else:
        assert responses[0].error.code == ("INTERNAL" if case == "compute fails" else "INVALID_ARG")


def test_a_failed_synchronisation_fails_the_execute(outputs_by_name):
    """A sticky CUDA error found at the end: no response may carry outputs the device may
    not have finished; the error reaches Triton, which fails every request of the execute."""

    log = []
    with pytest.raises(RuntimeError, match="cudaErrorIllegalAddress"):
        guarded_model(log, fail_sync=True).serve(FakeResponses, [Request(IMAGE=GOOD)])
    assert log[-2:] == ["synchronize", "exit"]


@pytest.mark.parametrize("free_mib, trimmed", [(300, True), (256, False), (10, False)])
def test_the_pool_cache_above_device_cache_mib_is_freed_after_an_execute(free_mib, trimmed, outputs_by_name):

    log = []
    model = guarded_model(log, free_mib=free_mib)
    model.serve(FakeResponses, [Request(IMAGE=GOOD)])
    assert ("free_all_blocks" in log) == trimmed and model.device.trims == int(trimmed)
    if trimmed:
        assert log.index("synchronize") < log.index("free_all_blocks") < log.index("exit")


def test_a_cpu_instance_execute_touches_no_cuda(outputs_by_name):
    from serving.device import DeviceGuard

    log = []
    model = guarded_model(log)
    model.device = DeviceGuard(CPU, 0, device=StandInDevice(log), pool=lambda: StandInPool(log, 999))
    assert model.serve(FakeResponses, [Request(IMAGE=GOOD)])[0].error is None
    assert log == ["compute"]


class StandInFamily:
    """pb_utils.MetricFamily as far as gauges go: Metric(labels) with set(value)."""

    def __init__(self):
        self.values = {}

    def Metric(self, labels):
        family = self

        class Gauge:
            def set(self, value):
                family.values[tuple(sorted(labels.items()))] = value
        return Gauge()


def test_the_pool_gauges_go_out_on_the_counters_timer_and_read_back():
    """A GPU instance's pool (used, cached) is set on its gauges whenever the placement
    counters export (here: at close), and read_pool_bytes reads the metrics page's lines."""
    from serving.device import DeviceGuard, PoolGauges, read_pool_bytes

    log, family = [], StandInFamily()
    guard = DeviceGuard(Placement(True, 2, "test"), 0, device=StandInDevice(log),
                        pool=lambda: StandInPool(log, 40))
    counters = PlacementCounters("blur", "blur_0_2")
    counters.extra_exports.append(PoolGauges(guard, family, "blur", "blur_0_2").flush)
    counters.close()
    assert log == ["device 2", "enter", "exit"]  # read on the instance's device
    labels = lambda state: (("instance", "blur_0_2"), ("model", "blur"), ("state", state))  # noqa: E731
    assert family.values == {labels("used"): float(3 << 20), labels("cached"): float(40 << 20)}
    page = "".join(f'tvo_device_pool_bytes{{model="blur",instance="blur_0_2",state="{s}"}} {v:.0f}\n'
                   for (_, _, (_, s)), v in family.values.items())
    assert read_pool_bytes("# HELP x\n" + page) == {"blur_0_2": {"used": 3 << 20, "cached": 40 << 20}}
    cpu = DeviceGuard(CPU, 0, device=StandInDevice(log), pool=lambda: StandInPool(log, 40))
    assert cpu.pool_bytes() == {}
