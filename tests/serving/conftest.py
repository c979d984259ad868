"""The serving runtime's tests run the models outside Triton: a model of the committed
repository as its stub would configure it (its config, its folder), on the CPU."""
import pytest


@pytest.fixture(scope="session")
def repository_model():
    """name -> a fresh OpModel instance of that model of model_repository/."""
    from serving.paths import MODEL_REPOSITORY
    from serving.pipeline.repository import load_repository
    from serving.pipeline.repository_models import model_instance

    entries = load_repository(MODEL_REPOSITORY)[0]
    return lambda name: model_instance(entries[name])
