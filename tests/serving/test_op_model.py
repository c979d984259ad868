"""OpModel's configuration and request handling, outside Triton (the Triton side is in
tests/integration/test_ensembles.py against the real server)."""
import numpy as np
import pytest

from serving.requests import MAX_SIDE, RequestError, check_image
from serving.params import parse_floats
from serving.paths import REPO_ROOT
from serving.models import BlurModel, ResizeModel, TensorToMaskModel
from serving.models.geometry import resize_target
from tests.serving.triton_standins import FakeRequest, FakeResponses


def config(name, **params):
    return {"name": name, "parameters": {k: {"string_value": v} for k, v in params.items()}}


def test_parameters_are_typed_and_unknown_ones_refused():
    m = BlurModel.from_config(config("blur", sigma="7.5", downscale="2"))
    assert m.params == {"sigma": 7.5, "downscale": 2, "require_device": "none", "device_cache_mib": 256}
    with pytest.raises(ValueError, match="unknown parameter.*sigmaa.*known: device_cache_mib, downscale, require_device, sigma"):
        BlurModel.from_config(config("blur", sigmaa="3"))
    with pytest.raises(ValueError, match="parameter mode: expected one of fit, stretch"):
        ResizeModel.from_config(config("resize", mode="crop"))


def test_request_overrides_only_what_is_overridable():
    m = TensorToMaskModel.from_config(config("tensor_to_mask"))
    p = m.request_params({"threshold": 0.3, "activation": "sigmoid", "sigma": 4})
    assert p["threshold"] == 0.3 and p["activation"] == "none"  # activation is not overridable
    with pytest.raises(RequestError, match="request parameter morph_ksize"):
        m.request_params({"morph_ksize": "five"})


def test_compute_outside_triton_groups_sizes():
    m = ResizeModel.from_config(config("resize"))
    imgs = [np.zeros((512, 512, 3), np.uint8), np.zeros((300, 600, 3), np.uint8)]
    outs = m.run_items([{"IMAGE": i} for i in imgs], m.params)
    assert [o["RESIZED"].shape for o in outs] == [(256, 256, 3), (128, 256, 3)]
    assert [list(o["SRC_SIZE"]) for o in outs] == [[512, 512], [300, 600]]


def test_resize_targets():
    p = {"height": 256, "width": 256, "mode": "fit"}
    assert resize_target(720, 1280, p) == (144, 256)
    assert resize_target(300, 451, {**p, "mode": "shorter_side"}) == (256, 384)
    assert resize_target(451, 300, {**p, "mode": "shorter_side"}) == (384, 256)
    assert resize_target(7, 9, {**p, "mode": "stretch"}) == (256, 256)


def test_check_image_messages():
    check_image(np.zeros((2, 2, 3), np.uint8))
    for shape, words in [((2, 2, 1), "expected an (H, W, 3) image"), ((0, 2, 3), "height and width > 0"),
                         ((MAX_SIDE + 1, 1, 3), "over the size limit")]:
        with pytest.raises(RequestError, match=words.replace("(", r"\(").replace(")", r"\)")):
            check_image(np.zeros(shape, np.uint8))


def test_parse_floats():
    assert parse_floats("1/255") == (1 / 255,)
    assert parse_floats("0.485, 0.456 0.406") == (0.485, 0.456, 0.406)
    with pytest.raises(ValueError):
        parse_floats("")


# -- request limits (docs/serving.md, Request limits) ------------------------------------------

def every_param():
    from serving.pipeline.limits_table import op_models
    return [(cls, name, p) for cls in op_models().values() for name, p in cls.PARAMETERS.items()]


def fused_parameters():
    """The committed background_blur_fused config's own parameters (both required)."""
    from serving.paths import MODEL_REPOSITORY
    from serving.pipeline.repository import load_config
    cfg = load_config(MODEL_REPOSITORY / "background_blur_fused" / "config.pbtxt")
    return {k: cfg.parameters[k].string_value for k in ("pipeline_spec", "pipeline_steps")}


