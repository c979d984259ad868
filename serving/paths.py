"""Where the repository keeps what the serving side reads: the one place that knows the
repository's layout (the project is installed editable, so the packages sit in it)."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_REPOSITORY = REPO_ROOT / "model_repository"
PIPELINES = REPO_ROOT / "pipelines"
BUILD_CACHE = REPO_ROOT / "build"  # downloads and builds kept between runs (git-ignored)
