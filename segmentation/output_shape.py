"""Sizing a model's output from its input's shape before the run: IO binding allocates the
output first, so each output dim must be fixed or named after an input dim."""
from __future__ import annotations


class OutputShapeError(ValueError):
    """A model output's size cannot be known before the run (a symbolic dimension that no
    input dimension shares), which IO binding needs: the GPU path cannot run the model."""


def output_shape_rule(input_dims: list, output_dims: list,
                      output_name: str = "output") -> list[tuple[str, int]]:
    """How to size a model output from its input's shape before the run (IO binding
    allocates the output first).

    Args:
        input_dims, output_dims: the model's dims as onnxruntime reports them
            (``session.get_inputs()[0].shape``): an int for a fixed size, a str for a
            symbolic one, None for an unknown one.
        output_name: for the error message.
    Returns:
        one (kind, value) per output dim: ("fixed", size) or ("input", index of the input
        dim with the same symbolic name).
    Raises:
        OutputShapeError: an output dim is unknown, or symbolic with a name no input dim has.
    """
    rule = []
    for i, d in enumerate(output_dims):
        if isinstance(d, int) and d >= 0:
            rule.append(("fixed", d))
        elif isinstance(d, str) and d in input_dims:
            rule.append(("input", input_dims.index(d)))
        else:
            shown = "unknown" if d is None or isinstance(d, int) else f"symbolic {d!r}"
            raise OutputShapeError(
                f"output {output_name!r} dim {i} is {shown} and no input dim has its name "
                f"(input dims {input_dims}, output dims {output_dims}): the GPU path binds the "
                f"output before the run and cannot size it. Give the output's dims fixed sizes "
                f"or the names of the input's dims (docs/segmentation-model.md)")
    return rule


def apply_shape_rule(rule: list[tuple[str, int]], in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape for an input of ``in_shape`` (a rule of output_shape_rule).

    Args:
        rule: per output dim, ("fixed", size) or ("input", index of an input dim).
        in_shape: the input's shape.
    Returns:
        The output's shape, one int per entry of ``rule``.
    """
    return tuple(v if kind == "fixed" else int(in_shape[v]) for kind, v in rule)
