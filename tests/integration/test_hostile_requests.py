"""A hostile client against the real server (docs/serving.md, Request limits): every bad
shape and every bad request parameter value gets a client error (HTTP 400 / gRPC
INVALID_ARGUMENT) within 10 s naming the tensor or the parameter, over HTTP JSON, HTTP
binary and gRPC, each built by hand (raw protocol), and the model's next good request still
gets the same bytes as before.

Not here, because they take down more than the one request (docs/serving.md, Request limits):
shapes whose byte size wraps Triton's 64-bit arithmetic ([1, 2^32, 2^32, 3] with no data)
abort the Python-backend stub while it loads the request, before any model code runs; JSON
bodies declaring huge shapes ([1, 100000, 100000, 3] with 3 values) abort tritonserver's
HTTP front end. tests/integration/test_supervisor.py sends both and checks the service comes back.
"""
from __future__ import annotations

import http.client
import json
import math
import time
from typing import Any

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import serialize_byte_tensor

from serving.requests import MAX_SIDE
from tests.codec_cases import HOSTILE, jpeg_with_frame, pil_file, png_with_header
from tests.helpers import infer, url

pytestmark = pytest.mark.server
PROTOCOLS = ("json", "binary", "grpc")
LIMIT_S = 10.0
DTYPES = {"UINT8": np.uint8, "FP32": np.float32, "INT32": np.int32}


def image(h: int, w: int, c: int = 3, dtype: str = "UINT8") -> tuple:
    rng = np.random.default_rng(h * 1000 + w)
    return (rng.integers(0, 256, (1, h, w, c)).astype(DTYPES[dtype]), dtype)


def mask(h: int, w: int) -> tuple:
    return (np.where(np.random.default_rng(h + w).random((1, h, w)) > 0.5, 255, 0).astype(np.uint8),
            "UINT8")


def ints(*v: int) -> tuple:
    return (np.array([v], np.int32), "INT32")


def prob(k: int, h: int, w: int) -> tuple:
    return (np.random.default_rng(k + h).random((1, k, h, w)).astype(np.float32), "FP32")


def file(f: bytes) -> tuple:
    return (np.frombuffer(f, np.uint8)[None], "UINT8")


JPEG = file(pil_file(image(40, 56)[0][0], "JPEG", quality=90))


# One good request per model: its answer must not change, whatever came before it.
GOOD: dict[str, dict[str, tuple]] = {
    "background_blur": {"IMAGE": image(40, 56)},
    "background_blur_fused": {"IMAGE": image(40, 56)},
    "classification_preprocess": {"IMAGE": image(230, 240)},
    "baseline_cpu_pipeline": {"IMAGE": image(40, 56)},
    "upload": {"IMAGE": image(9, 7)},
    "resize": {"IMAGE": image(40, 56)},
    "pad": {"IMAGE": image(40, 56)},
    "center_crop": {"IMAGE": image(230, 240)},
    "image_to_tensor": {"IMAGE": image(9, 7)},
    "unet": {"INPUT": (np.random.default_rng(0).random((1, 3, 256, 256)).astype(np.float32), "FP32")},
    "tensor_to_mask": {"PROB": prob(1, 16, 16), "ROI": ints(0, 2, 16, 12), "SRC_SIZE": ints(30, 40)},
    "blur": {"IMAGE": image(40, 56), "MASK": mask(40, 56)},
    "morphology": {"MASK": mask(40, 56)},
    "refine_mask": {"IMAGE": image(40, 56), "MASK": mask(40, 56)},
    "decode": {"ENCODED": JPEG},
    "encode": {"IMAGE": image(40, 56), "SOURCE": JPEG},
    "encode_mask": {"MASK": mask(40, 56)},
    "background_blur_encoded": {"ENCODED": JPEG},
    "background_blur_encoded_fused": {"ENCODED": JPEG},
    "background_blur__tee_MASK": {"INPUT": mask(40, 56)},  # a generated tee, called directly
}
OUTPUTS = {"background_blur": ["BLURRED", "MASK"], "background_blur_fused": ["BLURRED", "MASK"],
           "classification_preprocess": ["TENSOR"], "baseline_cpu_pipeline": ["BLURRED", "MASK"],
           "upload": ["UPLOADED"], "resize": ["RESIZED", "SRC_SIZE"], "pad": ["PADDED", "ROI"],
           "center_crop": ["CROPPED"], "image_to_tensor": ["TENSOR"], "unet": ["OUTPUT"],
           "tensor_to_mask": ["MASK"], "blur": ["BLURRED"], "morphology": ["RESULT"],
           "refine_mask": ["ALPHA"],
           "decode": ["IMAGE"], "encode": ["ENCODED"], "encode_mask": ["ENCODED"],
           "background_blur_encoded": ["BLURRED", "MASK"],
           "background_blur_encoded_fused": ["BLURRED", "MASK"],
           "background_blur__tee_MASK": ["OUTPUT", "INTERNAL"]}

