"""Model I/O: image_to_tensor (cv2.dnn.blobFromImage-like) and tensor_to_mask."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from . import _resample as rs
from ._batch import Batch, _poison, array_module, as_batch, is_cupy
from ._dispatch import fork
from ._gpu import device_constant, f32, i32, image_table, launch
from ._validate import check_choice, check_int, check_real, check_roi, check_size, describe, fail


def _per_channel(v: Any, c: int, name: str, positive: bool = False) -> np.ndarray:
    vals = list(v) if isinstance(v, (tuple, list)) else [v]
    vals = [check_real(x, name, 0.0 if positive else None, exclusive=positive) for x in vals]
    if len(vals) == 1:
        vals *= c
    if len(vals) != c:
        fail(name, f"a number or {c} numbers (one per channel)", f"{len(vals)} numbers")
    return np.array(vals, dtype=np.float64)


def to_tensor_lut(c: int, mean: Any, std: Any, scale: float, dtype: Any) -> np.ndarray:
    """(C, 256) table: (v * scale - mean[c]) / std[c] computed in float64, rounded once."""
    m = _per_channel(mean, c, "mean")
    s = _per_channel(std, c, "std", positive=True)
    v = np.arange(256, dtype=np.float64)[None, :]
    return ((v * scale - m[:, None]) / s[:, None]).astype(dtype)


def image_to_tensor(img: Any, mean: Any = 0.0, std: Any = 1.0, scale: float = 1 / 255,
                    swap_rb: bool = False, dtype: str = "float32") -> Any:
    """uint8 HWC images -> (N, C, H, W) float32/float16 tensor: out = (img * scale - mean) / std.

    img: (H, W[, C]) (-> N = 1), (N, H, W, C) or a list of equally sized images; C in 1, 3, 4.
    mean, std: numbers or one per output channel (std > 0). swap_rb swaps channels 0 and 2
    first (C >= 3); mean/std refer to the swapped order. Each value is computed in float64
    and rounded once to dtype (exact per uint8 level, via a 256-entry table per channel).
    OpenCV: for scalar std, cv2.dnn.blobFromImage(img, scalefactor=scale / std,
    mean=mean / scale (per channel), swapRB=swap_rb) gives the same values (up to its
    float32 rounding).
    """
    b = as_batch(img, "img")
    if len(set(b.shapes)) > 1:
        fail("img", "images of one size (a tensor needs one H, W)", f"sizes {b.shapes}")
    scale = check_real(scale, "scale")
    dt = np.dtype(check_choice(dtype, "dtype", ("float32", "float16")))
    if not isinstance(swap_rb, (bool, np.bool_)):
        fail("swap_rb", "a bool", describe(swap_rb), TypeError)
    if swap_rb and b.channels < 3:
        fail("swap_rb", "3 or 4 channels to swap channels 0 and 2", f"{b.channels} channels")
    c = b.channels
    lut = to_tensor_lut(c, mean, std, scale, dt)
    order = np.arange(c)
    if swap_rb:
        order[[0, 2]] = [2, 0]
    h, w = b.shapes[0]

    def reference() -> np.ndarray:
        return np.stack([np.stack([lut[k][im[:, :, order[k]]] for k in range(c)])
                         for im in b.images])

    def opencv() -> np.ndarray:
        # The same table, looked up by cv2.LUT one channel plane of the whole batch at a
        # time (a lookup, so identical; ~7x NumPy's gather at 256x256).
        batch = b.array if b.array is not None else np.stack(b.images)  # one size
        planes = cv2.split(batch.reshape(b.n * h, w, c))
        out = np.empty((b.n, c, h, w), dtype=dt)
        for k in range(c):
            out[:, k] = cv2.LUT(planes[order[k]], lut[k].reshape(1, 256)).reshape(b.n, h, w)
        return out

    def cuda() -> Any:
        out = _poison(b.xp.empty((b.n, c, h, w), dtype=dt))
        launch("tensor", "to_tensor_f32" if dt == np.float32 else "to_tensor_f16", b.n, h, w,
               (image_table(b), i32(b.n), i32(c), i32(c), device_constant(b.xp, lut), out,
                i32(1 if swap_rb else 0)))
        return out

    return fork(b, cuda=cuda, reference=reference, opencv=opencv)

ACTIVATIONS = {"none": 0, "sigmoid": 1, "softmax": 2, "argmax": 3}


def activate(t: np.ndarray, activation: str, channel: int) -> np.ndarray:
    """(K, h, w) float32 logits -> (h, w) float32 probability of `channel`."""
    t = t.astype(np.float32)
    if activation == "sigmoid":
        return (np.float32(1) / (np.float32(1) + np.exp(-t[channel]))).astype(np.float32)
    if activation == "softmax":
        e = np.exp(t - t.max(axis=0))
        return (e[channel] / e.sum(axis=0)).astype(np.float32)
    if activation == "argmax":
        return (np.argmax(t, axis=0) == channel).astype(np.float32)
    return np.clip(t[channel], 0, 1).astype(np.float32)


def _per_image(v: Any, n: int, name: str, check) -> list:
    if isinstance(v, list) and v and isinstance(v[0], (tuple, list)):
        if len(v) != n:
            fail(name, f"{n} entries, one per image", f"{len(v)} entries")
        return [check(x, f"{name}[{i}]") for i, x in enumerate(v)]
    return [check(v, name)] * n


def tensor_to_mask(t: Any, roi: Any = None, size: Any = None, activation: str = "sigmoid",
                   channel: int = 0, threshold: float | None = None) -> Any:
    """Segmentation output (N, K, h, w) (or (K, h, w)) float32/float16 -> uint8 masks 0..255.

    activation ("sigmoid" of `channel`, "softmax" over K then `channel`, "argmax": 1 where
    argmax over K == channel, "none": clip to [0, 1]) -> crop the letterbox roi (x, y, w, h)
    in tensor pixels (one tuple or a list per image; default the whole tensor) -> bilinear
    float resize (cv2.resize INTER_LINEAR on float32) to size (H, W) (one or a list per image;
    default the roi size) -> rint(p * 255), or with threshold in (0, 1): 255 where p >= threshold.
    Returns (N, H, W) uint8 when every image has the same size, else a list of (H, W).
    The GPU runs one fused kernel (activation evaluated at the resize taps).
    """
    if not (isinstance(t, np.ndarray) or is_cupy(t)):
        fail("t", "a NumPy or CuPy array (N, K, h, w)", describe(t), TypeError)
    if t.dtype not in (np.float32, np.float16):
        fail("t", "dtype float32 or float16", describe(t), TypeError)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or min(t.shape) == 0:
        fail("t", "a non-empty tensor of shape (N, K, h, w) or (K, h, w)", describe(t))
    n, k, th, tw = (int(s) for s in t.shape)
    act = check_choice(activation, "activation", ACTIVATIONS)
    channel = check_int(channel, "channel", 0)
    if channel >= k:
        fail("channel", f"a channel index < K = {k}", channel)
    if threshold is not None:
        threshold = check_real(threshold, "threshold")
        if not 0 < threshold < 1:
            fail("threshold", "a number in (0, 1) or None", threshold)
    rois = _per_image((0, 0, tw, th) if roi is None else roi, n, "roi", check_roi)
    for i, (x, y, w, h) in enumerate(rois):
        if x + w > tw or y + h > th:
            fail("roi" if n == 1 else f"roi[{i}]", f"a region inside the {th}x{tw} tensor", (x, y, w, h))
    sizes = ([(h, w) for _, _, w, h in rois] if size is None
             else _per_image(size, n, "size", check_size))
    uniform = len(set(sizes)) == 1

    def reference() -> Any:
        masks = []
        for i, (x, y, w, h) in enumerate(rois):
            p = activate(t[i], act, channel)[y:y + h, x:x + w, None]
            p = rs.resize_image(np.ascontiguousarray(p), *sizes[i], rs.INTERP["linear"])[..., 0]
            if threshold is not None:
                masks.append(np.where(p >= np.float32(threshold), 255, 0).astype(np.uint8))
            else:
                masks.append(np.clip(np.rint(p * np.float32(255)), 0, 255).astype(np.uint8))
        return np.stack(masks) if uniform else masks

    def cuda() -> Any:
        xp = array_module(t)
        tc = xp.ascontiguousarray(t)
        if uniform:
            arr = _poison(xp.empty((n, *sizes[0]), dtype=np.uint8))
            out = Batch(list(arr[..., None]), arr[..., None], "batch", True, xp, 1, np.dtype(np.uint8))
        else:
            proto = Batch([None] * n, None, "list", True, xp, 1, np.dtype(np.uint8))
            out = proto.empty(sizes, 1, np.uint8)
        roi_dev = xp.asarray(np.array(rois, dtype=np.int32).T.copy())
        H, W = max(h for h, _ in sizes), max(w for _, w in sizes)
        launch("tensor", "tensor_to_mask", n, H, W,
               (image_table(out), i32(n), i32(k), i32(1), tc, i32(th), i32(tw),
                i32(1 if tc.dtype == np.float16 else 0), roi_dev, i32(ACTIVATIONS[act]),
                i32(channel), f32(-1.0 if threshold is None else threshold)))
        return arr if uniform else [im[..., 0] for im in out.images]

    # cv2.resize's float32 arithmetic differs from the reference's in the last bits.
    return fork(t, cuda=cuda, reference=reference)
