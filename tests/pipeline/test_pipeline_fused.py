"""The fused background_blur model: committed files are what `fuse` generates, and its
outputs equal the ensemble's byte for byte on the real server."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from skimage import data

import ops
from serving.pipeline.fuse import fused_files
from serving.pipeline.cli import DEFAULT_REPO, DEFAULT_SPECS
from serving.pipeline.spec import load_spec


@pytest.mark.parametrize("spec_name", ["background_blur", "background_blur_encoded"])
def test_committed_fused_model_is_generated(spec_name):
    spec = load_spec(DEFAULT_SPECS / f"{spec_name}.yaml")
    for rel, text in fused_files(spec).items():
        assert (DEFAULT_REPO / rel).read_text() == text, \
            f"{rel} is stale: run python -m serving.pipeline fuse pipelines/{spec_name}.yaml"


def run(url, model, img, params=None):
    c = grpcclient.InferenceServerClient(url)
    i = grpcclient.InferInput("IMAGE", [1, *img.shape], "UINT8")
    i.set_data_from_numpy(np.ascontiguousarray(img[None]))
    r = c.infer(model, [i], parameters=params)
    return r.as_numpy("BLURRED"), r.as_numpy("MASK")


@pytest.mark.server
@pytest.mark.parametrize("size", [(512, 512), (300, 451), (57, 300)])
def test_fused_equals_ensemble(server, size):
    img = ops.resize(data.astronaut(), size)
    a = run(server.grpc_url, "background_blur", img)
    b = run(server.grpc_url, "background_blur_fused", img)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    p = {"sigma": 4, "threshold": 0.7}
    a = run(server.grpc_url, "background_blur", img, p)
    b = run(server.grpc_url, "background_blur_fused", img, p)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.server
def test_fused_rejects_bad_input(server):
    from tritonclient.utils import InferenceServerException
    with pytest.raises(InferenceServerException, match=r"IMAGE: shape \[1, 0, 4, 3\] is zero-size") as e:
        run(server.grpc_url, "background_blur_fused", np.zeros((0, 4, 3), np.uint8))
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"


def committed_steps(name="background_blur_fused"):
    from serving.pipeline.repository import load_config
    return load_config(DEFAULT_REPO / name / "config.pbtxt").parameters["pipeline_steps"].string_value


def test_the_fused_config_holds_each_steps_class_tensors_and_current_config():
    """What the stub runs is what the spec and the step models' configs say today."""
    import json

    from serving.fused import parse_steps
    from serving.pipeline.repository import load_config

    spec = load_spec(DEFAULT_SPECS / "background_blur.yaml")
    steps = parse_steps(committed_steps())
    assert [(s.model, dict(s.inputs), dict(s.outputs)) for s in steps] == \
        [(s.model, s.inputs, s.outputs) for s in spec.steps]
    blur = next(s for s in steps if s.model == "blur")
    on_disk = load_config(DEFAULT_REPO / "blur" / "config.pbtxt")
    assert {k: v["string_value"] for k, v in blur.config["parameters"].items()} == \
        {k: v.string_value for k, v in on_disk.parameters.items()}
    assert json.loads(committed_steps("background_blur_encoded_fused"))[0]["class"] == "decode"


@pytest.mark.parametrize("bad", [
    "[]", '{"model": "blur"}', "not json",
    '[{"model": "blur", "class": "nope", "inputs": {}, "outputs": {}, "config": {}}]',
    # A class of the catalog that is not an operator model: nothing a fused model can call.
    '[{"model": "b", "class": "baseline_cpu_pipeline", "inputs": {}, "outputs": {}, "config": {}}]',
    '[{"model": "blur", "class": "blur", "inputs": {"IMAGE": 3}, "outputs": {}, "config": {}}]',
])
def test_a_malformed_pipeline_steps_is_refused_at_load_naming_it(bad):
    from serving.fused import FusedModel, parse_steps

    parse_steps(committed_steps())  # the committed one parses
    params = {"pipeline_spec": "pipelines/background_blur.yaml", "pipeline_steps": bad}
    with pytest.raises(ValueError, match="FusedModel model m: parameter pipeline_steps: expected "
                                         "the JSON list `python -m serving.pipeline fuse` writes, got"):
        FusedModel.parse_parameters(params, "model m")


@pytest.mark.parametrize("step", ["someone_elses_model", "background_blur_fused"])
def test_fuse_refuses_a_step_that_is_not_an_operator_model(tmp_path, step):
    """Neither a model without a class of ours nor a fused model (an OpModel whose steps the
    stub would refuse at load) can be a fused model's step: said when fusing."""
    from serving.pipeline.fuse import fused_files
    from serving.pipeline.spec import SpecError, save_spec

    spec = load_spec(DEFAULT_SPECS / "background_blur.yaml")
    spec.steps[-1].model = step
    spec.path = tmp_path / "x.yaml"
    save_spec(spec, spec.path)
    with pytest.raises(SpecError, match=f"'{step}' is not one of this repository's operator models"):
        fused_files(spec)
