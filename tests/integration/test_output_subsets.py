"""Every pipeline of the repository (its ensembles and fused models) on the real server
answers a request for any subset of its outputs, over HTTP and gRPC: exactly the outputs
asked for, each equal to the same output of a request for all of them.

Triton prunes the step that makes an ensemble output a request does not ask for, even when
a later step reads it; background_blur asked for BLURRED alone failed with "unexpected
deadlock" until its MASK got a tee step (serving/tee.py, docs/pipelines.md)."""
import itertools

import numpy as np
import pytest

from clients.api import connect
from serving.pipeline.repository import load_repository
from serving.paths import MODEL_REPOSITORY
from tests.codec_cases import PHOTOS, pil_file
from tests.helpers import url

pytestmark = pytest.mark.server

PHOTO = np.ascontiguousarray(PHOTOS["astronaut"][::4, ::4])  # 128 x 128, a person


def pipelines() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (input names, output names) of every ensemble and fused model."""
    models, _ = load_repository(MODEL_REPOSITORY)
    return {name: ([t.name for t in e.config.input], [t.name for t in e.config.output])
            for name, e in sorted(models.items())
            if e.is_ensemble or "pipeline_spec" in e.config.parameters}


PIPELINES = pipelines()
SUBSETS = [(model, subset) for model, (_, outputs) in PIPELINES.items()
           for k in range(1, len(outputs) + 1) for subset in itertools.combinations(outputs, k)]


def request_input(name: str) -> np.ndarray:
    """A batch of one: the photo's pixels, or the photo as a JPEG file."""
    if name == "ENCODED":
        return np.frombuffer(pil_file(PHOTO, "JPEG", quality=90), np.uint8)[None]
    return PHOTO[None]


def ask(server, protocol: str, model: str, outputs) -> dict[str, np.ndarray]:
    """One request for ``outputs``: every output the server answered, by name."""
    mod, client, per_request = connect(url(server, protocol), protocol, 60)
    try:
        inputs = []
        for name in PIPELINES[model][0]:
            x = request_input(name)
            i = mod.InferInput(name, list(x.shape), "UINT8")
            i.set_data_from_numpy(x)
            inputs.append(i)
        r = client.infer(model, inputs, outputs=[mod.InferRequestedOutput(o) for o in outputs],
                         **per_request)
        answered = r.get_response()
        names = ([o["name"] for o in answered["outputs"]] if protocol == "http"
                 else [o.name for o in answered.outputs])
        return {n: r.as_numpy(n) for n in names}
    finally:
        client.close()


def test_every_pipeline_is_covered():
    assert {"background_blur", "background_blur_encoded", "classification_preprocess",
            "background_blur_fused", "background_blur_encoded_fused"} <= set(PIPELINES)


@pytest.fixture(scope="module")
def full(server):
    """Each pipeline's answer to a request for all its outputs (over gRPC)."""
    return {model: ask(server, "grpc", model, outputs) for model, (_, outputs) in PIPELINES.items()}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("model, subset", SUBSETS, ids=lambda v: "+".join(v) if isinstance(v, tuple) else v)
def test_any_subset_of_outputs(server, full, protocol, model, subset):
    got = ask(server, protocol, model, subset)
    assert sorted(got) == sorted(subset)
    for name in subset:
        np.testing.assert_array_equal(got[name], full[model][name], err_msg=f"{model} {name}")