def outside(p):
    """Config strings each Param must refuse: out of its range, not finite, of another type."""
    from serving.params import Bounds
    bad = ["nan", "inf", "-inf", "[1, 2]", "five"]
    bad += [] if p.expected == "true or false" else ["True"]
    bad += [] if "or none" in p.expected else [""]  # '' reads as none there
    b = p.bounds
    if isinstance(b, Bounds):
        integer = "integer" in p.expected
        step = 1 if integer else 0.5
        bad += [str(b.lo if b.lo_open else b.lo - step), str(b.hi if b.hi_open else b.hi + step),
                "1e9", "-1e9"]
        if integer:
            bad += ["2.5", "1e3", "5.0"]
        if "three" in p.expected:
            bad += ["1 2", "1 2 3 4"]
    return [v for v in bad if v != p.default]


@pytest.mark.parametrize("cls, name, p", every_param(),
                         ids=[f"{c.__name__}.{n}" for c, n, _ in every_param()])
def test_every_parameter_refuses_what_its_range_excludes(cls, name, p):
    """At load (config) and per request (overridable ones) alike, with one wording: the
    parameter, the values it allows, the value given."""
    # What the config must give (no default): the fused model's spec.
    base = fused_parameters() if "pipeline_spec" in cls.PARAMETERS else {}
    cls.parse_parameters({**base, name: p.default or base.get(name, "")})
    for text in outside(p):
        with pytest.raises(ValueError) as e:
            cls.parse_parameters({**base, name: text}, "model m")
        assert str(e.value) == f"{cls.__name__} model m: parameter {name}: expected {p.accepts}, got {text!r}"
    if not p.overridable:
        return
    m = cls.__new__(cls)
    m.params = cls.parse_parameters(base)
    request_values = [float("nan"), float("inf"), -1, True, "five", 1e9, -1e9, 10**30]
    if "integer" in p.expected:
        request_values += [3.0, 2.5]
    for v in request_values:
        with pytest.raises(RequestError) as e:
            m.request_params({name: v})
        assert str(e.value) == f"request parameter {name}: expected {p.accepts}, got {v!r}"


def test_ranges_take_their_ends_and_typed_request_values():
    m = BlurModel.from_config(config("blur", sigma="128", downscale="32"))
    assert (m.params["sigma"], m.params["downscale"]) == (128.0, 32)
    assert m.request_params({"sigma": 4, "downscale": "2"})["sigma"] == 4.0
    assert m.request_params({"sigma": "0.5"})["sigma"] == 0.5  # perf_analyzer sends strings
    t = TensorToMaskModel.from_config(config("tensor_to_mask"))
    assert t.request_params({"threshold": "none"})["threshold"] is None
    assert [t.request_params({"morph_ksize": k})["morph_ksize"] for k in (0, 1, 21)] == [0, 1, 21]
    with pytest.raises(RequestError, match=r"expected a number in \(0, 128\], got 1000000000.0"):
        m.request_params({"sigma": 1e9})
    with pytest.raises(ValueError, match=r"blur: parameter sigma: expected a number in \(0, 128\], got '1e9'"):
        BlurModel.from_config(config("blur", sigma="1e9"))


def test_limits_table_in_the_docs_is_the_code_s():

    from serving.pipeline.limits_table import limits_table
    docs = (REPO_ROOT / "docs" / "serving.md").read_text()
    assert limits_table() in docs, "docs/serving.md: paste `python -m serving.pipeline.limits_table` (Request limits)"


