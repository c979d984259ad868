"""The real server on a GPU (part of the GPU check, docs/gpu.md; skipped without a GPU).

The ensembles and the fused model must return, byte for byte, what the CPU path returns
(``tests.reference.background_blur`` with NumPy ops and onnxruntime on the CPU, in this
process), over HTTP and gRPC, for the astronaut and for mixed sizes (1080p, odd sizes, one
pixel), one at a time and concurrently (ragged batches). The placement counters must show
the frame crossing PCIe once, at the entry, and nothing else moving except at the DNN
boundary when onnxruntime runs on the CPU; the per-step table goes to hops.md. Also
measured: ensemble overhead per step (concurrency 1) and GPU memory over a few hundred
requests (gpu_server.json).

Results go to $TVO_GPU_CHECK_OUT when set (bench/gpu_check.py sets it), else to a temp dir.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.gpu_check import GOAL_MEMORY_GROWTH_MIB
from bench.procmem import gpu_memory
from clients.perf.stats import per_request_table
from serving.base import COMMON_PARAMETERS
from serving.registry import base_model
from tests.helpers import blur_steps, counter_delta, infer, placement_counters, pool_gauges, url

pytestmark = [pytest.mark.gpu, pytest.mark.server]

BLUR_STEPS = blur_steps()
# Each step by its model (the steps run under their served names, BLUR_STEPS).
STEP = {base_model(s): s for s in BLUR_STEPS}
# What each step receives and returns; ROI and SRC_SIZE are declared host tensors.
STEP_TENSORS = {STEP[m]: tensors for m, tensors in {
    "upload": (("IMAGE",), ("UPLOADED",)),
    "resize": (("IMAGE",), ("RESIZED", "SRC_SIZE")),
    "pad": (("IMAGE",), ("PADDED", "ROI")),
    "image_to_tensor": (("IMAGE",), ("TENSOR",)),
    "unet": (("INPUT",), ("OUTPUT",)),
    "tensor_to_mask": (("PROB", "ROI", "SRC_SIZE"), ("MASK",)),
    "refine_mask": (("IMAGE", "MASK"), ("ALPHA",)),
    "blur": (("IMAGE", "MASK"), ("BLURRED",)),
}.items()}
HOST_DECLARED = {"ROI", "SRC_SIZE"}
# Mixed sizes: 1080p, odd sizes either side of it, small, one row, one pixel.
SIZES = [(1080, 1920), (1079, 1921), (720, 1280), (333, 517), (97, 640), (1, 7), (1, 1)]
MEMORY_REQUESTS = 300
# Every model's default device_cache_mib (serving.base.COMMON_PARAMETERS), in bytes.
DEVICE_CACHE_BYTES = int(COMMON_PARAMETERS["device_cache_mib"].default) << 20
MEMORY_SIZES = [(1080, 1920), (2160, 3840), (720, 1280), (1079, 1921), (333, 517), (1, 1)]


# -- fixtures and helpers ------------------------------------------------------------
@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    d = os.environ.get("TVO_GPU_CHECK_OUT")
    path = Path(d) if d else tmp_path_factory.mktemp("gpu-check")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def report(out):
    """A dict saved to gpu_server.json after every test that adds to it."""
    data: dict[str, Any] = {}
    data["_path"] = str(out / "gpu_server.json")
    yield data


def save(report: dict[str, Any]) -> None:
    Path(report["_path"]).write_text(json.dumps({k: v for k, v in report.items() if k != "_path"},
                                                indent=1, default=str))


@pytest.fixture(scope="module")
def gpu_server(out):
    from segmentation.build import build
    from serving.server.install import install
    from serving.server import EmbeddedServer

    build()
    install()
    with EmbeddedServer(log_path=out / "triton_gpu_server.log", startup_timeout=120) as s:
        yield s


@pytest.fixture(scope="module")
def cpu_runner():
    from segmentation.build import DEFAULT_OUT
    from segmentation.runner import SegmentationRunner
    return SegmentationRunner(DEFAULT_OUT, device="cpu")


_REFS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def cpu_path(img: np.ndarray, runner: Any) -> tuple[np.ndarray, np.ndarray]:
    """(BLURRED, MASK) of the CPU path (NumPy ops, onnxruntime CPU), cached per image."""
    from tests import reference
    key = (img.shape, img.tobytes()[:4096], int(img.sum()))
    if key not in _REFS:
        _REFS[key] = reference.background_blur(img, runner)
    return _REFS[key]


def astronaut() -> np.ndarray:
    from skimage import data
    return np.ascontiguousarray(data.astronaut())


def frame(h: int, w: int, index: int = 0) -> np.ndarray:
    from clients.perf.inputs import photo_at
    return np.ascontiguousarray(photo_at((h, w), index))




def assert_same(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    """Byte for byte, with a message that says how far off a mismatch is."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, \
        f"{what}: {ours.shape} {ours.dtype} != CPU path {ref.shape} {ref.dtype}"
    if not np.array_equal(ours, ref):
        d = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        raise AssertionError(f"{what}: differs from the CPU path in {int((d > 0).sum())} of "
                             f"{d.size} values ({(d > 0).mean():.4%}), max |diff| {d.max():g}, "
                             f"first at {np.argwhere(d > 0)[:3].tolist()}")


