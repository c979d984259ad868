"""perf_analyzer input data made from real photos (scikit-image ships them offline)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

# Named workloads: the frame sizes (h, w) each request cycles through.
WORKLOADS: dict[str, list[tuple[int, int]]] = {
    "720p": [(720, 1280)],
    "1080p": [(1080, 1920)],
    "mixed": [(720, 1280), (1080, 1920), (480, 640), (611, 457), (1080, 1080)],
}
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def real_photos() -> list[np.ndarray]:
    """The PHOTOS bundled with scikit-image (people, a cat, objects).

    Returns:
        (H, W, 3) uint8 RGB arrays, contiguous (the grayscale cameraman as three equal channels).
    """
    from skimage import data

    out = []
    for name in PHOTOS:
        img = getattr(data, name)()
        if img.ndim == 2:  # the cameraman is grayscale
            img = np.stack([img] * 3, axis=-1)
        out.append(np.ascontiguousarray(img[..., :3]))
    return out


def photo_at(size: tuple[int, int], index: int = 0) -> np.ndarray:
    """A real photo scaled to exactly ``size`` (bilinear, Pillow).

    Args:
        size: (h, w) of the result.
        index: which of PHOTOS (wrapping around).

    Returns:
        (h, w, 3) uint8 RGB (cv2.resize(photo, (w, h), interpolation=cv2.INTER_LINEAR) in
        OpenCV).
    """
    from PIL import Image

    photo = real_photos()[index % len(PHOTOS)]
    h, w = size
    return np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR))


def frames(workload: str) -> list[np.ndarray]:
    """The frames of a named workload (see WORKLOADS), one photo per frame.

    Args:
        workload: a key of WORKLOADS.

    Returns:
        (h, w, 3) uint8 RGB arrays, one per size of the workload.

    Raises:
        ValueError: an unknown workload.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"workload: expected one of {', '.join(WORKLOADS)}, got {workload!r}")
    return [photo_at(s, i) for i, s in enumerate(WORKLOADS[workload])]


def write_input_data(path: Path, images: list[np.ndarray], input_name: str = "IMAGE") -> Path:
    """Write perf_analyzer --input-data JSON: one entry per image, binary as base64.

    Each entry carries its own shape, so variable-size frames work with dynamic dims.

    Args:
        path: the JSON file to write (its folder is created).
        images: uint8 arrays, e.g. (H, W, 3) frames or (N,) encoded files.
        input_name: the model input the data feeds.

    Returns:
        ``path``.
    """
    entries = [{input_name: {"b64": base64.b64encode(np.ascontiguousarray(im).tobytes()).decode(),
                             "shape": list(im.shape)}} for im in images]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": entries}))
    return path


def main() -> None:
    """Write the input data of a workload (``--workload``, ``--out``, ``--encode``)."""
    import argparse

    import ops

    p = argparse.ArgumentParser(description="Write perf_analyzer input data from real photos.")
    p.add_argument("--workload", choices=list(WORKLOADS), default="720p")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--encode", choices=ops.FORMATS,
                   help="send the frames as files of this format (input ENCODED), quality 90")
    args = p.parse_args()
    if args.encode:
        files = ops.encode(frames(args.workload), args.encode, 90)
        print(write_input_data(args.out, files, "ENCODED"))
    else:
        print(write_input_data(args.out, frames(args.workload)))


if __name__ == "__main__":
    main()
