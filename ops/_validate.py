"""Argument checks shared by every op: each raises ValueError/TypeError naming the
argument, what was expected and what was given."""
from __future__ import annotations

from numbers import Integral, Real
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def fail(name: str, expected: str, given: object, exc: type = ValueError) -> None:
    raise exc(f"{name}: expected {expected}, got {given}")


def describe(x: object) -> str:
    """Short description of an argument for error messages."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(x).__module__.split('.')[0]} array of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(x).__name__} {x!r}"[:200]


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        fail(name, "an integer", describe(value), TypeError)
    value = int(value)
    if minimum is not None and value < minimum:
        fail(name, f"an integer >= {minimum}", value)
    return value


def check_real(value: object, name: str, minimum: float | None = None,
               exclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        fail(name, "a number", describe(value), TypeError)
    value = float(value)
    if not np.isfinite(value):
        fail(name, "a finite number", value)
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        fail(name, f"a number {'>' if exclusive else '>='} {minimum}", value)
    return value


def check_size(size: object, name: str = "size") -> tuple[int, int]:
    """(h, w) with both > 0; a single int means a square."""
    if isinstance(size, Integral) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, Sequence) or len(size) != 2:
        fail(name, "(height, width) as two positive integers", describe(size), TypeError)
    h = check_int(size[0], f"{name}[0] (height)")
    w = check_int(size[1], f"{name}[1] (width)")
    if h <= 0 or w <= 0:
        fail(name, "(height, width) both > 0", (h, w))
    return h, w


def check_ksize(ksize: object, name: str = "ksize") -> tuple[int, int]:
    """Odd positive kernel size; an int means a square kernel. Returns (kh, kw)."""
    if isinstance(ksize, Integral) and not isinstance(ksize, bool):
        ksize = (ksize, ksize)
    if not isinstance(ksize, Sequence) or len(ksize) != 2:
        fail(name, "an odd positive integer or (kh, kw)", describe(ksize), TypeError)
    out = tuple(check_int(k, name) for k in ksize)
    if any(k <= 0 or k % 2 == 0 for k in out):
        fail(name, "odd positive sizes", out)
    return out  # type: ignore[return-value]


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        fail(name, "one of " + ", ".join(repr(c) for c in choices), describe(value))
    return value  # type: ignore[return-value]


def check_roi(roi: object, name: str = "roi") -> tuple[int, int, int, int]:
    """(x, y, w, h) with x, y >= 0 and w, h > 0."""
    if not isinstance(roi, Sequence) or len(roi) != 4:
        fail(name, "(x, y, w, h) as four integers", describe(roi), TypeError)
    x, y, w, h = (check_int(v, f"{name}[{i}]") for i, v in enumerate(roi))
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        fail(name, "x, y >= 0 and w, h > 0", (x, y, w, h))
    return x, y, w, h


def per_channel(value: object, channels: int, name: str, positive: bool = False) -> list[float]:
    """A scalar or one number per channel -> ``channels`` floats (finite; > 0 if positive)."""
    vals = list(value) if isinstance(value, (tuple, list)) else [value]
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, Real):
            fail(name, "a finite number or a tuple of numbers", describe(value), TypeError)
    vals = [check_real(v, name, 0.0 if positive else None, exclusive=positive) for v in vals]
    if len(vals) == 1:
        vals *= channels
    if len(vals) != channels:
        fail(name, f"a scalar or {channels} values (one per channel)", f"{len(vals)} values")
    return vals


def per_image(value: object, n: int, name: str, check: Callable[[object, str], T],
              noun: str = "entries", single: str | None = None) -> list[T]:
    """One checked value for each of ``n`` images: ``value`` for all, or a list of n values
    (a list of tuples or lists), checked as name[i].

    single: for an array input, what it takes instead ("a single (x, y, w, h)"); a list of
    values is then refused (only a list of images has images of their own sizes).
    """
    if isinstance(value, list) and value and isinstance(value[0], (tuple, list)):
        if single is not None:
            fail(name, f"{single} for an array input", f"a list of {len(value)} {noun}")
        if len(value) != n:
            fail(name, f"{n} {noun}, one per image", f"{len(value)} {noun}")
        return [check(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return [check(value, name)] * n
