"""The table of every model parameter's range, from the Params themselves: docs/serving.md
(Request limits) holds it between markers, written by ``python -m serving.pipeline generate``
(serving/pipeline/docs.py) and checked by ``generate --check``.

    python -m serving.pipeline.limits_table      (prints the parameter table)
"""
from __future__ import annotations

from ..base import COMMON_PARAMETERS, OpModel
from ..params import Param
from ..fused import FusedModel
from ..registry import FUSED_SUFFIX, MODELS


def op_models() -> dict[str, type[OpModel]]:
    """The models whose parameters a request or config may set, as the docs name them.

    Returns:
        Name -> class: the repository's operator models, and ``*_fused`` -> FusedModel.
    """
    ops = {name: cls for name, cls in MODELS.items() if issubclass(cls, OpModel)}
    return {**ops, f"*{FUSED_SUFFIX}": FusedModel}


def limits_table() -> str:
    """Markdown: model, parameter, default, the values it allows, overridable, why.

    Returns:
        The table, the parameters every model shares first, ending in a newline.
    """
    rows = ["| model | parameter | default | allowed values | per request | why that range |",
            "|---|---|---|---|---|---|"]

    def row(model: str, name: str, p: Param) -> None:
        rows.append(f"| `{model}` | `{name}` | {f'`{p.default}`' if p.default else '(required)'} | {p.accepts} | "
                    f"{'yes' if p.overridable else 'no'} | {p.why or p.doc} |")

    for name, p in COMMON_PARAMETERS.items():
        row("every model", name, p)
    for model, cls in op_models().items():
        for name, p in cls.PARAMETERS.items():
            if name not in COMMON_PARAMETERS:
                row(model, name, p)
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(limits_table(), end="")