def blur_and_check(server: Any, protocol: str, model: str, img: np.ndarray, runner: Any,
                   what: str) -> None:
    out = infer(url(server, protocol), protocol, model, {"IMAGE": img[None]})
    ref_blurred, ref_mask = cpu_path(img, runner)
    assert_same(out["MASK"][0], ref_mask, f"{what} MASK")
    assert_same(out["BLURRED"][0], ref_blurred, f"{what} BLURRED")


def placement_lines(server: Any) -> dict[str, str]:
    """model -> 'gpu:0 (why)' / 'cpu (why)', from the instances' lines in the server log."""
    text = server.log_path.read_text(errors="replace")
    out: dict[str, str] = {}
    models = sorted(set(BLUR_STEPS) | {"background_blur_fused", "baseline_cpu_pipeline"},
                    key=len, reverse=True)
    for inst, label, why in re.findall(r"^(\S+): placement (\S+) \((.*)\)\s*$", text, re.M):
        model = next((m for m in models if inst == m or inst.startswith(m + "_")), inst)
        out.setdefault(model, f"{label} ({why})")
    return out


def dnn_on_gpu(server: Any) -> bool:
    """The unet instance's placement line says gpu (its reason text may mention "GPU" either
    way: "... the GPU build is the onnxruntime-gpu package")."""
    return placement_lines(server).get("unet", "").startswith("gpu")


# -- equality with the CPU path ------------------------------------------------------
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_astronaut_equals_cpu_path(gpu_server, cpu_runner, protocol):
    blur_and_check(gpu_server, protocol, "background_blur", astronaut(), cpu_runner,
                   f"astronaut over {protocol}")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_mixed_sizes_equal_cpu_path(gpu_server, cpu_runner, protocol):
    for i, (h, w) in enumerate(SIZES):
        blur_and_check(gpu_server, protocol, "background_blur", frame(h, w, i), cpu_runner,
                       f"{h}x{w} over {protocol}")


def test_concurrent_mixed_sizes_equal_cpu_path(gpu_server, cpu_runner):
    """Requests of different sizes at once: the steps get ragged batches (variable-shape
    launches) and must still return exactly the CPU path."""
    imgs = [frame(h, w, i) for i, (h, w) in enumerate(SIZES)] * 3
    refs = [cpu_path(im, cpu_runner) for im in imgs]
    with cf.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda im: infer(gpu_server.grpc_url, "grpc", "background_blur",
                                              {"IMAGE": im[None]}), imgs))
    for im, o, (rb, rm) in zip(imgs, outs, refs):
        assert_same(o["MASK"][0], rm, f"concurrent {im.shape[:2]} MASK")
        assert_same(o["BLURRED"][0], rb, f"concurrent {im.shape[:2]} BLURRED")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_fused_equals_cpu_path(gpu_server, cpu_runner, protocol):
    blur_and_check(gpu_server, protocol, "background_blur_fused", astronaut(), cpu_runner,
                   f"fused astronaut over {protocol}")
    for i, (h, w) in enumerate(SIZES):
        blur_and_check(gpu_server, protocol, "background_blur_fused", frame(h, w, i), cpu_runner,
                       f"fused {h}x{w} over {protocol}")


