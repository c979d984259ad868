"""The size of Triton's CUDA memory pool, one ``--cuda-memory-pool-byte-size`` per GPU.

GPU tensors passed between Python-backend steps are allocated from that pool. Triton's
default is 64 MiB and the pool cannot grow: when it is full, Triton falls back to pinned
host memory (one warning in its log) and the next step silently gets a host tensor, a
PCIe round trip per frame. Sizing rule (docs/serving.md, "CUDA memory pool"):

    pool = HEADROOM x max_batch_size x device bytes of one frame in flight

where a frame of H x W in background_blur holds 7 x H x W bytes on the device between steps
(the uploaded frame 3, MASK 1, BLURRED 3) plus the DNN-sized tensors (RESIZED, PADDED,
TENSOR, OUTPUT at 256 x 256: 22 x 256 x 256 bytes), max_batch_size is the largest of the
repository's ensembles, and HEADROOM = 2 lets one batch be computed while the next one
gathers. The largest frame defaults to the service's limit (MAX_SIDE x MAX_SIDE).

    python -m serving.server.gpu_pool [--max-frame 1920x1080]   # prints the tritonserver flags
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Sequence

from ..device import MIB
from ..paths import MODEL_REPOSITORY
from ..requests import MAX_SIDE

HEADROOM = 2
BYTES_PER_PIXEL = 7                 # uploaded frame (3) + MASK (1) + BLURRED (3)
DNN_TENSOR_BYTES = 22 * 256 * 256   # RESIZED 3 + PADDED 3 + TENSOR 12 + OUTPUT 4 per pixel


def pool_bytes(max_batch_size: int, height: int = MAX_SIDE, width: int = MAX_SIDE) -> int:
    """Bytes of CUDA memory pool per GPU for ``max_batch_size`` frames of height x width in flight.

    Args:
        max_batch_size: frames per batch (the largest ensemble's).
        height: the largest frame's height.
        width: the largest frame's width.

    Returns:
        HEADROOM x max_batch_size x (one frame's device bytes), rounded up to whole MiB.

    Raises:
        ValueError: a value below 1.
    """
    if max_batch_size < 1 or height < 1 or width < 1:
        raise ValueError(f"expected max_batch_size, height, width >= 1, got "
                         f"{max_batch_size}, {height}, {width}")
    frame = BYTES_PER_PIXEL * height * width + DNN_TENSOR_BYTES
    return math.ceil(HEADROOM * max_batch_size * frame / MIB) * MIB


def ensemble_max_batch_size(repository: Path = MODEL_REPOSITORY) -> int:
    """The largest max_batch_size among the repository's ensembles.

    Args:
        repository: the model repository.

    Returns:
        That size (1 when there are none, or when each has 0).
    """
    from ..pipeline.repository import load_repository

    models, _ = load_repository(repository)
    return max((max(m.config.max_batch_size, 1) for m in models.values() if m.is_ensemble), default=1)


def gpu_ids() -> list[int]:
    """The CUDA devices this process sees (CUDA_VISIBLE_DEVICES applies).

    Returns:
        Their ordinals; none without CuPy, a driver or a device.
    """
    try:
        import cupy
        return list(range(cupy.cuda.runtime.getDeviceCount()))
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device
        return []


def pool_flags(gpus: Sequence[int], nbytes: int) -> list[str]:
    """One --cuda-memory-pool-byte-size flag per GPU.

    Args:
        gpus: the device ordinals.
        nbytes: the pool size of each.

    Returns:
        The flags.
    """
    return [f"--cuda-memory-pool-byte-size={g}:{nbytes}" for g in gpus]


def server_pool_flags(repository: Path = MODEL_REPOSITORY, height: int = MAX_SIDE,
                      width: int = MAX_SIDE, gpus: Sequence[int] | None = None) -> list[str]:
    """The pool flags for a server of ``repository`` on this machine's GPUs.

    Args:
        repository: the model repository (its largest ensemble batch sizes the pool).
        height: the largest frame's height.
        width: the largest frame's width.
        gpus: the device ordinals (default: those this process sees).

    Returns:
        The flags; none without a GPU.
    """
    gpus = gpu_ids() if gpus is None else gpus
    return pool_flags(gpus, pool_bytes(ensemble_max_batch_size(repository), height, width))


def parse_frame(text: str) -> tuple[int, int]:
    """'1920x1080' -> (height 1080, width 1920).

    Args:
        text: WIDTHxHEIGHT, each side 1..MAX_SIDE.

    Returns:
        (height, width).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or not (1 <= int(m.group(1)) <= MAX_SIDE and 1 <= int(m.group(2)) <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with sides 1..{MAX_SIDE}, "
                                         f"got {text!r}")
    return int(m.group(2)), int(m.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tritonserver pool flags for this machine's GPUs (nothing without one).

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        0.
    """
    p = argparse.ArgumentParser(description="Print tritonserver's --cuda-memory-pool-byte-size "
                                            "flags for this machine's GPUs (nothing without one).")
    p.add_argument("--max-frame", type=parse_frame, default=(MAX_SIDE, MAX_SIDE),
                   metavar="WxH", help=f"largest frame served (default {MAX_SIDE}x{MAX_SIDE})")
    p.add_argument("--model-repository", type=Path, default=MODEL_REPOSITORY)
    p.add_argument("--gpus", type=int, default=None, help="number of GPUs (default: detect)")
    args = p.parse_args(argv)
    gpus = None if args.gpus is None else list(range(args.gpus))
    print(" ".join(server_pool_flags(args.model_repository, *args.max_frame, gpus=gpus)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