BIG = 2 ** 32
SHAPES = {  # (model, tensors) -> words of the refusal
    "wrapped byte size": ("upload", {"IMAGE": [1, BIG, BIG, 3]}, "IMAGE: shape [1, 4294967296, 4294967296, 3]: dim 1 = 4294967296 is over the size limit of 4096"),
    "zero-size": ("upload", {"IMAGE": [1, 0, 8, 3]}, "IMAGE: shape [1, 0, 8, 3] is zero-size: expected [1..16, ?, ?, 3] with ? in 1..4096"),
    "4097 wide": ("resize", {"IMAGE": [1, 2, 4097, 3]}, "dim 2 = 4097 is over the size limit of 4096"),
    "batch 0": ("upload", {"IMAGE": [0, 8, 8, 3]}, "batch size 0 is outside 1..16"),
    "batch 17": ("upload", {"IMAGE": [17, 8, 8, 3]}, "batch size 17 is outside 1..16"),
    "rank 3": ("upload", {"IMAGE": [1, 8, 8]}, "IMAGE: expected a shape [1..16, ?, ?, 3] with ? in 1..4096, got [1, 8, 8] (rank 3)"),
    "4 channels": ("upload", {"IMAGE": [1, 8, 8, 4]}, "got [1, 8, 8, 4] (dim 3)"),
    "negative": ("upload", {"IMAGE": [1, -1, 8, 3]}, "zero-size"),
    "missing input": ("blur", {"IMAGE": [1, 8, 8, 3]}, "input MASK is missing"),
    "batch mismatch": ("blur", {"IMAGE": [2, 8, 8, 3], "MASK": [1, 8, 8]}, "MASK: shape [1, 8, 8]: batch size 1 differs from the other inputs' 2"),
    "fused": ("background_blur_fused", {"IMAGE": [1, BIG, BIG, 3]}, "dim 1 = 4294967296 is over the size limit of 4096"),
    "too many values": ("tensor_to_mask", {"PROB": [1, 4096, 4096, 8], "ROI": [1, 4], "SRC_SIZE": [1, 2]},
                        "PROB: shape [1, 4096, 4096, 8] holds 134217728 values per item, over the limit of 67108864"),
}


@pytest.fixture(scope="module")
def repository_models(repository_model):
    return {name: repository_model(name) for name in {m for m, _, _ in SHAPES.values()}}


@pytest.mark.parametrize("case", SHAPES)
def test_declared_shapes_are_refused_before_the_data_is_read(repository_models, case):
    model, shapes, words = SHAPES[case]
    request = FakeRequest(**shapes)
    with pytest.raises(RequestError) as e:
        repository_models[model]._read_request(request)
    assert words in str(e.value)


def test_request_parameters_that_are_not_json_are_a_client_error(repository_model):
    m = repository_model("upload")
    with pytest.raises(RequestError, match="request parameters: not a JSON object"):
        m._read_request(FakeRequest("{nope", IMAGE=[1, 8, 8, 3]))


def test_per_image_ranges(repository_model):
    blur = BlurModel.from_config(config("blur"))
    small = {"IMAGE": np.zeros((8, 20, 3), np.uint8), "MASK": np.zeros((8, 20), np.uint8)}
    # Any sigma in range serves any size (no range depends on the image: docs/pipelines.md).
    blur.validate(small, blur.request_params({"sigma": 128}))
    with pytest.raises(RequestError, match=r"MASK: expected shape \(8, 20\), got \(8, 21\)"):
        blur.validate({**small, "MASK": np.zeros((8, 21), np.uint8)}, blur.params)

    t2m = TensorToMaskModel.from_config(config("tensor_to_mask", channel="1"))
    item = {"PROB": np.zeros((1, 8, 8), np.float32), "ROI": np.array([0, 0, 8, 8], np.int32),
            "SRC_SIZE": np.array([8, 8], np.int32)}
    with pytest.raises(RequestError, match="channel: expected a channel index below PROB's K = 1, got 1"):
        t2m.validate(item, t2m.params)
    t2m = TensorToMaskModel.from_config(config("tensor_to_mask"))
    for key, value, words in [("ROI", [4, 0, 5, 8], "ROI: expected .* inside the 8x8 PROB"),
                              ("ROI", [0, 0, 0, 8], "ROI"),
                              ("SRC_SIZE", [100000, 100000], r"SRC_SIZE: expected \(H, W\) in 1..4096"),
                              ("SRC_SIZE", [0, 5], "SRC_SIZE")]:
        with pytest.raises(RequestError, match=words):
            t2m.validate({**item, key: np.array(value, np.int32)}, t2m.params)

    resize = ResizeModel.from_config(config("resize", mode="shorter_side"))
    with pytest.raises(RequestError, match="1x4096 would resize to 256x1048576, over the size limit"):
        resize.validate({"IMAGE": np.zeros((1, 4096, 3), np.uint8)}, resize.params)

    unet = repository_model("unet")
    with pytest.raises(RequestError, match=r"INPUT: expected \(3, 256, 256\), the network's input, got \(3, 8, 8\)"):
        unet.validate({"INPUT": np.zeros((3, 8, 8), np.float32)}, unet.params)


