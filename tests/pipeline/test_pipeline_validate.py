"""`serving.pipeline validate` on small repositories with one deliberate mistake each."""
import subprocess
import sys

import pytest

from serving.pipeline.validate import validate_repository

from serving.paths import REPO_ROOT as ROOT

OP = """
name: "{name}"
backend: "python"
max_batch_size: 8
input [{{ name: "IMAGE" data_type: TYPE_UINT8 dims: [-1, -1, 3] }}]
output [{{ name: "OUTPUT" data_type: {out_type} dims: [-1, -1, 3] }}]
"""

ENSEMBLE = """
name: "chain"
platform: "ensemble"
max_batch_size: {mbs}
input [{{ name: "IMAGE" data_type: TYPE_UINT8 dims: [-1, -1, 3] }}]
output [{{ name: "RESULT" data_type: TYPE_UINT8 dims: [-1, -1, 3] }}]
ensemble_scheduling {{
  step [
    {{ model_name: "{first}" model_version: -1
      input_map {{ key: "IMAGE" value: "{first_in}" }}
      output_map {{ key: "OUTPUT" value: "mid" }} }},
    {{ model_name: "second" model_version: -1
      input_map {{ key: "{second_key}" value: "{second_in}" }}
      output_map {{ key: "OUTPUT" value: "{second_out}" }} }}
  ]
}}
"""


def make_repo(tmp_path, out_type="TYPE_UINT8", mbs=8, first="first", first_in="IMAGE",
              second_key="IMAGE", second_in="mid", second_out="RESULT"):
    for name, t in (("first", out_type), ("second", "TYPE_UINT8")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text(OP.format(name=name, out_type=t))
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "config.pbtxt").write_text(ENSEMBLE.format(
        mbs=mbs, first=first, first_in=first_in, second_key=second_key,
        second_in=second_in, second_out=second_out))
    return tmp_path


def test_valid_chain(tmp_path):
    assert validate_repository(make_repo(tmp_path)) == []


@pytest.mark.parametrize("kwargs, words", [
    ({"second_in": "mdi"}, ["step 1 (second)", "'mdi'", "did you mean 'mid'"]),
    ({"first": "frist"}, ["step 0 (frist)", "does not exist", "did you mean 'first'"]),
    ({"second_key": "IMAGES"}, ["'IMAGES' is not an input of second", "did you mean 'IMAGE'"]),
    ({"out_type": "TYPE_FP32"}, ["step 1 (second)", "wants UINT8", "is FP32"]),
    ({"second_out": "RESLUT"}, ["output 'RESULT'", "produced by no step", "did you mean 'RESLUT'"]),
    ({"mbs": 16}, ["max_batch_size 16 exceeds"]),
    ({"first_in": "mid"}, ["form a cycle"]),
])
def test_each_mistake_is_named(tmp_path, kwargs, words):
    problems = validate_repository(make_repo(tmp_path, **kwargs))
    text = "\n".join(problems)
    assert problems, "the mistake was not found"
    assert str(tmp_path / "chain" / "config.pbtxt") in text
    for w in words:
        assert w in text, f"{w!r} missing from:\n{text}"


def test_unparsable_config(tmp_path):
    make_repo(tmp_path)
    (tmp_path / "second" / "config.pbtxt").write_text('name: "second"\nmax_batch_size: eight\n')
    text = "\n".join(validate_repository(tmp_path))
    assert "second/config.pbtxt" in text and "max_batch_size" in text


def test_cli_exit_codes(tmp_path):
    (tmp_path / "good").mkdir()
    good = make_repo(tmp_path / "good")
    r = subprocess.run([sys.executable, "-m", "serving.pipeline", "validate", str(good)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "bad").mkdir()
    bad = make_repo(tmp_path / "bad", second_in="mdi")
    r = subprocess.run([sys.executable, "-m", "serving.pipeline", "validate", str(bad)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1
    assert "did you mean 'mid'" in r.stdout + r.stderr


def test_unknown_parameter_of_a_real_model(repo):
    from serving.pipeline.repository_models import known_parameters
    assert validate_repository(repo, known_parameters) == []
    cfg = repo / "blur" / "config.pbtxt"
    cfg.write_text(cfg.read_text().replace('key: "sigma"', 'key: "sigmaa"'))
    problems = validate_repository(repo, known_parameters)
    assert problems == [f"{cfg}: parameter 'sigmaa' is not understood by blur (did you mean 'sigma'?)"]


def test_an_output_that_a_later_step_reads_is_named_with_why_and_how(tmp_path):
    """Triton prunes the step that makes an output a request leaves out, even when a later
    step reads it (the request then deadlocks): the validator names the tensor, the step that
    reads it, why and how to fix it."""
    repo = make_repo(tmp_path, second_in="RESULT", second_out="other")
    cfg = repo / "chain" / "config.pbtxt"
    # first writes RESULT (an ensemble output), second reads it.
    cfg.write_text(cfg.read_text().replace('value: "mid"', 'value: "RESULT"')
                   .replace('output [{ name: "RESULT"', 'output [{ name: "other" data_type: '
                            'TYPE_UINT8 dims: [-1, -1, 3] }, { name: "RESULT"'))
    problems = validate_repository(repo)
    text = "\n".join(problems)
    assert len(problems) == 1, text
    for words in ("output 'RESULT'", "is also read by step 1 (second)", "unexpected deadlock",
                  "'RESULT__internal'", "serving.pipeline generate"):
        assert words in text, f"{words!r} missing from:\n{text}"
