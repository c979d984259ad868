"""Model I/O: image_to_tensor (cv2.dnn.blobFromImage-like) and tensor_to_mask."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from . import _resample as rs
from ._batch import allocate, as_batch, empty_batch
from ._dispatch import call_implementation
from ._gpu import device_constant
from ._launch import f32, i32, image_table, launch
from ._validate import (check_choice, check_int, check_real, check_roi, check_size, describe, fail,
                        per_channel, per_image)
from .arrays import array_module, is_cupy


def to_tensor_lut(c: int, mean: Any, std: Any, scale: float, dtype: Any) -> np.ndarray:
    """The (C, 256) lookup table of image_to_tensor: (v * scale - mean[c]) / std[c] for every
    uint8 level v, computed in float64 and rounded once.

    Args:
        c: channels; mean, std: a number or c numbers (std > 0); scale: float;
        dtype: float32 or float16.
    Returns:
        (c, 256) array of ``dtype``.
    Raises:
        TypeError / ValueError: a bad mean or std.
    """
    m = np.array(per_channel(mean, c, "mean"))
    s = np.array(per_channel(std, c, "std", positive=True))
    v = np.arange(256, dtype=np.float64)[None, :]
    return ((v * scale - m[:, None]) / s[:, None]).astype(dtype)


def image_to_tensor(img: Any, mean: Any = 0.0, std: Any = 1.0, scale: float = 1 / 255,
                    swap_rb: bool = False, dtype: str = "float32") -> Any:
    """uint8 HWC images -> (N, C, H, W) float tensor: out = (img * scale - mean) / std.

    Each value is computed in float64 and rounded once to dtype (exact per uint8 level, via a
    256-entry table per channel). OpenCV: for a scalar std, ``cv2.dnn.blobFromImage(img,
    scalefactor=scale / std, mean=mean / scale, swapRB=swap_rb)`` gives the same values up to
    its float32 rounding; CV-CUDA: ``cvcuda.convertto`` + ``cvcuda.reformat``.

    Args:
        img: uint8 (H, W[, C]) (-> N = 1), (N, H, W, C) or a list of equally sized images;
            C in 1, 3, 4; NumPy or CuPy.
        mean, std: a number or one per output channel (std > 0).
        scale: float.
        swap_rb: swap channels 0 and 2 first (C >= 3); mean/std refer to the swapped order.
        dtype: "float32" or "float16".
    Returns:
        (N, C, H, W) array of dtype, in the input's memory.
    Raises:
        TypeError / ValueError: a bad image (sizes differ), mean, std, scale, swap_rb or dtype.
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
        # time (a lookup, so identical, and faster: measured in docs/performance.md).
        batch = b.array if b.array is not None else np.stack(b.images)  # one size
        planes = cv2.split(batch.reshape(b.n * h, w, c))
        out = np.empty((b.n, c, h, w), dtype=dt)
        for k in range(c):
            out[:, k] = cv2.LUT(planes[order[k]], lut[k].reshape(1, 256)).reshape(b.n, h, w)
        return out

    def cuda() -> Any:
        out = allocate(b.xp, (b.n, c, h, w), dt)
        launch("tensor", "to_tensor_f32" if dt == np.float32 else "to_tensor_f16", b.n, h, w,
               (image_table(b), i32(b.n), i32(c), i32(c), device_constant(b.xp, lut), out,
                i32(1 if swap_rb else 0)))
        return out

    return call_implementation(b, cuda=cuda, reference=reference, opencv=opencv)

ACTIVATIONS = {"none": 0, "sigmoid": 1, "softmax": 2, "argmax": 3}


def activate(t: np.ndarray, activation: str, channel: int) -> np.ndarray:
    """One image's logits -> the probability of ``channel`` (tensor_to_mask's reference).

    Args:
        t: (K, h, w) float logits; activation: "sigmoid", "softmax", "argmax" or "none";
        channel: 0 <= channel < K.
    Returns:
        (h, w) float32: sigmoid of t[channel]; softmax over K at channel; 1.0 where argmax
        over K == channel else 0.0; or t[channel] clipped to [0, 1].
    Raises:
        IndexError: channel >= K (argmax: all 0.0 instead).
    """
    t = t.astype(np.float32)
    if activation == "sigmoid":
        return (np.float32(1) / (np.float32(1) + np.exp(-t[channel]))).astype(np.float32)
    if activation == "softmax":
        e = np.exp(t - t.max(axis=0))
        return (e[channel] / e.sum(axis=0)).astype(np.float32)
    if activation == "argmax":
        return (np.argmax(t, axis=0) == channel).astype(np.float32)
    return np.clip(t[channel], 0, 1).astype(np.float32)