# Bad shapes: (model, the inputs that replace its good ones, words the error must hold).
SHAPES: dict[str, tuple[str, dict[str, tuple], str]] = {
    "zero-size": ("background_blur", {"IMAGE": image(0, 8)}, "IMAGE"),
    "4097 tall": ("background_blur", {"IMAGE": image(MAX_SIDE + 1, 1)}, "IMAGE"),
    "4097 wide": ("background_blur", {"IMAGE": image(2, MAX_SIDE + 1)}, "IMAGE"),
    "rank 3": ("background_blur", {"IMAGE": (np.zeros((1, 8, 8), np.uint8), "UINT8")}, "IMAGE"),
    "rank 5": ("background_blur", {"IMAGE": (np.zeros((1, 1, 8, 8, 3), np.uint8), "UINT8")}, "IMAGE"),
    "1 channel": ("background_blur", {"IMAGE": image(8, 8, 1)}, "IMAGE"),
    "4 channels": ("background_blur", {"IMAGE": image(8, 8, 4)}, "IMAGE"),
    "float32": ("background_blur", {"IMAGE": image(8, 8, 3, "FP32")}, "IMAGE"),
    "batch 9": ("background_blur", {"IMAGE": (np.zeros((9, 4, 4, 3), np.uint8), "UINT8")}, "batch-size"),
    "fused zero-size": ("background_blur_fused", {"IMAGE": image(8, 0)}, "IMAGE"),
    "matte: mask of another size": ("refine_mask", {"MASK": mask(40, 57)}, "MASK: expected shape (40, 56)"),
    "matte: mask rank 3": ("refine_mask", {"MASK": (np.zeros((1, 40, 56, 1), np.uint8), "UINT8")}, "MASK"),
    "fused 4097": ("background_blur_fused", {"IMAGE": image(MAX_SIDE + 1, 1)}, "IMAGE"),
    "baseline zero-size": ("baseline_cpu_pipeline", {"IMAGE": image(0, 8)}, "IMAGE"),
    "baseline 4097": ("baseline_cpu_pipeline", {"IMAGE": image(1, MAX_SIDE + 1)}, "IMAGE"),
    "shorter side 1x4096": ("classification_preprocess", {"IMAGE": image(1, MAX_SIDE)}, "IMAGE"),
    "upload zero-size": ("upload", {"IMAGE": image(0, 0)}, "IMAGE"),
    "resize 4097": ("resize", {"IMAGE": image(MAX_SIDE + 1, 2)}, "IMAGE"),
    "pad too large": ("pad", {"IMAGE": image(300, 8)}, "IMAGE"),
    "crop too small": ("center_crop", {"IMAGE": image(100, 300)}, "IMAGE"),
    "image_to_tensor zero-size": ("image_to_tensor", {"IMAGE": image(8, 0)}, "IMAGE"),
    "unet not 256x256": ("unet", {"INPUT": (np.zeros((1, 3, 8, 8), np.float32), "FP32")}, "INPUT"),
    "unet 2 channels": ("unet", {"INPUT": (np.zeros((1, 2, 256, 256), np.float32), "FP32")}, "INPUT"),
    "mask of another size": ("blur", {"MASK": mask(40, 55)}, "MASK"),
    "batch sizes differ": ("blur", {"MASK": (np.zeros((2, 40, 56), np.uint8), "UINT8")}, "batch size"),
    "morphology zero-size": ("morphology", {"MASK": mask(0, 5)}, "MASK"),
    "morphology 4097": ("morphology", {"MASK": mask(MAX_SIDE + 1, 1)}, "MASK"),
    "prob zero-size": ("tensor_to_mask", {"PROB": prob(1, 0, 16)}, "PROB"),
    "roi outside prob": ("tensor_to_mask", {"ROI": ints(4, 0, 16, 16)}, "ROI"),
    "roi negative": ("tensor_to_mask", {"ROI": ints(-1, 0, 8, 8)}, "ROI"),
    "src_size huge": ("tensor_to_mask", {"SRC_SIZE": ints(100000, 100000)}, "SRC_SIZE"),
    "src_size zero": ("tensor_to_mask", {"SRC_SIZE": ints(0, 40)}, "SRC_SIZE"),
    "empty file": ("background_blur_encoded", {"ENCODED": (np.zeros((1, 0), np.uint8), "UINT8")}, "ENCODED"),
    "file of rank 2": ("decode", {"ENCODED": (np.zeros((1, 4, 4), np.uint8), "UINT8")}, "ENCODED"),
    "fused empty file": ("background_blur_encoded_fused", {"ENCODED": (np.zeros((1, 0), np.uint8), "UINT8")}, "ENCODED"),
    "encode source empty": ("encode", {"SOURCE": (np.zeros((1, 0), np.uint8), "UINT8")}, "SOURCE"),
    "encode source not an image": ("encode", {"SOURCE": file(b"plain text, no image")}, "SOURCE"),
    "encode 1 channel": ("encode", {"IMAGE": image(8, 8, 1)}, "IMAGE"),
    "encode_mask rank 3": ("encode_mask", {"MASK": image(8, 8)}, "MASK"),
    "tee zero-size": ("background_blur__tee_MASK", {"INPUT": mask(0, 5)}, "INPUT"),
    "tee rank 4": ("background_blur__tee_MASK", {"INPUT": image(8, 8)}, "INPUT"),
}

