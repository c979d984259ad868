"""The real Triton server: ensembles over HTTP and gRPC against the same chain run
in-process, dynamic batching, a real photo, errors per request."""
import concurrent.futures as cf

import numpy as np
import pytest
from skimage import data
from tritonclient.utils import InferenceServerException

import ops
from tests import reference
from serving.registry import base_model
from serving.requests import MAX_SIDE
from tests import helpers
from tests.helpers import blur_steps, counter_delta, cpu_instances, placement_counters, url

pytestmark = pytest.mark.server
BLUR_STEPS = blur_steps()


def infer(address, protocol, model, img, outputs=("BLURRED", "MASK"), parameters=None):
    """The outputs (in order) of one request with IMAGE = img."""
    out = helpers.infer(address, protocol, model, {"IMAGE": img}, outputs, parameters)
    return [out[o] for o in outputs]


def photo(h=None, w=None):
    img = data.astronaut()
    if h:
        img = ops.resize(img, (h, w))
    return img


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("size", [None, (300, 451), (97, 640), (1, 1)])
def test_ensemble_equals_the_chain_in_process(server, runner, protocol, size):
    img = photo(*size) if size else photo()
    blurred, mask = infer(url(server, protocol), protocol, "background_blur", img[None])
    ref_blurred, ref_mask = reference.background_blur(img, runner)
    np.testing.assert_array_equal(mask[0], ref_mask)
    np.testing.assert_array_equal(blurred[0], ref_blurred)


def test_batch_of_two_in_one_request(server, runner):
    imgs = np.stack([photo(120, 160), photo(120, 160)[:, ::-1]])
    blurred, mask = infer(server.grpc_url, "grpc", "background_blur", np.ascontiguousarray(imgs))
    for i in range(2):
        rb, rm = reference.background_blur(np.ascontiguousarray(imgs[i]), runner)
        np.testing.assert_array_equal(blurred[i], rb)
        np.testing.assert_array_equal(mask[i], rm)


def test_face_sharp_background_blurred(server):
    img = photo()
    blurred, mask = (a[0] for a in infer(server.http_url, "http", "background_blur", img[None]))
    assert 0.45 < (mask >= 128).mean() < 0.65
    face = (slice(100, 160), slice(205, 255))
    assert (mask[face] >= 224).all()                                 # the face is foreground
    inner = (slice(110, 150), slice(215, 245))
    assert (mask[inner] >= 245).all()                                # ... its inside nearly all
    diff = np.abs(blurred[face].astype(int) - img[face])             # ... and stays sharp
    assert diff.max() <= 8 and diff.mean() < 0.5
    assert np.array_equal(blurred[mask == 255], img[mask == 255])
    soft = (mask > 0) & (mask < 255)                                 # the soft matte: an edge band
    assert 0.005 < soft.mean() < 0.25                                # (faint tails included)
    assert ((mask > 12) & (mask < 243)).mean() < 0.1
    flag = (slice(0, 150), slice(0, 50))
    assert np.abs(blurred[flag].astype(int) - img[flag]).mean() > 5  # the flag is blurred
    # blurred = less high-frequency energy in the background
    lap = lambda a: np.abs(np.diff(a.astype(int), axis=1)).mean()  # noqa: E731
    assert lap(blurred[flag]) < 0.5 * lap(img[flag])


def test_classification_preprocess(server):
    img = photo(300, 451)
    (tensor,) = infer(server.http_url, "http", "classification_preprocess", img[None], ("TENSOR",))
    short = ops.resize(img, (256, int(256 * 451 / 300)))
    crop = ops.center_crop(short, (224, 224))
    ref = ops.image_to_tensor(crop, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert tensor.shape == (1, 3, 224, 224)
    np.testing.assert_array_equal(tensor, ref)


def test_concurrent_mixed_sizes_are_batched(server, runner):
    import tritonclient.http as http
    sizes = [(120, 160), (90, 200), (64, 64), (200, 150), (33, 47), (120, 160)] * 4
    imgs = [np.ascontiguousarray(photo(h, w)) for h, w in sizes]
    stats_client = http.InferenceServerClient(server.http_url)
    before = {m["name"]: m for m in stats_client.get_inference_statistics()["model_stats"]}
    with cf.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda im: infer(server.grpc_url, "grpc", "background_blur", im[None]), imgs))
    for img, (blurred, mask) in zip(imgs, results):
        rb, rm = reference.background_blur(img, runner)
        np.testing.assert_array_equal(blurred[0], rb)
        np.testing.assert_array_equal(mask[0], rm)
    after = {m["name"]: m for m in stats_client.get_inference_statistics()["model_stats"]}
    batched = []
    for name in BLUR_STEPS:
        inf = int(after[name]["inference_count"]) - int(before[name]["inference_count"])
        exe = int(after[name]["execution_count"]) - int(before[name]["execution_count"])
        assert inf == len(imgs)
        batched.append(inf > exe)
    assert any(batched), "no op model ever ran more than one request per execution"


