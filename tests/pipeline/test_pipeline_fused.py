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