NAN, INF = float("nan"), float("inf")
# Bad values of each request parameter: out of range, negative, huge, not finite, of
# another type (a JSON list is refused by Triton's front end itself, naming the parameter).
VALUES: dict[str, list[Any]] = {
    "sigma": [1e9, 129, 0, -1, NAN, INF, "nan", True, "twelve", [1, 2]],
    "downscale": [0, 33, -1, 10**12, 2.5, True, "inf"],
    "morph_ksize": [2, 23, -1, 10**12, 3.0, True, NAN, "five"],
    "threshold": [0, 1, 1.5, -0.5, NAN, INF, True, "half"],
    "ksize": [4, 23, 0, -5, 1e9, True, "nan"],
    "require_device": ["tpu", 1, True],
    "format": ["gif", "JPEG", 1, True, ""],
    "quality": [0, 101, -1, 2.5, True, "high"],
    "contrast": [0.5, 17, 0, NAN, INF, True, "two"],
    "refine": ["bilateral", "", 1, True],
    "refine_guide": ["rgb", 0],
    "refine_radius": [0, 65, -1, 10**12, 2.5, True, "eight"],
    "refine_eps": [0, 1.5, -1e-4, NAN, INF, True, "small"],
    "refine_subsample": [0, 17, -1, 2.5, True, "four"],
    "refine_diameter": [0, 16, -5, 10**12, 4.5, True],
    "refine_sigma_color": [0, 1001, NAN, -1, "inf"],
    "refine_sigma_space": [0, 1e9, NAN, True],
    "matte": ["hard", 1, True, ""],
}
PARAMETERS = {"background_blur": ["sigma", "downscale", "morph_ksize", "threshold", "require_device",
                                  "contrast", "refine", "refine_radius", "refine_eps", "matte"],
              "refine_mask": ["refine", "refine_guide", "refine_radius", "refine_eps", "refine_subsample",
                              "refine_diameter",
                              "refine_sigma_color", "refine_sigma_space", "matte"],
              "blur": ["sigma", "downscale"], "morphology": ["ksize"],
              "tensor_to_mask": ["threshold", "morph_ksize", "contrast"], "encode": ["format", "quality"],
              "background_blur_encoded": ["format", "quality", "sigma"]}