# -- encoded files: optional inputs, another length limit, padded outputs -------------------
def test_request_shapes_optional_inputs_and_file_limits():
    from serving.requests import MAX_ITEM_VALUES, RequestError, ShapeRules
    config = {"max_batch_size": 4, "input": [
        {"name": "IMAGE", "dims": [-1, -1, 3]},
        {"name": "SOURCE", "dims": [-1], "optional": True}]}
    ShapeRules(config).check({"IMAGE": [1, 8, 8, 3], "SOURCE": None})
    with pytest.raises(RequestError, match="input IMAGE is missing"):
        ShapeRules(config).check({"IMAGE": None, "SOURCE": [1, 10]})
    with pytest.raises(RequestError, match="over the size limit of 4096"):
        ShapeRules(config).check({"IMAGE": [1, 8, 8, 3], "SOURCE": [1, 5000]})
    limits = {"SOURCE": MAX_ITEM_VALUES}
    ShapeRules(config, limits).check({"IMAGE": [1, 8, 8, 3], "SOURCE": [1, MAX_ITEM_VALUES]})
    with pytest.raises(RequestError, match=f"over the size limit of {MAX_ITEM_VALUES}"):
        ShapeRules(config, limits).check({"IMAGE": [1, 8, 8, 3], "SOURCE": [1, MAX_ITEM_VALUES + 1]})