@pytest.mark.parametrize("model", ["background_blur_encoded", "background_blur_encoded_fused"])
def test_encoded_equals_cpu_path(gpu_server, cpu_runner, model):
    """Files in, files out on the GPU (decode with nvImageCodec straight to the device):
    PNG in and PNG out equal the CPU path exactly (PNG decodes exactly everywhere); JPEG in
    comes back as a JPEG of the same size (nvJPEG's IDCT differs from libjpeg-turbo's)."""
    import ops
    for i, (h, w) in enumerate([(1080, 1920), (333, 517), (1, 1)]):
        img = frame(h, w, i)
        png = ops.encode([img], "png")[0]
        out = infer(gpu_server.grpc_url, "grpc", model, {"ENCODED": png[None]},
                    parameters={"format": "png"})
        ref_blurred, ref_mask = cpu_path(img, cpu_runner)
        assert_same(ops.decode([out["BLURRED"][0]])[0], ref_blurred, f"{model} {h}x{w} BLURRED")
        assert_same(ops.decode([out["MASK"][0]])[0][..., 0], ref_mask, f"{model} {h}x{w} MASK")
        jpeg = ops.encode([img], "jpeg", 90)[0]
        out = infer(gpu_server.grpc_url, "grpc", model, {"ENCODED": jpeg[None]})
        assert ops.probe(out["BLURRED"][0]).format == "jpeg"
        assert ops.decode([out["BLURRED"][0]])[0].shape == img.shape


def test_requests_failing_inside_a_gpu_step_leave_the_server_sound(gpu_server, cpu_runner, out):
    """Corrupt files (a valid header, data only the decoder finds bad) sent at once with good
    ones, so they fail inside decode's compute on the device beside good requests of the
    same batch: each corrupt one is a 400, each good one equals the CPU path, and after
    ten such rounds no CUDA error is in the server log and the astronaut is still exact.
    execute ends with the device synchronised on every way out (serving/device.py); without
    that, a failed request's inputs can be reused while kernels still read them."""
    import ops
    from tritonclient.utils import InferenceServerException
    from tests.codec_cases import CORRUPT_PNG

    imgs = [frame(h, w, i) for i, (h, w) in enumerate([(1080, 1920), (333, 517), (720, 1280)])]
    files = [ops.encode([im], "png")[0] for im in imgs]
    bad = np.frombuffer(CORRUPT_PNG, np.uint8)

    def send(k: int) -> Any:
        data = bad if k % 4 == 3 else files[k % 3]
        try:
            return infer(gpu_server.grpc_url, "grpc", "background_blur_encoded", {"ENCODED": data[None]},
                         parameters={"format": "png"})
        except InferenceServerException as e:
            return e

    for _ in range(10):
        with cf.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, range(8)))
        for k, r in enumerate(results):
            if k % 4 == 3:
                assert isinstance(r, InferenceServerException) and "corrupt PNG" in str(r), r
                assert "400" in str(r.status()) or "INVALID_ARGUMENT" in str(r.status()), r.status()
            else:
                assert not isinstance(r, Exception), r
                assert_same(ops.decode([r["BLURRED"][0]])[0], cpu_path(imgs[k % 3], cpu_runner)[0],
                            f"good request {k} beside corrupt ones")
    log = (out / "triton_gpu_server.log").read_text(errors="replace")
    cuda_errors = [l for l in log.splitlines() if re.search(r"cudaError|illegal memory access|CUDA error", l)]
    assert not cuda_errors, cuda_errors[:5]
    img = astronaut()
    blur_and_check(gpu_server, "grpc", "background_blur", img, cpu_runner, "astronaut after the failures")


def _chain(img: np.ndarray, runner: Any) -> dict[str, dict[str, np.ndarray]]:
    """Each step's inputs and expected outputs, by the NumPy chain of tests.reference."""
    from tests import reference

    c = reference.chain(img, runner)
    small, padded, tensor, prob, mask = c["resized"], c["padded"], c["tensor"], c["prob"], c["mask"]
    roi, size = np.array(c["roi"], np.int32), np.array(c["size"], np.int32)
    return {STEP[m]: case for m, case in {
        "upload": {"in": {"IMAGE": img}, "out": {"UPLOADED": img}},
        "resize": {"in": {"IMAGE": img}, "out": {"RESIZED": small, "SRC_SIZE": size}},
        "pad": {"in": {"IMAGE": small}, "out": {"PADDED": padded, "ROI": roi}},
        "image_to_tensor": {"in": {"IMAGE": padded}, "out": {"TENSOR": tensor}},
        "unet": {"in": {"INPUT": tensor}, "out": {"OUTPUT": prob}},
        "tensor_to_mask": {"in": {"PROB": prob, "ROI": roi, "SRC_SIZE": size},
                           "out": {"MASK": c["coarse"]}},
        "refine_mask": {"in": {"IMAGE": img, "MASK": c["coarse"]}, "out": {"ALPHA": mask}},
        "blur": {"in": {"IMAGE": img, "MASK": mask}, "out": {"BLURRED": c["blurred"]}},
    }.items()}