# A few more per model (each value of each parameter everywhere would be a long table).
EXTRA = [("background_blur_fused", "sigma", 1e9), ("background_blur_fused", "morph_ksize", 99),
         ("background_blur_fused", "threshold", NAN), ("background_blur_fused", "refine_radius", 1000),
         ("background_blur_fused", "matte", "grey"), ("background_blur_encoded", "refine_diameter", 99),
         ("background_blur_encoded_fused", "refine_sigma_color", NAN),
         ("classification_preprocess", "require_device", "tpu"), ("upload", "require_device", 2),
         ("resize", "require_device", "cpu"), ("pad", "require_device", False),
         ("center_crop", "require_device", "GPU"), ("image_to_tensor", "require_device", 0.5),
         ("unet", "require_device", "tpu"),
         ("background_blur_encoded_fused", "format", "gif"),
         ("background_blur_encoded_fused", "quality", 0), ("decode", "require_device", "tpu"),
         ("encode_mask", "require_device", 3)]

PARAM_CASES = [(m, p, v) for m, names in PARAMETERS.items() for p in names for v in VALUES[p]] + EXTRA


def _id(v: Any) -> str:
    return (v if isinstance(v, str) else repr(v))[:24]


# -- the raw protocols ------------------------------------------------------------------------

def _json_value(v: Any) -> Any:
    """JSON has no nan or inf: they go as the strings a client would send."""
    return str(v) if isinstance(v, float) and not math.isfinite(v) else v


def raw(arr: np.ndarray, dtype: str) -> bytes:
    """A tensor's bytes as the binary protocols carry them (BYTES: length-prefixed items)."""
    if dtype == "BYTES":
        return serialize_byte_tensor(arr).item()
    return np.ascontiguousarray(arr).tobytes()


