"""The table of every model parameter's range, from the Params themselves: docs/serving.md
(Request limits) holds its output, and a test keeps the two equal.

    python -m serving.limits      (prints the table)
"""
from __future__ import annotations

from .base import COMMON_PARAMETERS, OpModel
from .fused import FusedModel
from .models import (BlurModel, CenterCropModel, DecodeModel, EncodeMaskModel, EncodeModel,
                     ImageToTensorModel, MorphologyModel, PadModel, ResizeModel, TensorToMaskModel,
                     UnetModel)

# The models as the repository names them (the classification pipeline's copies share these).
MODELS: dict[str, type[OpModel]] = {
    "resize": ResizeModel, "pad": PadModel, "center_crop": CenterCropModel,
    "image_to_tensor": ImageToTensorModel, "unet": UnetModel, "tensor_to_mask": TensorToMaskModel,
    "blur": BlurModel, "morphology": MorphologyModel, "decode": DecodeModel,
    "encode": EncodeModel, "encode_mask": EncodeMaskModel, "*_fused": FusedModel,
}


def limits_table() -> str:
    """Markdown: model, parameter, default, the values it allows, overridable, why."""
    rows = ["| model | parameter | default | allowed values | per request | why that range |",
            "|---|---|---|---|---|---|"]

    def row(model: str, name: str, p) -> None:
        rows.append(f"| `{model}` | `{name}` | {f'`{p.default}`' if p.default else '(required)'} | {p.accepts} | "
                    f"{'yes' if p.overridable else 'no'} | {p.why or p.doc} |")

    for name, p in COMMON_PARAMETERS.items():
        row("every model", name, p)
    for model, cls in MODELS.items():
        for name, p in cls.PARAMETERS.items():
            if name not in COMMON_PARAMETERS:
                row(model, name, p)
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(limits_table(), end="")
