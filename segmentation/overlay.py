"""Write docs/astronaut_mask.png: the astronaut photo with the model's person mask.

    python -m segmentation.overlay [--out docs/astronaut_mask.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .build import DEFAULT_OUT, ROOT
from .runner import SegmentationRunner


def stretch_to(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear stretch with Pillow (this module must not depend on ops/).

    Args:
        img: (H, W, 3) or (H, W) uint8.
        h: the height wanted.
        w: the width wanted.

    Returns:
        (h, w[, 3]) uint8 (cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) in OpenCV).
    """
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))


def person_probability(runner: SegmentationRunner, img: np.ndarray) -> np.ndarray:
    """Person probability of an image, MediaPipe-style.

    The frame is stretched to the model's 256x256 and scaled to [0, 1]; the model's output is
    stretched back.

    Args:
        runner: the segmentation model.
        img: (H, W, 3) uint8 RGB.

    Returns:
        (H, W) float64 in [0, 1], quantized to 1/255 steps.
    """
    x = stretch_to(img, 256, 256).astype(np.float32).transpose(2, 0, 1)[None] / 255
    p = runner.run(x)[0, 0]
    return np.asarray(stretch_to((p * 255).round().astype(np.uint8), *img.shape[:2])) / 255


def main() -> None:
    """Write the overlay (``--out``, default docs/astronaut_mask.png)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "astronaut_mask.png")
    args = p.parse_args()
    from PIL import Image
    from skimage import data

    img = data.astronaut()
    prob = person_probability(SegmentationRunner(DEFAULT_OUT), img)
    tint = np.array([255, 0, 255], np.float32)
    alpha = 0.45 * (prob >= 0.5)[..., None]
    over = (img * (1 - alpha) + tint * alpha).astype(np.uint8)
    small = Image.fromarray(np.concatenate([img, over], axis=1)).resize((512, 256), Image.BILINEAR)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # A 256-colour palette keeps the committed PNG small.
    small.quantize(256).save(args.out, optimize=True)
    print(f"wrote {args.out} (left: input, right: person mask at 0.5 in magenta)")


if __name__ == "__main__":
    main()