def send_http(server, model: str, inputs: dict[str, tuple], params: dict, binary: bool) -> tuple[int, str]:
    head: dict[str, Any] = {"inputs": []}
    if params:
        head["parameters"] = {k: _json_value(v) for k, v in params.items()}
    blobs = []
    for name, (arr, dtype) in inputs.items():
        t = {"name": name, "shape": list(arr.shape), "datatype": dtype}
        if binary:
            blobs.append(raw(arr, dtype))
            t["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            t["data"] = arr.reshape(-1).tolist()
        head["inputs"].append(t)
    body = json.dumps(head).encode()
    headers = {"Content-Type": "application/json"}
    if binary:
        headers = {"Inference-Header-Content-Length": str(len(body)),
                   "Content-Type": "application/octet-stream"}
        body += b"".join(blobs)
    conn = http.client.HTTPConnection(*server.http_url.split(":"), timeout=LIMIT_S)
    try:
        conn.request("POST", f"/v2/models/{model}/infer", body, headers)
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
    finally:
        conn.close()
    return r.status, json.loads(text).get("error", "") if r.status != 200 else ""


def send_grpc(server, model: str, inputs: dict[str, tuple], params: dict) -> tuple[str, str]:
    req = service_pb2.ModelInferRequest(model_name=model)
    for name, (arr, dtype) in inputs.items():
        req.inputs.add(name=name, datatype=dtype, shape=list(arr.shape))
        req.raw_input_contents.append(raw(arr, dtype))
    for k, v in params.items():
        p = req.parameters[k]
        if isinstance(v, bool):
            p.bool_param = v
        elif isinstance(v, int):
            p.int64_param = v
        elif isinstance(v, float):
            p.double_param = v
        else:
            p.string_param = v
    with grpc.insecure_channel(server.grpc_url) as channel:
        try:
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(req, timeout=LIMIT_S)
        except grpc.RpcError as e:
            return str(e.code()), e.details()
    return "OK", ""


def refused(server, protocol: str, model: str, inputs: dict[str, tuple], params: dict) -> str:
    """Send one bad request; it must be a client error within LIMIT_S. Returns the message."""
    t0 = time.monotonic()
    if protocol == "grpc":
        code, msg = send_grpc(server, model, inputs, params)
        assert code == "StatusCode.INVALID_ARGUMENT", (code, msg)
    else:
        status, msg = send_http(server, model, inputs, params, protocol == "binary")
        assert status == 400, (status, msg)
    assert time.monotonic() - t0 < LIMIT_S
    return msg


def answer(server, protocol: str, model: str) -> list[np.ndarray]:
    """The model's good request through tritonclient (HTTP for json/binary, else gRPC)."""
    proto = "grpc" if protocol == "grpc" else "http"
    out = infer(url(server, proto), proto, model, {n: arr for n, (arr, _) in GOOD[model].items()},
                tuple(OUTPUTS[model]))
    return [out[o] for o in OUTPUTS[model]]


@pytest.fixture(scope="module")
def good(server):
    """Each model's answer to its good request before any hostile one."""
    return {model: answer(server, "grpc", model) for model in GOOD}


def still_good(server, good, protocol: str, model: str) -> None:
    for got, want in zip(answer(server, protocol, model), good[model]):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", SHAPES)
def test_bad_shapes(server, good, protocol, case):
    model, bad, words = SHAPES[case]
    msg = refused(server, protocol, model, {**GOOD[model], **bad}, {})
    assert words in msg, msg
    still_good(server, good, protocol, model)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("model, name, value", PARAM_CASES, ids=_id)
def test_bad_parameters(server, good, protocol, model, name, value):
    if protocol == "grpc" and isinstance(value, list):
        pytest.skip("gRPC request parameters cannot hold a list")
    msg = refused(server, protocol, model, GOOD[model], {name: value})
    assert name in msg, msg
    still_good(server, good, protocol, model)


# Hostile files (tests/codec_cases.py) and decompression bombs: refused from the header, or
# by the decoder for data the header does not show, without harming the next request.
FILE_CASES = {**HOSTILE,
              "png bomb 100000x100000": (png_with_header(100_000, 100_000), "over the size limit"),
              "jpeg bomb 65500x65500": (jpeg_with_frame(65_500, 65_500), "over the size limit"),
              "png 4097 wide": (png_with_header(4097, 1), "over the size limit")}
FILE_CASES.pop("empty")  # a zero-size tensor: SHAPES["empty file"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("model", ["background_blur_encoded", "background_blur_encoded_fused", "decode"])
@pytest.mark.parametrize("case", FILE_CASES)
def test_bad_files(server, good, protocol, model, case):
    f, words = FILE_CASES[case]
    msg = refused(server, protocol, model, {"ENCODED": file(f)}, {})
    assert "ENCODED" in msg and words in msg, msg
    still_good(server, good, protocol, model)


@pytest.mark.parametrize("protocol", ["binary", "grpc"])
def test_a_file_sent_as_bytes_is_refused(server, good, protocol):
    """BYTES tensors kill Triton 2.51's Python stub under NumPy 2 (docs/serving.md, Encoded
    images): Triton refuses them against the UINT8 config before a stub sees them."""
    f = np.array([[pil_file(image(8, 8)[0][0], "PNG")]], dtype=np.object_)
    msg = refused(server, protocol, "background_blur_encoded", {"ENCODED": (f, "BYTES")}, {})
    assert "BYTES" in msg and "UINT8" in msg, msg
    still_good(server, good, protocol, "background_blur_encoded")


# A step that fails while another step of the same request runs can crash Triton 2.51
# (a use-after-free fixed upstream in r26.02, triton-inference-server/core #483): a loop of
# such requests killed tritonserver within a hundred (background_blur_encoded with quality 0:
# encode refused it while encode_mask ran). Every bad request parameter is now refused by
# the pipeline's first step, alone (docs/pipelines.md); the loop must leave the server whole.
RACES = [("background_blur_encoded", {"ENCODED": JPEG}, {"quality": 0}),
         ("background_blur_encoded", {"ENCODED": JPEG}, {"format": "gif"}),
         ("background_blur_encoded", {"ENCODED": JPEG}, {"sigma": 1e9}),
         ("background_blur", {"IMAGE": image(40, 56)}, {"sigma": 1e9}),
         ("background_blur", {"IMAGE": image(40, 56)}, {"morph_ksize": 2})]


@pytest.mark.parametrize("model, inputs, params", RACES,
                         ids=[f"{m}-{next(iter(p))}" for m, _, p in RACES])
def test_a_burst_of_refusals_leaves_the_server_whole(server, good, model, inputs, params):
    before = len(server.events)
    for _ in range(150):
        assert list(params) == [n for n in params if n in refused(server, "grpc", model, inputs, params)]
    assert server.events[before:] == [], server.events[before:]
    still_good(server, good, "grpc", model)
