"""The pipeline tools' tests edit repositories: a writable copy of the project's."""
import shutil

import pytest

from serving.paths import MODEL_REPOSITORY


@pytest.fixture
def repo(tmp_path):
    """A copy of model_repository/ without the DNN's weights (the tools never read them)."""
    shutil.copytree(MODEL_REPOSITORY, tmp_path / "repo", ignore=shutil.ignore_patterns("*.onnx"))
    return tmp_path / "repo"
