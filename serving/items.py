"""Request items and the batches ``ops`` computes: per-item arrays into one call, and that
call's outputs back into each request's slice.

An execute hands a model the items of several requests (OpModel.compute_items); ops take
one (N, ...) batch when the items share a shape, else a list. What comes back is split per
request again (``request_slice``), and an item that failed on its own (``item_error``)
fails only its request.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np

from ops.arrays import is_cupy

from .requests import RequestError


def stack(items: Sequence[Any]) -> Any:
    """Equally shaped items as one batch.

    Args:
        items: one or more NumPy or CuPy arrays of one shape and dtype.
    Returns:
        An (N, ...) array of the items' kind; for one item, a view of it (no copy).
    """
    if len(items) == 1:
        return items[0][None]
    if is_cupy(items[0]):
        import cupy
        return cupy.stack(items)
    return np.stack(items)


def batch_or_list(items: Sequence[Any]) -> Any:
    """What ops take.

    Args:
        items: NumPy or CuPy arrays (one kind).
    Returns:
        One (N, ...) batch (``stack``) when all items share a shape, else a list of them.
    """
    return stack(items) if len({tuple(i.shape) for i in items}) == 1 else list(items)


def as_items(out: Any) -> list:
    """An op result as per-item arrays.

    Args:
        out: an (N, ...) array or a list of N arrays.
    Returns:
        A list of the N items (views of a batch array).
    """
    return list(out)


def compute_in_groups(items: Sequence[Any], compute: Callable[[Any, list], Iterable[Any]],
                      keys: Sequence[Hashable] | None = None) -> list:
    """One ``compute`` call per group of items that share a key, its results put back in
    the items' order: an op launched once per group whose items must share something (a
    shape, to be one batch; a format, for one encoder).

    Args:
        items: the request items (arrays, or any objects when ``keys`` is given).
        compute: (key, the items with that key, in their order) -> one result per item.
        keys: one hashable key per item; None groups the items by shape.
    Returns:
        A list of len(items) results, result k for items[k].
    """
    if keys is None:
        keys = [tuple(i.shape) for i in items]
    groups: dict[Hashable, list[int]] = {}
    for k, key in enumerate(keys):
        groups.setdefault(key, []).append(k)
    out: list = [None] * len(items)
    for key, idx in groups.items():
        for k, result in zip(idx, compute(key, [items[k] for k in idx])):
            out[k] = result
    return out


def item_error(outs: Mapping[str, Any], names: Sequence[str], start: int, n: int) -> Exception | None:
    """The first item error among items start..start+n of a compute's outputs.

    Args:
        outs: output name -> an (N, ...) array or a list of N items, where a list may hold
            an exception in a failed item's place.
        names: the outputs to look at.
        start, n: the items of one request.
    Returns:
        The first exception found, or None.
    """
    for name in names:
        out = outs[name]
        if isinstance(out, (list, tuple)):
            for x in out[start:start + n]:
                if isinstance(x, Exception):
                    return x
    return None


def request_slice(out: Any, start: int, n: int) -> Any:
    """Items start..start+n of an op output as one tensor for one request's response.

    A view of a batch array (contiguous, no copy), a view of a single list item, a stack
    only for several items of a variable-shape list. Files (1-D items of different lengths,
    encoded images) are zero-padded to the longest: a tensor has one length, and decoders
    stop at a file's end marker (docs/serving.md, Encoded images).

    Args:
        out: an (N, ...) NumPy or CuPy array, or a list of N arrays.
        start, n: the request's items.
    Returns:
        An (n, ...) array of the items' kind (NumPy for zero-padded files).
    Raises:
        RequestError: several items of the request have different shapes (not files).
    """
    if not isinstance(out, (list, tuple)):
        return out[start:start + n]
    if n == 1:
        return out[start][None]
    items = list(out[start:start + n])
    longest = max(int(i.shape[0]) for i in items)
    if all(i.ndim == 1 for i in items) and any(int(i.shape[0]) != longest for i in items):
        padded = np.zeros((n, longest), dtype=items[0].dtype)
        for row, i in zip(padded, items):
            row[:len(i)] = i
        return padded
    shapes = {tuple(i.shape) for i in items}
    if len(shapes) > 1:
        # A tensor has one shape: an ensemble's step cannot pass on one request's items of
        # different sizes (several files of one request that decode to different sizes).
        raise RequestError(f"the {n} items of this request have different shapes "
                           f"({', '.join(str(s) for s in sorted(shapes))}), which one tensor "
                           f"cannot hold: send them as separate requests (the server batches "
                           f"them)")
    return stack(items)
