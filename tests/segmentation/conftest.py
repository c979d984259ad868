"""The segmentation tests' fixtures: the model, built once per session from the pinned
MediaPipe wheel, and the reference runner."""
import pytest

from segmentation.build import build
from segmentation.runner import SegmentationRunner


@pytest.fixture(scope="session")
def model_path():
    return build()


@pytest.fixture(scope="session")
def runner(model_path):
    """The reference: onnxruntime's CPU provider (the same numbers on every host)."""
    return SegmentationRunner(model_path, device="cpu")
