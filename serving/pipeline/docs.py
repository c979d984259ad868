"""The blocks of docs/serving.md generated from the models' declarations, between markers
``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->``: the parameter limits
(serving.pipeline.limits_table) and every model's tensors. ``python -m serving.pipeline generate`` writes
them; ``generate --check`` lists the file when a block differs.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..contract import Tensor
from .limits_table import limits_table
from ..registry import MODELS

DOC = Path("docs") / "serving.md"


def _tensors(tensors: tuple[Tensor, ...]) -> str:
    def one(t: Tensor) -> str:
        flags = [f for f, on in (("ragged", t.ragged), ("optional", t.optional)) if on]
        return (f"`{t.name}` {t.dtype} [{', '.join(map(str, t.dims))}]"
                + (f" ({', '.join(flags)})" if flags else ""))
    return "<br>".join(one(t) for t in tensors)


def tensors_table() -> str:
    """Markdown: each model of the repository with its inputs, outputs and max batch size.

    Each tensor reads as name, dtype and the dims of one batch item (-1 any size), flagged
    ragged (requests of different sizes batch together) or optional.

    Returns:
        The table, one row per serving.catalog model, ending in a newline.
    """
    rows = ["| model | inputs | outputs | max batch |", "|---|---|---|---|"]
    for name, cls in MODELS.items():
        c = cls.CONTRACT
        rows.append(f"| `{name}` | {_tensors(c.inputs)} | {_tensors(c.outputs)} | {c.max_batch_size} |")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {"limits": limits_table, "tensors": tensors_table}


def with_blocks(text: str, where: str) -> str:
    """``text`` with each generated block replaced by what the code makes now.

    Args:
        text: a document holding every block of ``BLOCKS`` between its markers.
        where: what the error names (the document's path).

    Returns:
        The document with the blocks' contents regenerated, markers kept.

    Raises:
        ValueError: naming ``where``, when a block's opening marker is missing.
    """
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated: {name} [^\n]*-->\n).*?(<!-- end generated: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{where}: no <!-- generated: {name} ... --> block")
        text = pattern.sub(lambda m: m.group(1) + make() + m.group(2), text, count=1)
    return text


def docs_files(root: Path) -> dict[Path, str]:
    """The generated text of the docs under ``root``.

    Args:
        root: the repository root.

    Returns:
        Relative path -> text; empty when the tree has no docs (as in a copy of the repository
        without them).

    Raises:
        ValueError: the document lacks a block's markers.
    """
    path = Path(root) / DOC
    if not path.exists():
        return {}
    return {DOC: with_blocks(path.read_text(), str(path))}
