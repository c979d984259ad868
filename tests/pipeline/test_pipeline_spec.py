"""Pipeline specs: parsing errors, generation, and the editing commands."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serving.pipeline.repository import load_config
from serving.pipeline.ensemble import ensemble_config
from serving.pipeline.spec import SpecError, load_spec, parse_spec

from serving.paths import REPO_ROOT as ROOT

OP = """name: "{name}"
backend: "python"
max_batch_size: 8
input [{{ name: "IMAGE" data_type: TYPE_UINT8 dims: [-1, -1, 3] }}]
output [{{ name: "OUTPUT" data_type: TYPE_UINT8 dims: [-1, -1, 3] }}]
parameters {{ key: "strength" value {{ string_value: "1" }} }}
"""

SPEC = {
    "name": "chain", "max_batch_size": 4,
    "inputs": [{"name": "IMAGE", "dtype": "UINT8", "dims": [-1, -1, 3]}],
    "outputs": [{"name": "RESULT", "dtype": "UINT8", "dims": [-1, -1, 3]}],
    "steps": [
        {"model": "first", "inputs": {"IMAGE": "IMAGE"}, "outputs": {"OUTPUT": "mid"}},
        {"model": "second", "inputs": {"IMAGE": "mid"}, "outputs": {"OUTPUT": "RESULT"},
         "parameters": {"strength": "5"}},
    ],
}


@pytest.fixture
def workspace(tmp_path):
    repo, specs = tmp_path / "repo", tmp_path / "pipelines"
    for name in ("first", "second", "third"):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "config.pbtxt").write_text(OP.format(name=name))
        (repo / name / "1" / "model.py").write_text(f"# model {name}\n")
    specs.mkdir()
    (specs / "chain.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return repo, specs


def cli(workspace, *args):
    repo, specs = workspace
    return subprocess.run([sys.executable, "-m", "serving.pipeline", "--repository", str(repo),
                           "--specs", str(specs), *args], cwd=ROOT, capture_output=True, text=True)


def test_generate_writes_ensemble_and_parameter_copy(workspace):
    repo, _ = workspace
    r = cli(workspace, "generate")
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = load_config(repo / "chain" / "config.pbtxt")
    assert cfg.platform == "ensemble" and cfg.max_batch_size == 4
    assert [s.model_name for s in cfg.ensemble_scheduling.step] == ["first", "chain__second"]
    copy = load_config(repo / "chain__second" / "config.pbtxt")
    assert copy.name == "chain__second" and copy.parameters["strength"].string_value == "5"
    assert (repo / "chain__second" / "1" / "model.py").read_text() == "# model second\n"
    assert cli(workspace, "generate", "--check").returncode == 0
    (repo / "chain" / "config.pbtxt").write_text("# hand edit\n" + (repo / "chain" / "config.pbtxt").read_text())
    r = cli(workspace, "generate", "--check")
    assert r.returncode == 1 and "chain/config.pbtxt: differs" in r.stdout


def test_add_remove_and_set_param(workspace):
    repo, specs = workspace
    assert cli(workspace, "generate").returncode == 0
    r = cli(workspace, "add-step", "chain", "--model", "third", "--input", "IMAGE=mid",
            "--output", "OUTPUT=mid2", "--at", "1", "--param", "strength=9")
    assert r.returncode == 0, r.stdout + r.stderr
    assert load_config(repo / "chain__third" / "config.pbtxt").parameters["strength"].string_value == "9"
    spec = load_spec(specs / "chain.yaml")
    assert [s.model for s in spec.steps] == ["first", "third", "second"]
    r = cli(workspace, "remove-step", "chain", "--model", "third")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (repo / "chain__third").exists()
    r = cli(workspace, "set-param", "chain", "--model", "second", "--param", "strength=7")
    assert r.returncode == 0, r.stdout + r.stderr
    assert load_config(repo / "chain__second" / "config.pbtxt").parameters["strength"].string_value == "7"
    r = cli(workspace, "remove-step", "chain", "--index", "1")
    assert r.returncode == 1 and "output 'RESULT'" in r.stdout and "produced by no step" in r.stdout


def test_new_from_existing(workspace):
    repo, specs = workspace
    r = cli(workspace, "new", "variant", "--from", "chain")
    assert r.returncode == 0, r.stdout + r.stderr
    assert load_spec(specs / "variant.yaml").name == "variant"
    assert load_config(repo / "variant" / "config.pbtxt").name == "variant"
    assert cli(workspace, "new", "variant").returncode == 2


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.pop("steps"), "missing 'steps'"),
    (lambda d: d["inputs"][0].update(dtype="UINT9"), "inputs[0]: dtype 'UINT9'"),
    (lambda d: d["inputs"][0].update(dims=[0, 3]), "inputs[0]: dims"),
    (lambda d: d["steps"][1].update(inputs=["mid"]), "steps[1]: 'inputs' must be a dict"),
    (lambda d: d.update(max_batch_size=-1), "max_batch_size"),
])
def test_malformed_spec(mutate, words):
    import copy
    d = copy.deepcopy(SPEC)
    mutate(d)
    with pytest.raises(SpecError, match="x.yaml") as e:
        parse_spec(d, Path("x.yaml"))
    assert words in str(e.value)


def test_ensemble_config_round_trip():
    cfg = ensemble_config(parse_spec(SPEC))
    assert [t.name for t in cfg.input] == ["IMAGE"] and list(cfg.output[0].dims) == [-1, -1, 3]
    assert dict(cfg.ensemble_scheduling.step[0].input_map) == {"IMAGE": "IMAGE"}


def test_an_output_a_later_step_reads_gets_a_tee(workspace):
    """A spec whose output a later step also reads: its producer writes an internal tensor,
    a generated tee step right after it hands that on as the output and as the tensor the
    later step reads, and the repository validates (the hazard itself:
    test_pipeline_validate.py; on a real server: test_output_subsets.py)."""
    repo, specs = workspace
    spec = {**SPEC, "outputs": SPEC["outputs"] + [{"name": "MID", "dtype": "UINT8", "dims": [-1, -1, 3]}],
            "steps": [{**SPEC["steps"][0], "outputs": {"OUTPUT": "MID"}},
                      {**SPEC["steps"][1], "inputs": {"IMAGE": "MID"}}]}
    (specs / "chain.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    r = cli(workspace, "generate")
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = load_config(repo / "chain" / "config.pbtxt")
    steps = {s.model_name: s for s in cfg.ensemble_scheduling.step}
    assert list(steps) == ["first", "chain__tee_MID", "chain__second"]
    assert dict(steps["first"].output_map) == {"OUTPUT": "MID__produced"}
    assert dict(steps["chain__tee_MID"].input_map) == {"INPUT": "MID__produced"}
    assert dict(steps["chain__tee_MID"].output_map) == {"OUTPUT": "MID", "INTERNAL": "MID__internal"}
    assert dict(steps["chain__second"].input_map) == {"IMAGE": "MID__internal"}
    tee = load_config(repo / "chain__tee_MID" / "config.pbtxt")
    assert [(t.name, list(t.dims)) for t in (*tee.input, *tee.output)] == [
        ("INPUT", [-1, -1, 3]), ("OUTPUT", [-1, -1, 3]), ("INTERNAL", [-1, -1, 3])]
    assert "serving.tee import TeeModel" in (repo / "chain__tee_MID" / "1" / "model.py").read_text()
    # Once no step reads an output, its tee goes with the next edit.
    (specs / "chain.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    r = cli(workspace, "set-param", "chain", "--index", "1", "--param", "strength=6")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (repo / "chain__tee_MID").exists()
