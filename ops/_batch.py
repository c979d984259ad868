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

# Fill value for freshly allocated outputs while testing (see poisoned()); None in use.
_POISON: int | None = None


@contextlib.contextmanager
def poisoned(value: int) -> Iterator[None]:
    """Fill every op output with ``value`` (uint8) or NaN/-inf (floats) before the kernel
    writes it, so a test running twice with two values catches pixels left unwritten."""
    global _POISON
    old, _POISON = _POISON, value
    try:
        yield
    finally:
        _POISON = old


def _poison(arr: Any) -> Any:
    if _POISON is not None:
        if arr.dtype.kind == "f":
            arr.fill(float("nan") if _POISON % 2 else float("-inf"))
        else:
            arr.fill(_POISON)
    return arr


def is_cupy(x: object) -> bool:
    module = type(x).__module__
    return module == "cupy" or module.startswith("cupy.")


def to_device(x: Any, device_id: int) -> Any:
    """CuPy array ``x`` on CUDA device ``device_id``: itself when it is there, else a copy
    made once whatever its own device still queues on its current stream has finished."""
    import cupy

    if x.device.id == device_id:
        return x
    with cupy.cuda.Device(x.device.id):
        cupy.cuda.get_current_stream().synchronize()
    with cupy.cuda.Device(device_id):
        return x.copy()  # CuPy copies across devices into the current one


def array_module(x: object) -> Any:
    """cupy for CuPy arrays, the CPU kernel harness's module for its HostArrays (device
    memory too: ops run their kernels on it), numpy otherwise."""
    if is_cupy(x):
        import cupy
        return cupy
    from ._cpu_kernels import HostArray, xp
    return xp if isinstance(x, HostArray) else np


def memory_name(xp: Any) -> str:
    """How errors name where arrays live."""
    return {"numpy": "NumPy", "cupy": "CuPy"}.get(xp.__name__, "HostArray (CPU kernel harness)")


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
    xp: Any            # numpy, cupy or the CPU kernel harness's module
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
        shapes = list(self.shapes if shapes is None else shapes)
        c = self.channels if channels is None else channels
        dt = np.dtype(self.dtype if dtype is None else dtype)
        xp = self.xp
        if self.kind != "list":
            h, w = shapes[0]
            arr = _poison(xp.empty((len(shapes), h, w, c), dtype=dt))
            return Batch(list(arr), arr, self.kind, self.squeeze, xp, c, dt)
        sizes = [h * w * c for h, w in shapes]
        buf = _poison(xp.empty(sum(sizes), dtype=dt))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        views = [buf[o:o + s].reshape(h, w, c)
                 for o, s, (h, w) in zip(offsets[:-1], sizes, shapes)]
        return Batch(views, None, "list", self.squeeze, xp, c, dt)

    def like(self, images: list | Any) -> "Batch":
        """Wrap per-image results (list of HWC arrays, or an NHWC array) in this form."""
        if not isinstance(images, list):
            images = list(images)
        # One image: a view of it (it is this op's own new array), not a copy.
        arr = (None if self.kind == "list" else images[0][None] if len(images) == 1
               else self.xp.stack(images))
        return Batch(list(arr) if arr is not None else images, arr, self.kind,
                     self.squeeze, self.xp, images[0].shape[2], images[0].dtype)

    def result(self) -> Any:
        """The user-facing value: an array for single/batch input, a list for lists."""
        if self.kind == "list":
            return [im[..., 0] if self.squeeze else im for im in self.images]
        out = self.array[..., 0] if self.squeeze else self.array
        return out[0] if self.kind == "single" else out


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
