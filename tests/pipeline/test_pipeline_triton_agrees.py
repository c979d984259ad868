"""The validator and Triton agree: every mistake it reports makes Triton refuse the
ensemble too, and what it accepts Triton loads (real tritonserver, explicit model control)."""
import pytest
import tritonclient.http as http

from serving.pipeline.validate import validate_repository
from tests.pipeline.test_pipeline_validate import make_repo

pytestmark = pytest.mark.server

MODEL_PY = '''
import triton_python_backend_utils as pb_utils
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT",
                pb_utils.get_input_tensor_by_name(r, "IMAGE").as_numpy())]) for r in requests]
'''


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    from serving.server import EmbeddedServer

    repo = tmp_path_factory.mktemp("repo")
    with EmbeddedServer(repository=repo, extra_args=["--model-control-mode=explicit",
                                                     "--log-error=false"]) as server:
        client = http.InferenceServerClient(server.http_url)
        yield client, repo
        client.close()


def _load(client, repo, **kwargs):
    import shutil
    from tritonclient.utils import InferenceServerException

    for d in repo.iterdir():
        shutil.rmtree(d)
    make_repo(repo, **kwargs)
    for name in ("first", "second"):
        (repo / name / "1").mkdir()
        (repo / name / "1" / "model.py").write_text(MODEL_PY)
    (repo / "chain" / "1").mkdir()
    try:
        client.load_model("chain")
        client.unload_model("chain", unload_dependents=True)
        return None
    except InferenceServerException as e:
        return str(e)


CASES = [{}, {"second_in": "mdi"}, {"first": "frist"}, {"second_key": "IMAGES"},
         {"out_type": "TYPE_FP32"}, {"second_out": "RESLUT"}, {"mbs": 16}, {"first_in": "mid"}]


@pytest.mark.parametrize("kwargs", CASES, ids=[",".join(c) or "valid" for c in CASES])
def test_validator_agrees_with_triton(triton, tmp_path, kwargs):
    client, repo = triton
    ours = validate_repository(make_repo(tmp_path, **kwargs))
    theirs = _load(client, repo, **kwargs)
    assert (not ours) == (theirs is None), f"validator: {ours}\ntriton: {theirs}"
