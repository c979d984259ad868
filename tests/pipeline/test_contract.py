"""One contract per model: serving.registry names the class each model.py loads, and every
config.pbtxt of ours is what its class's declaration generates (`generate --check` fails,
naming the file, on a hand edit or on a class changed without regenerating)."""
import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from serving import registry
from serving.models import BlurModel, ResizeModel
from serving.pipeline.cli import DEFAULT_REPO, DEFAULT_SPECS
from serving.pipeline.docs import DOC, docs_files
from serving.pipeline.operators import stale_operators
from serving.pipeline.ensemble import stale_files
from serving.pipeline.spec import load_spec

from serving.paths import REPO_ROOT as ROOT


def loaded_class(model_py: Path) -> type:
    """The TritonPythonModel a model.py gives Triton (importing it as the stub does)."""
    spec = importlib.util.spec_from_file_location(f"model_py_{model_py.parent.parent.name}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TritonPythonModel


@pytest.mark.parametrize("model_py", sorted(DEFAULT_REPO.glob("*/1/model.py")),
                         ids=lambda p: p.parent.parent.name)
def test_registry_names_the_class_each_model_py_loads(model_py):
    """Every Python model of the repository is ours, and the table agrees with its model.py
    (generated step copies and fused models by their names)."""
    name = model_py.parent.parent.name
    assert registry.model_class(name) is loaded_class(model_py), name


def test_registry_holds_only_models_of_the_repository():
    assert sorted(registry.MODELS) == sorted(
        n for n in registry.MODELS if (DEFAULT_REPO / n / "1" / "model.py").exists())


def cli(repo, *args):
    return subprocess.run([sys.executable, "-m", "serving.pipeline", "--repository", str(repo),
                           "--specs", str(DEFAULT_SPECS), *args],
                          cwd=ROOT, capture_output=True, text=True)


def test_generate_check_names_a_hand_edited_config(repo):
    assert cli(repo, "generate", "--check").returncode == 0
    cfg = repo / "blur" / "config.pbtxt"
    cfg.write_text(cfg.read_text().replace('string_value: "12"', 'string_value: "10"'))
    r = cli(repo, "generate", "--check")
    assert r.returncode == 1
    # The fused models hold blur's config too.
    assert r.stdout.splitlines() == [
        f"{cfg}: differs from what its class serving.models.filters.BlurModel generates; run "
        f"python -m serving.pipeline generate"] + [
        f"{repo / name / 'config.pbtxt'}: differs from what its spec and its steps' configs "
        f"generate; run python -m serving.pipeline generate"
        for name in ("background_blur_encoded_fused", "background_blur_fused")]
    assert cli(repo, "generate").returncode == 0
    assert cli(repo, "generate", "--check").returncode == 0
    assert 'string_value: "12"' in cfg.read_text()


def test_a_missing_config_is_stale(repo):
    (repo / "upload" / "config.pbtxt").unlink()
    assert stale_operators(repo) == [repo / "upload" / "config.pbtxt"]


def test_a_class_changed_without_regenerating_is_caught(monkeypatch):
    assert stale_operators(DEFAULT_REPO) == []
    monkeypatch.setattr(BlurModel, "CONTRACT", dataclasses.replace(BlurModel.CONTRACT, max_batch_size=8))
    assert stale_operators(DEFAULT_REPO) == [DEFAULT_REPO / "blur" / "config.pbtxt"]
    monkeypatch.undo()
    # A parameter's default is the config's value, in the model and in the step copies
    # generated from the same declaration.
    linear = ResizeModel.PARAMETERS["interpolation"]
    monkeypatch.setitem(ResizeModel.PARAMETERS, "interpolation", dataclasses.replace(linear, default="area"))
    assert stale_operators(DEFAULT_REPO) == [DEFAULT_REPO / "resize" / "config.pbtxt"]
    spec = load_spec(DEFAULT_SPECS / "classification_preprocess.yaml")
    assert DEFAULT_REPO / "classification_preprocess__resize" / "config.pbtxt" in stale_files(spec, DEFAULT_REPO)


def test_a_repository_of_other_models_gets_none_of_ours(tmp_path):
    (tmp_path / "resize").mkdir()  # a folder without a model.py is not a model
    assert stale_operators(tmp_path) == []


def test_the_docs_tables_are_generated_and_checked(tmp_path):
    """docs/serving.md holds what the declarations generate; a hand edit inside a block is
    undone by generate, and a block without its markers is an error naming the file."""
    assert docs_files(ROOT) == {DOC: (ROOT / DOC).read_text()}
    (tmp_path / "docs").mkdir()
    edited = (ROOT / DOC).read_text().replace("| `blur` | `sigma` | `12` |", "| `blur` | `sigma` | `10` |")
    (tmp_path / DOC).write_text(edited)
    assert docs_files(tmp_path) == {DOC: (ROOT / DOC).read_text()}
    (tmp_path / DOC).write_text(edited.replace("<!-- end generated: limits -->", ""))
    with pytest.raises(ValueError, match=r"serving.md: no <!-- generated: limits"):
        docs_files(tmp_path)
    text = docs_files(ROOT)[DOC]
    for name, cls in registry.MODELS.items():
        tensors = [*cls.CONTRACT.inputs, *cls.CONTRACT.outputs]
        assert all(f"`{t.name}` {t.dtype}" in text for t in tensors), name