def test_request_parameters_reach_the_steps(server, runner):
    """Triton 2.51 passes request parameters on to the ensemble's steps (see docs/serving.md)."""
    img = photo(160, 160)
    blurred, mask = infer(server.grpc_url, "grpc", "background_blur", img[None],
                          parameters={"sigma": 3, "morph_ksize": 1, "threshold": 0.3})
    rb, rm = reference.background_blur(img, runner, sigma=3.0, morph_ksize=1, threshold=0.3)
    np.testing.assert_array_equal(mask[0], rm)
    np.testing.assert_array_equal(blurred[0], rb)
    default, _ = infer(server.grpc_url, "grpc", "background_blur", img[None])
    assert not np.array_equal(default, blurred)


BAD = {
    "float32 image": (np.zeros((1, 8, 8, 3), np.float32), "FP32"),
    "rank 2": (np.zeros((1, 8, 8), np.uint8), None),
    "1 channel": (np.zeros((1, 8, 8, 1), np.uint8), None),
    "4 channels": (np.zeros((1, 8, 8, 4), np.uint8), None),
    "zero size": (np.zeros((1, 0, 8, 3), np.uint8), "is zero-size"),
    "over the size limit": (np.zeros((1, MAX_SIDE + 1, 2, 3), np.uint8), "size limit"),
}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_a_clear_error_and_the_server_goes_on(server, runner, protocol, case):
    img, words = BAD[case]
    with pytest.raises(InferenceServerException) as e:
        infer(url(server, protocol), protocol, "background_blur", img)
    msg = str(e.value)
    assert "IMAGE" in msg or "input" in msg.lower()
    if words:
        assert words in msg, msg
    good = photo(64, 64)
    blurred, mask = infer(url(server, protocol), protocol, "background_blur", good[None])
    np.testing.assert_array_equal(mask[0], reference.background_blur(good, runner)[1])


def test_bad_request_in_a_batch_fails_alone(server, runner):
    """Requests that share an execute() with a bad one still succeed."""
    good = [np.ascontiguousarray(photo(64 + i, 80)) for i in range(6)]
    bad = np.zeros((0, 5, 3), np.uint8)
    with cf.ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(infer, server.grpc_url, "grpc", "background_blur", im[None]) for im in good]
        futs.insert(3, pool.submit(infer, server.grpc_url, "grpc", "background_blur", bad[None]))
        outs = [f.exception() or f.result() for f in futs]
    assert isinstance(outs[3], InferenceServerException)
    for img, out in zip(good, outs[:3] + outs[4:]):
        np.testing.assert_array_equal(out[1][0], reference.background_blur(img, runner)[1])



@cpu_instances
def test_placement_counters_on_a_cpu_server(server, runner):
    """Every step counts where each tensor arrived; on a CPU server all of them arrive on the
    host and nothing moves (the GPU side of this is in the GPU check, docs/gpu.md)."""
    before = placement_counters(server)
    img = photo(90, 120)
    infer(server.http_url, "http", "background_blur", img[None])
    delta = counter_delta(before, placement_counters(server))
    step = {base_model(s): s for s in BLUR_STEPS}  # the names the steps are served under
    expected = {(step[m], "in", t) for m, t in [
        ("upload", "IMAGE"), ("resize", "IMAGE"), ("pad", "IMAGE"), ("image_to_tensor", "IMAGE"),
        ("unet", "INPUT"), ("tensor_to_mask", "PROB"), ("tensor_to_mask", "ROI"),
        ("tensor_to_mask", "SRC_SIZE"), ("refine_mask", "IMAGE"), ("refine_mask", "MASK"),
        ("blur", "IMAGE"), ("blur", "MASK")]}
    assert {k[:3] for k in delta if k[1] == "in"} == expected
    assert all(v == 1 for v in delta.values()), delta
    assert {k[3:] for k in delta if k[2] not in ("ROI", "SRC_SIZE")} == {("host", "none")}
    assert {k[3:] for k in delta if k[2] in ("ROI", "SRC_SIZE")} == {("host_declared", "none")}


@cpu_instances
def test_require_device_gpu_is_refused_on_cpu_instances(server, runner):
    img = photo(32, 32)
    with pytest.raises(InferenceServerException, match="upload: the request asks require_device=gpu, "
                                                       "but this instance works on the CPU") as e:
        infer(server.grpc_url, "grpc", "background_blur", img[None], parameters={"require_device": "gpu"})
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"
    with pytest.raises(InferenceServerException, match="request parameter require_device: expected "
                                                       "one of none, gpu, got 'tpu'") as e:
        infer(server.http_url, "http", "background_blur", img[None], parameters={"require_device": "tpu"})
    assert e.value.status() == "400"
    blurred, _ = infer(server.grpc_url, "grpc", "background_blur", img[None])
    np.testing.assert_array_equal(blurred[0], reference.background_blur(img, runner)[0])