def tensor_to_mask(t: Any, roi: Any = None, size: Any = None, activation: str = "sigmoid",
                   channel: int = 0, threshold: float | None = None,
                   contrast: float = 1.0) -> Any:
    """Segmentation output -> uint8 masks 0..255.

    activation -> crop the letterbox roi (x, y, w, h) in tensor pixels -> bilinear float
    resize to size -> rint(p * 255), or with threshold: 255 where p >= threshold, else 0. A
    soft mask's contrast (> 1) first stretches p around 0.5: clip((p - 0.5) contrast + 0.5,
    0, 1) in float32, narrowing the network's soft ramp (docs/matte.md).
    The GPU runs one fused kernel (activation evaluated at the resize taps). OpenCV:
    ``cv2.resize(INTER_LINEAR)`` on float32 after the activation (its float32 arithmetic
    differs in the last bits, so NumPy input runs the reference).

    Args:
        t: float32/float16 (N, K, h, w) or (K, h, w); NumPy or CuPy.
        roi: (x, y, w, h) inside the tensor, or a list, one per image; default all of it.
        size: (H, W), or a list, one per image; default the roi's size.
        activation: "sigmoid" of channel, "softmax" over K then channel, "argmax" (1 where
            argmax over K == channel) or "none" (clip to [0, 1]).
        channel: 0 <= channel < K.
        threshold: None, or a number in (0, 1).
        contrast: a number >= 1, for a soft mask (threshold None); 1 leaves p as it is.
    Returns:
        (N, H, W) uint8 when every mask has one size, else a list of (H, W) uint8.
    Raises:
        TypeError / ValueError: a bad tensor, roi, size, activation, channel, threshold or
            contrast.
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
    contrast = check_real(contrast, "contrast", 1.0)
    rois = per_image((0, 0, tw, th) if roi is None else roi, n, "roi", check_roi)
    for i, (x, y, w, h) in enumerate(rois):
        if x + w > tw or y + h > th:
            fail("roi" if n == 1 else f"roi[{i}]", f"a region inside the {th}x{tw} tensor", (x, y, w, h))
    sizes = ([(h, w) for _, _, w, h in rois] if size is None
             else per_image(size, n, "size", check_size))
    uniform = len(set(sizes)) == 1

    def reference() -> Any:
        masks = []
        for i, (x, y, w, h) in enumerate(rois):
            p = activate(t[i], act, channel)[y:y + h, x:x + w, None]
            p = rs.resize_image(np.ascontiguousarray(p), *sizes[i], rs.INTERP["linear"])[..., 0]
            masks.append(_to_mask(p, threshold, contrast).astype(np.uint8))
        return np.stack(masks) if uniform else masks

    def fast() -> Any:
        # reference()'s values by the same float32 operations per element: the bilinear resize
        # plane-wise a chunk of rows at a time (rs.row_pass, rs.lerp_rows: no gathers of
        # full-size rows), each chunk's rounding in place while it is in cache, straight into
        # the output.
        out = np.empty((n, *sizes[0]), np.uint8) if uniform else [np.empty(s, np.uint8) for s in sizes]
        for i, (x, y, w, h) in enumerate(rois):
            p = activate(t[i], act, channel)[y:y + h, x:x + w]
            dh, dw = sizes[i]
            if rs.choose_mode(h, w, dh, dw, rs.INTERP["linear"])[0] == rs.MODE_LINEAR:
                rows, chunks = rs.row_pass([p], dw)[0], rs.row_chunks(h, dh, dw)
            else:  # the same size, or an exact 2x shrink (INTER_AREA's): the reference's resize
                rows = rs.resize_image(np.ascontiguousarray(p[:, :, None]), dh, dw, rs.INTERP["linear"])[..., 0]
                m = max(1, rs.CHUNK // dw)
                chunks = [(slice(r, min(dh, r + m), 1), min(dh, r + m) - r) for r in range(0, dh, m)]
            buf = np.empty((max(c[1] for c in chunks), dw), np.float32)
            tmp = np.empty_like(buf)
            for c in chunks:
                q = buf[:c[1]]
                if len(c) == 2:
                    q[...] = rows[c[0]]
                else:
                    rs.lerp_rows(rows, c, q, tmp[:c[1]])
                out[i][c[0]] = _to_mask(q, threshold, contrast)
        return out

    def cuda() -> Any:
        xp = array_module(t)
        tc = xp.ascontiguousarray(t)
        out = empty_batch(xp, sizes, 1, np.uint8, "batch" if uniform else "list", squeeze=True)
        roi_dev = xp.asarray(np.array(rois, dtype=np.int32).T.copy())
        H, W = max(h for h, _ in sizes), max(w for _, w in sizes)
        launch("tensor", "tensor_to_mask", n, H, W,
               (image_table(out), i32(n), i32(k), i32(1), tc, i32(th), i32(tw),
                i32(1 if tc.dtype == np.float16 else 0), roi_dev, i32(ACTIVATIONS[act]),
                i32(channel), f32(-1.0 if threshold is None else threshold), f32(contrast)))
        return out.unwrap()

    # cv2.resize's float32 arithmetic differs from the reference's in the last bits: NumPy
    # input runs the reference's arithmetic, faster (fast).
    return call_implementation(t, cuda=cuda, reference=reference, opencv=fast)


def _to_mask(p: np.ndarray, threshold: float | None, contrast: float) -> np.ndarray:
    """tensor_to_mask's tail on float32 probabilities p (overwritten): uint8 255 where
    p >= threshold else 0; or the contrast stretch (fmax / fmin: a NaN probability becomes
    0, as the kernel's fmaxf / fminf) and rint(p * 255) clipped to 0..255, left in p as
    float32 for the caller's uint8 store."""
    if threshold is not None:
        return np.where(p >= np.float32(threshold), np.uint8(255), np.uint8(0))
    if contrast != 1:
        half = np.float32(0.5)
        np.subtract(p, half, out=p)
        np.multiply(p, np.float32(contrast), out=p)
        np.add(p, half, out=p)
        np.fmax(p, np.float32(0), out=p)
        np.fmin(p, np.float32(1), out=p)
    np.multiply(p, np.float32(255), out=p)
    np.rint(p, out=p)
    np.clip(p, 0, 255, out=p)
    return p
