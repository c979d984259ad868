"""A model's contract with Triton, declared once on its class (``CONTRACT``): the tensors
with their dtypes and dims, batching, instance groups and the backend's own parameters.

Together with the class's ``PARAMETERS`` (whose defaults become the config's values) it is
everything ``model_repository/<name>/config.pbtxt`` says; ``python -m serving.pipeline
generate`` writes that file from it (serving/pipeline/operators.py) and ``generate --check``
fails when the two differ. Plain data: the models import it at run time, without protobuf.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# Take inputs where they are: without it the Python backend copies every GPU input to the
# host, and tensors could not stay on the device between steps (docs/serving.md, Placement).
ON_DEVICE = {"FORCE_CPU_ONLY_INPUT_TENSORS": "no"}


@dataclass(frozen=True)
class Tensor:
    """One input or output: Triton's dtype name without TYPE_, and the dims of one batch
    item (-1: any size). ``ragged``: Triton's allow_ragged_batch (requests of different
    sizes share one execute call); ``optional``: a request may leave the input out."""
    name: str
    dtype: str
    dims: tuple[int, ...]
    ragged: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Contract:
    """What a model's config.pbtxt declares besides its parameters' defaults.

    ``queue_delay_us``: the dynamic batcher's max_queue_delay_microseconds (None: no
    dynamic batching); ``instances``: instance_group as (kind, count) pairs, empty to let
    Triton choose (one GPU instance per GPU, else one CPU instance); ``fixed_parameters``:
    config parameters the backend reads, not the model's PARAMETERS; ``comment``: the lines
    written at the top of the config."""
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    comment: str = ""
    max_batch_size: int = 16
    queue_delay_us: int | None = 0
    instances: tuple[tuple[str, int], ...] = ()
    fixed_parameters: Mapping[str, str] = field(default_factory=lambda: dict(ON_DEVICE))

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of the inputs, in declaration order."""
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        """The names of the outputs, in declaration order."""
        return tuple(t.name for t in self.outputs)


# The shapes most models share (one batch item each); inputs pass ragged=True.
def image(name: str = "IMAGE", ragged: bool = False) -> Tensor:
    """An (H, W, 3) uint8 RGB image.

    Args:
        name: the tensor's name.
        ragged: Triton's allow_ragged_batch (set on inputs).

    Returns:
        A Tensor of dtype UINT8, dims (-1, -1, 3).
    """
    return Tensor(name, "UINT8", (-1, -1, 3), ragged)


def mask(name: str = "MASK", ragged: bool = False) -> Tensor:
    """An (H, W) uint8 mask.

    Args:
        name: the tensor's name.
        ragged: Triton's allow_ragged_batch (set on inputs).

    Returns:
        A Tensor of dtype UINT8, dims (-1, -1).
    """
    return Tensor(name, "UINT8", (-1, -1), ragged)


def encoded(name: str = "ENCODED", ragged: bool = False, optional: bool = False) -> Tensor:
    """One file as a uint8 vector (docs/serving.md, Encoded images: why not BYTES).

    Args:
        name: the tensor's name.
        ragged: Triton's allow_ragged_batch (set on inputs).
        optional: a request may leave the input out.

    Returns:
        A Tensor of dtype UINT8, dims (-1,): the file's bytes.
    """
    return Tensor(name, "UINT8", (-1,), ragged, optional)