@pytest.fixture(scope="module")
def chain_1080p(cpu_runner):
    """The NumPy chain at 1080p, computed once for all the steps' tests."""
    return _chain(frame(1080, 1920), cpu_runner)


@pytest.mark.parametrize("step", BLUR_STEPS)
def test_each_step_equals_numpy(gpu_server, chain_1080p, report, step):
    """Each step model alone at 1080p against the NumPy op (tells which step a mismatch of
    the whole chain comes from)."""
    case = chain_1080p[step]
    got = infer(gpu_server.http_url, "http", step, {k: v[None] for k, v in case["in"].items()},
                tuple(case["out"]))
    diffs = {}
    for name, ref in case["out"].items():
        ours = got[name][0]
        diffs[name] = float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()) \
            if ours.shape == ref.shape else f"shape {ours.shape} != {ref.shape}"
    report.setdefault("step_max_abs_diff_1080p", {})[step] = diffs
    save(report)
    for name, ref in case["out"].items():
        if step == "unet" and dnn_on_gpu(gpu_server):
            np.testing.assert_allclose(got[name][0], ref, atol=2e-4)  # CUDA vs CPU provider
        else:
            assert_same(got[name][0], ref, f"{step} {name}")


# -- placement: where each tensor was and what moved it -------------------------------
def expected_placement(dnn_on_cpu: bool) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(step, direction, tensor) -> (found, move) for one background_blur request from a host
    client on a GPU server: the frame is uploaded once, by `upload`; everything else is on the
    device already, ROI and SRC_SIZE are declared host; with the DNN on the CPU, exactly two
    more moves, at its boundary."""
    expected = {}
    for m, (ins, outs) in STEP_TENSORS.items():
        for direction, names in (("in", ins), ("out", outs)):
            for t in names:
                expected[(m, direction, t)] = (("host_declared", "none") if t in HOST_DECLARED
                                               else ("device", "none"))
    expected[("upload", "in", "IMAGE")] = ("host", "upload")
    if dnn_on_cpu:
        expected[("unet", "in", "INPUT")] = ("device", "download")
        expected[("unet", "out", "OUTPUT")] = ("host", "none")
        expected[(STEP["tensor_to_mask"], "in", "PROB")] = ("host", "upload")
    return expected


def placement_mismatches(delta: dict, dnn_on_cpu: bool) -> tuple[dict, dict]:
    """Counter deltas {(model, dir, tensor, found, move): n} against expected_placement:
    (tensor: (got, expected)) for the expected tensors, and the unexpected ones."""
    expected = expected_placement(dnn_on_cpu)
    got: dict[tuple[str, str, str], Any] = {}
    for k, v in delta.items():
        if v > 0:
            got[k[:3]] = k[3:] if k[:3] not in got else "several"
    mismatches = {k: (got.get(k), e) for k, e in expected.items() if got.get(k) != e}
    unexpected = {k: v for k, v in got.items() if k not in expected}
    return mismatches, unexpected


def _hops_table(delta: dict, placements: dict[str, str], models: tuple[str, ...]) -> list[str]:
    lines = ["| step | placement | tensor | dir | found | move | count |", "|---|---|---|---|---|---|---|"]
    for m in models:
        rows = sorted((k, v) for k, v in delta.items() if k[0] == m)
        for (model, direction, tensor, found, moved), n in rows:
            mark = f"**{moved}**" if moved in ("upload", "download", "peer", "refused") else moved
            lines.append(f"| {model} | {placements.get(model, '?')} | {tensor} | {direction} | "
                         f"{found} | {mark} | {n:g} |")
    return lines


def step_hops_table(delta: dict, placements: dict[str, str], dnn_on_cpu: bool) -> list[str]:
    """One row per step: host/device hops counted against those expected."""
    expected = expected_placement(dnn_on_cpu)
    lines = ["| step | placement | hops | expected | moves |", "|---|---|---|---|---|"]
    for m in BLUR_STEPS:
        moves = {f"{k[2]} {k[4]}": v for k, v in delta.items()
                 if k[0] == m and k[4] in ("upload", "download", "peer", "refused")}
        want = sum(1 for k, (_, mv) in expected.items() if k[0] == m and mv != "none")
        lines.append(f"| {m} | {placements.get(m, '?')} | {sum(moves.values()):g} | {want} | "
                     f"{', '.join(f'{k} x{v:g}' for k, v in moves.items()) or '-'} |")
    return lines


def test_placement_hops(gpu_server, cpu_runner, out, report):
    """One 1080p frame over HTTP (host memory): it is uploaded once by `upload`; every later
    step finds its data on the device, except across the DNN when onnxruntime is on the CPU
    (unet downloads INPUT, tensor_to_mask uploads PROB). Writes hops.md."""
    img = frame(1080, 1920)
    before = placement_counters(gpu_server)
    infer(gpu_server.http_url, "http", "background_blur", {"IMAGE": img[None]})
    mid = placement_counters(gpu_server)
    infer(gpu_server.http_url, "http", "background_blur_fused", {"IMAGE": img[None]})
    after = placement_counters(gpu_server)
    ens, fused = counter_delta(before, mid), counter_delta(mid, after)
    places = placement_lines(gpu_server)

    # Where the DNN works: the unet instance's own placement line, else what its input did.
    unet = places.get("unet", "")
    dnn_on_cpu = not dnn_on_gpu(gpu_server) if unet else \
        ens.get(("unet", "in", "INPUT", "device", "download"), 0) > 0
    hops = {k: v for k, v in ens.items() if k[4] in ("upload", "download", "peer")}
    after_entry = {k: v for k, v in hops.items() if k[0] != "upload"}

    lines = ["## Placement: where each tensor was, what moved it (one 1080p request, HTTP)", "",
             "Placements (from the server log): " + "; ".join(
                 f"{m} {places.get(m, '?')}" for m in BLUR_STEPS) + ".", "",
             f"The DNN (unet, onnxruntime) works on the {'CPU' if dnn_on_cpu else 'GPU'}.", "",
             f"background_blur: {sum(hops.values()):g} host/device hops in all, "
             f"{sum(after_entry.values()):g} after the entry"
             + (" (expected 2, at the DNN boundary: unet INPUT download, tensor_to_mask PROB upload)"
                if dnn_on_cpu else " (expected 0)") + ".", ""]
    lines += step_hops_table(ens, places, dnn_on_cpu) + ["", "Every tensor:", ""]
    lines += _hops_table(ens, places, BLUR_STEPS)
    lines += ["", "background_blur_fused (its steps' moves inside it are not counted; see the "
              "server log's placement lines):", ""]
    lines += _hops_table(fused, places, ("background_blur_fused",))
    crossing = [l for l in gpu_server.log_path.read_text(errors="replace").splitlines()
                if "crosses PCIe" in l]
    lines += [""] + [f"- log: {l.strip()}" for l in crossing[:3]]
    (out / "hops.md").write_text("\n".join(lines) + "\n")
    report["placement"] = {"dnn_on_cpu": dnn_on_cpu, "placements": places,
                           "ensemble": {"/".join(k): v for k, v in ens.items()},
                           "fused": {"/".join(k): v for k, v in fused.items()},
                           "hops_after_entry": sum(after_entry.values())}
    save(report)

    mismatches, unexpected = placement_mismatches(ens, dnn_on_cpu)
    assert not mismatches and not unexpected, (
        f"placement differs (tensor: (got, expected)): {mismatches}; unexpected: {unexpected}")
    assert all(v == 1 for v in ens.values()), ens
    assert fused.get(("background_blur_fused", "in", "IMAGE", "host", "upload")) == 1, fused
    for t in ("BLURRED", "MASK"):
        assert fused.get(("background_blur_fused", "out", t, "device", "none")) == 1, fused


def test_require_device_gpu(gpu_server, cpu_runner, report):
    """require_device=gpu: served on the device end to end when the DNN is on the GPU; with
    the DNN on the CPU the unet instance refuses it (no silent host hop)."""
    from tritonclient.utils import InferenceServerException
    img = frame(333, 517)
    if dnn_on_gpu(gpu_server):
        o = infer(gpu_server.grpc_url, "grpc", "background_blur", {"IMAGE": img[None]},
                  parameters={"require_device": "gpu"})
        assert_same(o["BLURRED"][0], cpu_path(img, cpu_runner)[0], "require_device BLURRED")
        report["require_device_gpu"] = "served"
    else:
        with pytest.raises(InferenceServerException, match="unet: the request asks require_device=gpu") as e:
            infer(gpu_server.grpc_url, "grpc", "background_blur", {"IMAGE": img[None]},
                  parameters={"require_device": "gpu"})
        report["require_device_gpu"] = f"refused: {str(e.value)[:300]}"
    save(report)


# -- overhead and memory -------------------------------------------------------------
def _timed(server: Any, model: str, img: np.ndarray, n: int) -> tuple[dict, list[float]]:
    from clients.perf.stats import diff_stats, model_stats
    infer(server.grpc_url, "grpc", model, {"IMAGE": img[None]})  # warm
    before = model_stats(server.http_url)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        infer(server.grpc_url, "grpc", model, {"IMAGE": img[None]})
        lat.append(time.perf_counter() - t)
    return diff_stats(model_stats(server.http_url), before), lat


def test_ensemble_overhead(gpu_server, report):
    """Concurrency 1, 1080p, gRPC: the ensemble's time per request against its steps' own
    compute (Triton statistics), and against the fused model. Recorded, not asserted: the
    goal (<= 150 us per step) is reported by the GPU check's summary."""
    img = frame(1080, 1920)
    n = 40
    ens, lat_e = _timed(gpu_server, "background_blur", img, n)
    fused, lat_f = _timed(gpu_server, "background_blur_fused", img, n)
    table = {r["model"]: r for r in per_request_table({**ens, **fused})}  # mean us per request
    steps = [m for m in ens if m != "background_blur"]  # the spec's steps and the generated tee
    compute = sum(table[m][k] for m in steps
                  for k in ("compute_input_us", "compute_infer_us", "compute_output_us"))
    queue = sum(table[m]["queue_us"] for m in steps)
    total = table["background_blur"]["total_us"]
    fused_total = table["background_blur_fused"]["total_us"]
    report["overhead"] = {
        "requests": n, "steps": len(steps), "ensemble_us": total, "steps_compute_us": compute,
        "steps_queue_us": queue, "per_step_us": (total - compute) / len(steps),
        "fused_us": fused_total, "vs_fused_per_step_us": (total - fused_total) / (len(steps) - 1),
        "client_ms_median": {"background_blur": 1e3 * statistics.median(lat_e),
                             "background_blur_fused": 1e3 * statistics.median(lat_f)},
        "per_step": {m: table[m] for m in steps},
    }
    save(report)
    assert set(BLUR_STEPS) <= set(steps), f"statistics lack steps: {sorted(ens)}"
    assert total >= compute > 0


