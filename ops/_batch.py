"""One view of every accepted input form, so each op handles single images, uniform
batches and variable-shape lists with the same code path.

Accepted forms (image mode): (H, W) (treated as one channel), (H, W, C), (N, H, W, C),
or a list of (H, W[, C]) arrays of different sizes. Mask mode: (H, W), (N, H, W) or a
list of (H, W). Outputs come back in the form the input came in.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ._validate import describe, fail
from .arrays import array_module, is_cupy, memory_name

# Fill value for freshly allocated outputs while testing (see poisoned()); None in use.
_POISON: int | None = None


@contextlib.contextmanager
def poisoned(value: int) -> Iterator[None]:
    """Fill every op output with ``value`` (uint8) or NaN/-inf (floats) before the kernel writes
    it, so a test running twice with two values catches pixels left unwritten.

    Args:
        value: int 0..255.
    Returns:
        A context manager (process-wide). OpenCV/CV-CUDA: none (a test switch of ops).
    Raises:
        Nothing.
    """
    global _POISON
    old, _POISON = _POISON, value
    try:
        yield
    finally:
        _POISON = old


def allocate(xp: Any, shape: Sequence[int], dtype: Any) -> Any:
    """An uninitialised output array of ``xp`` (numpy, cupy or ops.arrays.hostarrays),
    filled with the poisoned() value while a test asks for it."""
    arr = xp.empty(tuple(shape), dtype=np.dtype(dtype))
    if _POISON is not None:
        if arr.dtype.kind == "f":
            arr.fill(float("nan") if _POISON % 2 else float("-inf"))
        else:
            arr.fill(_POISON)
    return arr


@dataclass
class Batch:
    """Images of one op argument, normalised to HWC views.

    ``images`` always holds one (H, W, C) array per image. ``array`` is the (N, H, W, C)
    array when all images share one shape (no copy for a 4D input), else None.
    """
    images: list
    array: Any
    kind: str          # "single", "batch" or "list"
    squeeze: bool      # input had no channel axis: drop it again on output
    xp: Any            # numpy, cupy or ops.arrays.hostarrays
    channels: int
    dtype: np.dtype

    @property
    def on_device(self) -> bool:
        """Images in device memory (CuPy, or the CPU harness's HostArray): the op runs its
        CUDA kernel; else OpenCV or its NumPy reference (ops/_dispatch.py)."""
        return self.xp is not np

    @property
    def n(self) -> int:
        return len(self.images)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(int(im.shape[0]), int(im.shape[1])) for im in self.images]

    @property
    def uniform(self) -> bool:
        return self.array is not None

    def max_hw(self) -> tuple[int, int]:
        shapes = self.shapes
        return max(h for h, _ in shapes), max(w for _, w in shapes)

    def as_list(self) -> "Batch":
        """The same images, answered as a list (for outputs of differing sizes)."""
        return Batch(self.images, None, "list", self.squeeze, self.xp, self.channels, self.dtype)

    def empty(self, shapes: Sequence[tuple[int, int]] | None = None,
              channels: int | None = None, dtype: Any = None) -> "Batch":
        """Uninitialised output batch of the same form (one allocation for all images)."""
        return empty_batch(self.xp, self.shapes if shapes is None else shapes,
                           self.channels if channels is None else channels,
                           self.dtype if dtype is None else dtype, self.kind, self.squeeze)

    def with_images(self, images: list | Any) -> "Batch":
        """Wrap per-image results (list of HWC arrays, or an NHWC array) in this form."""
        if not isinstance(images, list):
            images = list(images)
        # One image: a view of it (it is this op's own new array), not a copy.
        arr = (None if self.kind == "list" else images[0][None] if len(images) == 1
               else self.xp.stack(images))
        return Batch(list(arr) if arr is not None else images, arr, self.kind,
                     self.squeeze, self.xp, images[0].shape[2], images[0].dtype)

    def unwrap(self) -> Any:
        """The user-facing value: an array for single/batch input, a list for lists."""
        if self.kind == "list":
            return [im[..., 0] if self.squeeze else im for im in self.images]
        out = self.array[..., 0] if self.squeeze else self.array
        return out[0] if self.kind == "single" else out


def empty_batch(xp: Any, shapes: Sequence[tuple[int, int]], channels: int, dtype: Any,
                kind: str, squeeze: bool) -> Batch:
    """An uninitialised Batch of (h, w) ``shapes`` in ``xp``'s memory, in one allocation:
    an (N, H, W, C) array for kind "single"/"batch" (one shape), else one buffer cut into
    views for "list". ``squeeze``: unwrap() drops the channel axis (masks)."""
    shapes = list(shapes)
    dt = np.dtype(dtype)
    if kind != "list":
        h, w = shapes[0]
        arr = allocate(xp, (len(shapes), h, w, channels), dt)
        return Batch(list(arr), arr, kind, squeeze, xp, channels, dt)
    sizes = [h * w * channels for h, w in shapes]
    buf = allocate(xp, (sum(sizes),), dt)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    views = [buf[o:o + s].reshape(h, w, channels)
             for o, s, (h, w) in zip(offsets[:-1], sizes, shapes)]
    return Batch(views, None, "list", squeeze, xp, channels, dt)


def _hwc(x: Any, name: str, mask: bool) -> tuple[Any, bool]:
    """Give an image array a channel axis; report whether one was added."""
    if x.ndim == 2:
        return x[:, :, None], True
    if x.ndim == 3 and not mask:
        return x, False
    want = "(H, W)" if mask else "(H, W) or (H, W, C)"
    fail(name, f"list items of shape {want}", describe(x))


def as_batch(x: Any, name: str, *, channels: Sequence[int] | None = (1, 3, 4),
             dtype: Any = np.uint8, mask: bool = False) -> Batch:
    """Validate an op argument and view it as a Batch.

    channels: allowed channel counts (None: any); dtype: required dtype (None: any).
    mask=True reads (H, W) / (N, H, W) / list of (H, W) instead of image layouts.
    """
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            fail(name, "a non-empty list of images", "an empty list")
        for i, im in enumerate(x):
            if not (isinstance(im, np.ndarray) or is_cupy(im)):
                fail(f"{name}[{i}]", "a NumPy or CuPy array", describe(im), TypeError)
        kinds = list(dict.fromkeys(memory_name(array_module(im)) for im in x))
        if len(kinds) > 1:
            fail(name, "a list of arrays all in one memory (all NumPy or all CuPy)",
                 f"a list mixing {' and '.join(kinds)} arrays", TypeError)
        pairs = [_hwc(im, f"{name}[{i}]", mask) for i, im in enumerate(x)]
        if len({sq for _, sq in pairs}) > 1:
            fail(name, "list items all with or all without a channel axis", "a mix")
        images = [im for im, _ in pairs]
        squeeze, kind, array = pairs[0][1], "list", None
    elif isinstance(x, np.ndarray) or is_cupy(x):
        if mask:
            if x.ndim not in (2, 3):
                fail(name, "a mask of shape (H, W) or (N, H, W)", describe(x))
            arr, squeeze = x[..., None], True
            kind = "single" if x.ndim == 2 else "batch"
        else:
            if x.ndim not in (2, 3, 4):
                fail(name, "an image of shape (H, W), (H, W, C) or a batch (N, H, W, C)", describe(x))
            arr, squeeze = (x[..., None], True) if x.ndim == 2 else (x, False)
            kind = "batch" if x.ndim == 4 else "single"
        if kind == "single":
            arr = arr[None]
        if arr.shape[0] == 0:
            fail(name, "a batch of at least one image", describe(x))
        images, array = list(arr), arr
    else:
        fail(name, "a NumPy or CuPy array (or a list of them)", describe(x), TypeError)

    xp = array_module(images[0])
    first = images[0]
    for i, im in enumerate(images):
        label = name if kind != "list" else f"{name}[{i}]"
        if dtype is not None and im.dtype != np.dtype(dtype):
            fail(label, f"dtype {np.dtype(dtype)}", describe(im), TypeError)
        if im.dtype != first.dtype:
            fail(label, f"dtype {first.dtype} like the other images", describe(im), TypeError)
        if im.shape[0] == 0 or im.shape[1] == 0:
            fail(label, "an image with height and width > 0", describe(im))
        if channels is not None and im.shape[2] not in channels:
            fail(label, f"{' or '.join(map(str, channels))} channels", f"{im.shape[2]} channels "
                 f"({describe(im)})")
        if im.shape[2] != first.shape[2]:
            fail(label, f"{first.shape[2]} channels like the other images", describe(im))
    # Kernels address pixels as rows of packed (C,) elements; only rows may be strided.
    if array is not None:
        isz = array.dtype.itemsize
        if array.strides[3] != isz or array.strides[2] != isz * array.shape[3]:
            array = xp.ascontiguousarray(array)
            images = list(array)
    else:
        images = [im if im.strides[2] == im.dtype.itemsize
                  and im.strides[1] == im.dtype.itemsize * im.shape[2]
                  else xp.ascontiguousarray(im) for im in images]
    return Batch(images, array, kind, squeeze, xp, int(first.shape[2]), first.dtype)


def same_form(a: Batch, b: Batch, name_a: str, name_b: str, channels: bool = True) -> None:
    """Require two batch arguments to match image for image (composite's fg/bg/mask)."""
    if a.xp is not b.xp:
        fail(name_b, f"{memory_name(a.xp)} arrays like {name_a}", f"{memory_name(b.xp)} arrays",
             TypeError)
    if a.n != b.n:
        fail(name_b, f"{a.n} images like {name_a}", f"{b.n} images")
    for i, (sa, sb) in enumerate(zip(a.shapes, b.shapes)):
        if sa != sb:
            fail(name_b if a.n == 1 else f"{name_b}[{i}]", f"height, width {sa} like {name_a}", sb)
    if channels and a.channels != b.channels:
        fail(name_b, f"{a.channels} channels like {name_a}", f"{b.channels} channels")