def test_request_slice_pads_files_and_refuses_mixed_shapes():
    from serving.items import request_slice
    from serving.requests import RequestError
    files = [np.arange(1, 4, dtype=np.uint8), np.arange(1, 6, dtype=np.uint8), np.ones(2, np.uint8)]
    got = request_slice(files, 0, 3)
    np.testing.assert_array_equal(got, [[1, 2, 3, 0, 0], [1, 2, 3, 4, 5], [1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(request_slice(files, 1, 1), [[1, 2, 3, 4, 5]])  # alone: as is
    images = [np.zeros((4, 5, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)]
    with pytest.raises(RequestError, match="different shapes"):
        request_slice(images, 0, 2)


@pytest.mark.parametrize("model", ["decode", "background_blur_encoded_fused"])
def test_a_file_only_the_decoder_refuses_fails_alone_in_one_batch(model, monkeypatch, repository_model):
    """7 good files and a PNG whose data (not header) is corrupt, in one execute(): ONE decode
    of all 8, the good requests answered, the bad one a client error (no rerun)."""
    import ops
    import serving.triton_instance as instance
    from serving.base import OUTSIDE_TRITON
    from serving.placement import Placer, PlacementCounters
    from tests.codec_cases import CORRUPT_PNG, PHOTOS, pil_file

    m = repository_model(model)
    m.placer = Placer(OUTSIDE_TRITON, PlacementCounters(model, "0"), m.HOST_TENSORS, m.ENTRY_INPUTS)
    calls, real = [], ops.decode
    monkeypatch.setattr(ops, "decode", lambda files, **kw: calls.append(len(files)) or real(files, **kw))
    monkeypatch.setattr(instance, "to_triton", lambda pb_utils, name, value, *_: (name, tuple(value.shape)))
    files = [pil_file(ops.resize(PHOTOS["coffee"], (60 + i, 80)), "JPEG") for i in range(7)]
    files.insert(3, CORRUPT_PNG)
    reqs = [(i, [{"ENCODED": np.frombuffer(f, np.uint8)}], []) for i, f in enumerate(files)]
    responses = [None] * len(reqs)
    m._respond_to_group(FakeResponses, m.request_params({}), reqs, responses)
    assert calls == [8]
    assert responses[3].error.code == "INVALID_ARG" and "corrupt PNG" in responses[3].error.message
    for i, r in enumerate(responses):
        if i != 3:
            assert r.error is None and len(r.tensors) == len(m.OUTPUTS), (i, r.error and r.error.message)


@pytest.mark.parametrize("model", ["decode", "background_blur_encoded_fused"])
def test_each_file_header_is_read_once_and_a_bomb_is_refused_before_decoding(model, monkeypatch, repository_model):
    """validate and compute of a request's files together probe each header once (ops.decode
    does, before it allocates a pixel); a decompression bomb and a file of another format
    are client errors naming ENCODED, and only the good files reach the decoder."""
    import ops
    import ops.codec as codec
    import ops.codec_cv as codec_cv
    import serving.triton_instance as instance
    from serving.base import OUTSIDE_TRITON
    from serving.placement import Placer, PlacementCounters
    from tests.codec_cases import PHOTOS, pil_file, png_with_header

    m = repository_model(model)
    m.placer = Placer(OUTSIDE_TRITON, PlacementCounters(model, "0"), m.HOST_TENSORS, m.ENTRY_INPUTS)
    probed, real_probe = [], codec.probe
    monkeypatch.setattr(codec, "probe", lambda b, *a, **kw: probed.append(len(b)) or real_probe(b, *a, **kw))
    decoded, real_decode = [], codec_cv.cv_decode
    monkeypatch.setattr(codec_cv, "cv_decode", lambda buf: decoded.append(len(buf)) or real_decode(buf))
    monkeypatch.setattr(instance, "to_triton", lambda pb_utils, name, value, *_: (name, tuple(value.shape)))
    good = [pil_file(ops.resize(PHOTOS["coffee"], (60 + i, 80)), "JPEG") for i in range(3)]
    files = good[:1] + [png_with_header(100_000, 100_000), b"GIF89a" + bytes(32)] + good[1:]
    params = m.request_params({})
    reqs = [(i, [{"ENCODED": np.frombuffer(f, np.uint8)}], []) for i, f in enumerate(files)]
    for _, items, _ in reqs:
        m.validate(items[0], params)
    responses = [None] * len(reqs)
    m._respond_to_group(FakeResponses, params, reqs, responses)
    assert sorted(probed) == sorted(map(len, files))
    assert sorted(decoded) == sorted(map(len, good))
    for i, words in ((1, "over the size limit"), (2, "a GIF")):
        e = responses[i].error
        assert e.code == "INVALID_ARG" and "ENCODED" in e.message and words in e.message, e.message
    for i in (0, 3, 4):
        assert responses[i].error is None, responses[i].error.message


@pytest.mark.parametrize("params, words", [
    ({"sigma": "12", "sigmaa": "3"}, "unknown parameter(s) sigmaa"),
    ({"sigma": "0"}, "parameter sigma"),
    ({"threshold": "none"}, "got 'none'"),
])
def test_baseline_config_is_checked_like_the_op_models(params, words):
    """The baseline's config goes through the op models' parameter parsing: an unknown name
    or a value out of range fails its load, naming it."""
    import json

    from segmentation.build import DEFAULT_OUT
    from serving.baseline import BaselineCpuPipeline
    from serving.pipeline.operators import model_config
    from google.protobuf import json_format

    config = json_format.MessageToDict(model_config(BaselineCpuPipeline, "baseline_cpu_pipeline"),
                                       preserving_proto_field_name=True)
    config["parameters"].update({k: {"string_value": v} for k, v in params.items()})
    args = {"model_config": json.dumps(config),
            "model_repository": str(DEFAULT_OUT.parents[2] / "baseline_cpu_pipeline")}
    with pytest.raises(ValueError, match="baseline_cpu_pipeline") as e:
        BaselineCpuPipeline().initialize(args)
    assert words in str(e.value)


def test_request_parameters_are_parsed_once_per_text_in_a_bounded_cache(repository_model):
    from serving.request_params import PARAMETER_CACHE
    m = repository_model("blur")
    params, key = m.parameters_of('{"sigma": 4}')
    assert params["sigma"] == 4.0 and m.parameters_of('{"sigma": 4}') == (params, key)
    assert m.parameters_of("") == m.parameters_of("{}")  # Triton's text for none
    assert m.parameters_of('{"sigma": 4.0}')[1] == key  # equal values share a key
    for k in range(3 * PARAMETER_CACHE):  # a client sending ever new texts
        assert m.parameters_of(f'{{"sigma": {1 + k % 100}, "n": {k}}}')[0]["sigma"] == 1 + k % 100
        assert len(m._request_params) <= PARAMETER_CACHE
    # Another model's request parameter is checked by every step (the pipeline's first
    # refuses it), a name no model takes is ignored.
    up = repository_model("upload")
    with pytest.raises(RequestError, match="request parameter quality"):
        up.parameters_of('{"quality": 0}')
    assert "colour" not in up.parameters_of('{"colour": "red"}')[0]