def ensemble_max_batch(model: str = "background_blur") -> int:
    """The max_batch_size of ``model``'s config in the repository the server serves."""
    from serving.pipeline.repository import load_repository
    from serving.paths import MODEL_REPOSITORY

    models, _ = load_repository(MODEL_REPOSITORY)
    return max(models[model].config.max_batch_size, 1)


def warm_every_batch(server: Any, img: np.ndarray, max_batch: int) -> None:
    """For each b in 1..max_batch: one request of b copies of ``img`` (every step then runs a
    batch of exactly b), and b requests of ``img`` at once (the dynamic batcher, with no
    queue delay, batches what queued meanwhile: ragged batches). Every allocation size a
    batch of the largest frame can need is met before memory counts as flat."""
    for b in range(1, max_batch + 1):
        batch = np.ascontiguousarray(np.broadcast_to(img, (b, *img.shape)))
        got = infer(server.grpc_url, "grpc", "background_blur", {"IMAGE": batch})["BLURRED"].shape
        assert got == batch.shape, f"batch of {b}: BLURRED {got}"
        barrier = threading.Barrier(b)

        def one(_: int) -> tuple[int, ...]:
            barrier.wait(timeout=60)
            return infer(server.grpc_url, "grpc", "background_blur", {"IMAGE": img[None]})["BLURRED"].shape

        with cf.ThreadPoolExecutor(b) as pool:
            assert all(shape[1:3] == img.shape[:2] for shape in pool.map(one, range(b)))


