"""OpModel's configuration and request handling, outside Triton (the Triton side is in
test_serving.py against the real server)."""
import numpy as np
import pytest

from serving.base import MAX_SIDE, RequestError, check_image, parse_floats
from serving.models import BlurModel, ResizeModel, TensorToMaskModel, resize_target


def config(name, **params):
    return {"name": name, "parameters": {k: {"string_value": v} for k, v in params.items()}}


def test_parameters_are_typed_and_unknown_ones_refused():
    m = BlurModel.from_config(config("blur", sigma="7.5", downscale="2"))
    assert m.params == {"sigma": 7.5, "downscale": 2, "require_device": "none"}
    with pytest.raises(ValueError, match="unknown parameter.*sigmaa.*known: downscale, require_device, sigma"):
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
