"""Before/after pictures of the person matte (issue 23), from the real DNN on the demo photo.

    python -m bench.matte_pictures      (writes docs/matte_hair.png and docs/matte_shoulder.png)

Runs background_blur's steps in-process, with the parameters of pipelines/background_blur.yaml
and the models' defaults (serving/models/): resize fit into 256x256 (linear), pad to 256x256
(value 0), image_to_tensor (scale 1/255, mean 0, std 1), the unet (model_repository/unet/1/
model.onnx, onnxruntime on the CPU), tensor_to_mask (activation none). Before: threshold 0.5
and a 5x5 open (today's mask). After: the refinement AFTER (bench/matting_bench.py's
recommended default unless changed; ``--refinement`` names another of its sweep) of its
input: today's mask for the "of hard" ones, else the soft mask (threshold none). Both are
composited with ops.blur_background (sigma 12). Each picture is one crop of the photo at
full resolution, enlarged 2x by nearest neighbour: the mask before, the alpha after, the
blurred frame before and after.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

import ops
from bench.matting_bench import RECOMMENDED, Refinement, sweep
from serving.models.geometry import resize_target
from serving.paths import MODEL_REPOSITORY, REPO_ROOT

NET = 256
SIGMA = 12.0
ZOOM = 2
#: The "after" picture's refinement, by its name in bench/matting_bench.py's sweep: the
#: benchmark's recommended default (bench/results/matting_cpu-2core.md). The first run's
#: pictures drew "fast guided grey s=4 r=4@720p eps=1e-05*255^2".
AFTER = RECOMMENDED.name
#: Crops (x, y, w, h) of the astronaut photo: her hair against the flag, her shoulder.
CROPS = {"hair": (140, 8, 128, 112), "shoulder": (20, 190, 128, 112)}


def probability(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The unet's output (1, 1, 256, 256) for ``img`` and the letterbox's ROI (x, y, w, h)."""
    from segmentation.runner import SegmentationRunner

    h, w = img.shape[:2]
    nh, nw = resize_target(h, w, {"height": NET, "width": NET, "mode": "fit"})
    small = ops.resize(img, (nh, nw), "linear")
    y, x = (NET - nh) // 2, (NET - nw) // 2
    padded = ops.pad(small, y, NET - nh - y, x, NET - nw - x, "constant", 0)
    runner = SegmentationRunner(MODEL_REPOSITORY / "unet" / "1" / "model.onnx", device="cpu")
    return runner.run(ops.image_to_tensor(padded[None])), (x, y, nw, nh)


def masks(img: np.ndarray, refinement: Refinement) -> tuple[np.ndarray, np.ndarray]:
    """(today's mask, the refined alpha), uint8 (H, W)."""
    prob, roi = probability(img)
    size = img.shape[:2]
    hard = ops.tensor_to_mask(prob, roi=roi, size=size, activation="none", threshold=0.5)[0]
    before = ops.morphology(hard, "open", 5)
    soft = ops.tensor_to_mask(prob, roi=roi, size=size, activation="none", threshold=None)[0]
    # Refinement's "hard" input thresholds the soft mask at 128, which is p >= 0.5 up to
    # uint8 rounding; give it today's mask exactly (its threshold and open leave it as is).
    after = refinement(before, img) if refinement.input == "hard" else refinement(soft, img)
    return before, after


def label(panel: np.ndarray, text: str) -> np.ndarray:
    """``panel`` (RGB) under a white strip with ``text``."""
    strip = np.full((22, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])


def picture(img: np.ndarray, before: np.ndarray, after: np.ndarray, crop: tuple[int, int, int, int],
            name: str) -> np.ndarray:
    """The four labelled panels of one crop, side by side, RGB."""
    x, y, w, h = crop
    cut = lambda a: a[y:y + h, x:x + w]  # noqa: E731
    zoom = lambda a: cv2.resize(a, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    rgb = lambda m: np.repeat(m[..., None], 3, axis=2)  # noqa: E731
    blur_b = ops.blur_background(img, before, SIGMA)
    blur_a = ops.blur_background(img, after, SIGMA)
    panels = [("mask before", rgb(cut(before))), ("alpha after", rgb(cut(after))),
              ("blurred before", cut(blur_b)), ("blurred after", cut(blur_a))]
    gap = np.full((h * ZOOM + 22, 4, 3), 255, np.uint8)
    row = []
    for text, p in panels:
        row += [label(zoom(p), f"{name}: {text}"), gap]
    return np.hstack(row[:-1])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--refinement", default=AFTER, help="a refinement of bench/matting_bench.py's sweep, by name")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = p.parse_args(argv)
    refs = {r.name: r for r in sweep()}
    if args.refinement not in refs:
        p.error(f"--refinement: not in bench/matting_bench.py's sweep: {args.refinement!r}")
    from skimage import data

    img = data.astronaut()
    before, after = masks(img, refs[args.refinement])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, crop in CROPS.items():
        path = args.out_dir / f"matte_{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(picture(img, before, after, crop, name), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    print(f"after: {args.refinement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
