"""The validator and Triton agree: every mistake it reports makes Triton refuse the
ensemble too, and what it accepts Triton loads (real tritonserver, explicit model control)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serving.pipeline.validate import validate_repository
from tests.test_pipeline_validate import make_repo

pytestmark = pytest.mark.server

MODEL_PY = '''
import triton_python_backend_utils as pb_utils
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT",
                pb_utils.get_input_tensor_by_name(r, "IMAGE").as_numpy())]) for r in requests]
'''


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    import tritonclient.http as http

    import importlib.util
    spec = importlib.util.find_spec("pytriton")
    if spec is None:
        pytest.skip("tritonserver is not installed (run `make triton`)")
    root = Path(spec.submodule_search_locations[0]) / "tritonserver"
    repo = tmp_path_factory.mktemp("repo")
    ports = [_free_port() for _ in range(3)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(
        [str(root / "bin" / "tritonserver"), f"--model-repository={repo}",
         f"--backend-directory={root / 'backends'}", "--model-control-mode=explicit",
         "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", f"--http-port={ports[0]}",
         f"--grpc-port={ports[1]}", f"--metrics-port={ports[2]}", "--log-error=false", "--exit-timeout-secs=5"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = http.InferenceServerClient(f"127.0.0.1:{ports[0]}")
    for _ in range(120):
        try:
            if client.is_server_live():
                break
        except Exception:
            pass
        time.sleep(0.25)
    yield client, repo
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
