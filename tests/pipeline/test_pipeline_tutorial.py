"""Every command of the tutorial in docs/pipelines.md, run as written in a copy of the
repository, against a real server started as the tutorial says."""
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from serving.server import EmbeddedServer

from serving.paths import REPO_ROOT as ROOT
pytestmark = pytest.mark.server


def tutorial_commands():
    text = (ROOT / "docs" / "pipelines.md").read_text()
    return [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("$ ")]


@pytest.fixture
def copy(tmp_path):
    for d in ("ops", "serving", "segmentation", "clients", "pipelines", "model_repository"):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run(cmd, cwd, http=None, grpc=None, expect=0):
    if http:
        cmd = cmd.replace("127.0.0.1:8000", http).replace("127.0.0.1:8001", grpc)
    argv = shlex.split(cmd)
    assert argv[0] == "python"
    r = subprocess.run([sys.executable, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == expect, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


def test_tutorial(copy):
    cmds = tutorial_commands()
    assert len(cmds) >= 8
    server_cmd = next(c for c in cmds if c.startswith("python -m serving.server"))
    before = cmds[:cmds.index(server_cmd)]
    after = cmds[cmds.index(server_cmd) + 1:]
    for cmd in before:
        run(cmd, copy)
    spec = (copy / "pipelines" / "my_blur.yaml").read_text()
    assert "mask_closed" in spec and "sigma: '20'" in spec
    extra = shlex.split(server_cmd.split(" -- ", 1)[1])
    with EmbeddedServer(repository=copy / "model_repository", extra_args=extra) as server:
        for cmd in after:
            run(cmd, copy, server.http_url, server.grpc_url)
        out = copy / "out" / "my_blur"
        blurred = np.asarray(Image.open(out / "astronaut.png"))
        mask = np.asarray(Image.open(out / "astronaut_mask.png"))
        assert blurred.shape == (512, 512, 3) and 0.45 < (mask > 0).mean() < 0.65
        import tritonclient.http as http
        client = http.InferenceServerClient(server.http_url)
        assert client.is_model_ready("my_blur_fused")
        client.close()


def test_typo_example(copy):
    cmd = next(c for c in tutorial_commands() if "add-step" in c)
    run(next(c for c in tutorial_commands() if " new " in c), copy)
    typo = cmd.replace("--input MASK=MASK", "--input MASK=MAKS").replace(" --reroute MASK", "")
    r = run(typo, copy, expect=1)
    assert re.search(r"step \d+ \(my_blur__morphology\): reads tensor 'MAKS'.*did you mean 'MASK'", r.stdout), r.stdout


def test_model_swap_example(copy):
    """The commands of docs/segmentation-model.md's swap example produce a valid pipeline
    whose steps carry the new contract."""
    text = (ROOT / "docs" / "segmentation-model.md").read_text()
    block = text[text.index("## Swapping"):].split("```sh", 1)[1].split("```", 1)[0]
    for cmd in [c.strip() for c in block.splitlines() if c.strip()]:
        run(cmd, copy)
    from serving.pipeline.repository import load_config
    repo = copy / "model_repository"
    assert load_config(repo / "my_seg__pad" / "config.pbtxt").parameters["height"].string_value == "320"
    itt = load_config(repo / "my_seg__image_to_tensor" / "config.pbtxt").parameters
    assert itt["swap_rb"].string_value == "true" and itt["mean"].string_value == "0.485 0.456 0.406"
    run("python -m serving.pipeline validate", copy)
