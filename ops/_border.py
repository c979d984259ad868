"""Border modes, numbered as OpenCV's BORDER_* (and kernels/common.cuh)."""
from __future__ import annotations

import numpy as np

from ._validate import check_choice

BORDERS = {"constant": 0, "replicate": 1, "reflect": 2, "wrap": 3, "reflect101": 4}


def border_code(border: str, name: str = "border") -> int:
    return BORDERS[check_choice(border, name, BORDERS)]


def border_index(p: np.ndarray, length: int, border: str) -> np.ndarray:
    """cv::borderInterpolate over an index array; -1 marks 'constant value'."""
    p = np.asarray(p, dtype=np.int64)
    inside = (p >= 0) & (p < length)
    if border == "constant":
        return np.where(inside, p, -1)
    if border == "replicate":
        return np.clip(p, 0, length - 1)
    if length == 1:
        return np.zeros_like(p)
    if border == "wrap":
        return np.mod(p, length)
    # reflect (edge pixel repeated) has period 2*len; reflect101 (not repeated) 2*len-2.
    if border == "reflect":
        period = 2 * length
        q = np.mod(p, period)
        return np.where(q < length, q, period - 1 - q)
    period = 2 * length - 2
    q = np.mod(p, period)
    return np.where(q < length, q, period - q)