def batches_run(server: Any, models: tuple[str, ...]) -> dict[str, dict[int, int]]:
    """model -> {batch size: executions so far}, from Triton's statistics (batch_stats)."""
    import tritonclient.http as http

    client = http.InferenceServerClient(server.http_url)
    try:
        out = {}
        for m in models:
            stats = client.get_inference_statistics(m)["model_stats"][0].get("batch_stats", [])
            out[m] = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats}
        return out
    finally:
        client.close()


def test_gpu_memory_flat(gpu_server, report):
    """After a warm-up over every batch size up to the ensemble's max_batch_size at the
    largest frame (4K, warm_every_batch: every step must have run each batch size), then
    every size at concurrency 8, a few hundred requests of mixed sizes at concurrency 8:
    the GPU memory the server holds must not grow. Each stub process's own GPU memory (one
    CUDA context per model instance) is recorded after the warm-up and after the run
    (gpu_server.json memory.per_stub; summary.md's table)."""
    from bench.procmem import per_stub_gpu

    imgs = [frame(h, w, i) for i, (h, w) in enumerate(MEMORY_SIZES)]
    largest = max(imgs, key=lambda im: im.shape[0] * im.shape[1])
    max_batch = ensemble_max_batch()

    def run(n: int) -> None:
        with cf.ThreadPoolExecutor(8) as pool:
            outs = pool.map(lambda k: infer(gpu_server.grpc_url, "grpc", "background_blur",
                                            {"IMAGE": imgs[k % len(imgs)][None]}), range(n))
            for k, o in zip(range(n), outs):
                assert o["BLURRED"].shape[1:3] == imgs[k % len(imgs)].shape[:2]

    before = batches_run(gpu_server, BLUR_STEPS)
    warm_every_batch(gpu_server, largest, max_batch)
    after = batches_run(gpu_server, BLUR_STEPS)
    formed = {m: {n: c - before[m].get(n, 0) for n, c in sorted(after[m].items()) if c > before[m].get(n, 0)}
              for m in BLUR_STEPS}
    run(8 * len(imgs))  # every size, mixed
    first = gpu_memory(gpu_server.proc.pid)
    stubs_warm = per_stub_gpu(gpu_server.proc.pid)
    pools_warm = pool_gauges(gpu_server)
    t = time.perf_counter()
    run(MEMORY_REQUESTS // 2)
    mid = gpu_memory(gpu_server.proc.pid)
    run(MEMORY_REQUESTS - MEMORY_REQUESTS // 2)
    seconds = time.perf_counter() - t
    last = gpu_memory(gpu_server.proc.pid)
    stubs_after = per_stub_gpu(gpu_server.proc.pid)
    pools_after = pool_gauges(gpu_server)
    source = "server_processes_mib" if first["server_processes_mib"] is not None else "device_used_mib"
    # Each GPU instance's CuPy cache moves between 0 and device_cache_mib with the traffic
    # (serving/device.py): "flat" is about what the processes hold besides it.
    cached = [sum(p.get("cached", 0.0) for p in pools.values()) / 2**20 for pools in (pools_warm, pools_after)]
    growth = (last[source] - cached[1]) - (first[source] - cached[0])
    report["memory"] = {"requests": MEMORY_REQUESTS, "source": source, "seconds": seconds,
                        "warmup": {"batch_sizes": f"1..{max_batch} at {largest.shape[1]}x{largest.shape[0]}",
                                   "batches_formed": formed, "mixed_requests": 8 * len(imgs)},
                        "before_mib": first[source], "middle_mib": mid[source],
                        "after_mib": last[source], "raw_growth_mib": last[source] - first[source],
                        "cupy_cached_mib": {"after_warmup": cached[0], "after_run": cached[1]},
                        "growth_mib": growth,
                        "snapshots": [first, mid, last],
                        "per_stub": {"after_warmup": stubs_warm, "after_run": stubs_after},
                        "pools": {"after_warmup": pools_warm, "after_run": pools_after}}
    save(report)
    missing = {m: sorted(set(range(1, max_batch + 1)) - set(f)) for m, f in formed.items()}
    assert not any(missing.values()), f"the warm-up did not run these batch sizes: {missing}"
    over = {i: p["cached"] for i, p in pools_after.items() if p.get("cached", 0) > DEVICE_CACHE_BYTES}
    assert not over, f"CuPy caches above device_cache_mib after the run: {over}"
    assert growth <= GOAL_MEMORY_GROWTH_MIB, report["memory"]
