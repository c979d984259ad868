"""Before/after pictures of the person matte (issue 23): the pipeline's own output on the
demo photo, before and after the matte's refinement.

    python -m bench.matte_pictures      (writes docs/matte_hair.png, docs/matte_shoulder.png
                                         and docs/matte_astronaut.png)

Runs the repository's fused model (model_repository/background_blur_fused: every step of
pipelines/background_blur.yaml in one process, the unet on onnxruntime's CPU) in-process
on skimage's astronaut (512x512), twice: "before" with the request parameters BEFORE (the
mask before the matte: threshold 0.5, a 5x5 open, no refinement), "after" with none (the
pipeline's defaults: the soft mask at contrast 2, the fast colour-guided filter). Each run
gives BLURRED and MASK. The crop pictures (CROPS) show one crop of the photo at full
resolution, enlarged 2x by nearest neighbour: the mask before and after, the blurred frame
before and after. The overview shows the whole frame, blurred before | after, with the
crops' boxes drawn.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from serving.paths import MODEL_REPOSITORY, REPO_ROOT

MODEL = "background_blur_fused"
#: The request parameters of "before": the mask as it was before the matte (tensor_to_mask
#: threshold 0.5 and a 5x5 open, refine_mask passing it through).
BEFORE = {"threshold": 0.5, "morph_ksize": 5, "refine": "none"}
ZOOM = 2
STRIP = 22          # the label strip's height in pixels
#: Crops (x, y, w, h) of the astronaut photo: her hair against the flag, her shoulder.
CROPS = {"hair": (140, 8, 128, 112), "shoulder": (20, 190, 128, 112)}
BOX_COLOURS = {"hair": (255, 40, 40), "shoulder": (40, 220, 40)}


def pipeline_outputs(img: np.ndarray, overrides: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """BLURRED (H, W, 3) and MASK (H, W), uint8, of the fused model for one RGB image with
    the request parameters ``overrides``."""
    from serving.pipeline.repository import load_repository
    from serving.pipeline.repository_models import model_instance

    entries, _ = load_repository(MODEL_REPOSITORY)
    model = model_instance(entries[MODEL])
    item = {"IMAGE": img}
    params = model.request_params(dict(overrides))
    model.validate(item, params)
    out = model.run_items([item], params)[0]
    return {k: np.asarray(out[k]) for k in ("BLURRED", "MASK")}


def label(panel: np.ndarray, text: str) -> np.ndarray:
    """``panel`` (RGB) under a white strip with ``text``."""
    strip = np.full((STRIP, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])


def side_by_side(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Equal-height RGB panels with a 4-pixel white gap between them."""
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row: list[np.ndarray] = []
    for p in panels:
        row += [p, gap]
    return np.hstack(row[:-1])


def picture(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray],
            crop: tuple[int, int, int, int], name: str) -> np.ndarray:
    """The four labelled panels of one crop, side by side, RGB."""
    x, y, w, h = crop
    cut = lambda a: a[y:y + h, x:x + w]  # noqa: E731
    zoom = lambda a: cv2.resize(a, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    rgb = lambda m: np.repeat(m[..., None], 3, axis=2)  # noqa: E731
    panels = [("mask before", rgb(cut(before["MASK"]))), ("mask after", rgb(cut(after["MASK"]))),
              ("blurred before", cut(before["BLURRED"])), ("blurred after", cut(after["BLURRED"]))]
    return side_by_side([label(zoom(p), f"{name}: {text}") for text, p in panels])


def overview(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> np.ndarray:
    """The whole frame blurred before | after, each with the crops' boxes drawn, RGB."""
    panels = []
    for text, out in (("blurred before", before), ("blurred after", after)):
        p = np.ascontiguousarray(out["BLURRED"]).copy()
        for name, (x, y, w, h) in CROPS.items():
            cv2.rectangle(p, (x - 1, y - 1), (x + w, y + h), BOX_COLOURS[name], 1)
        panels.append(label(p, f"{text} (boxes: {', '.join(CROPS)})"))
    return side_by_side(panels)


def write(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = p.parse_args(argv)
    from skimage import data

    img = data.astronaut()
    before, after = pipeline_outputs(img, BEFORE), pipeline_outputs(img, {})
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, crop in CROPS.items():
        write(args.out_dir / f"matte_{name}.png", picture(before, after, crop, name))
    write(args.out_dir / "matte_astronaut.png", overview(before, after))
    print(f"before: {MODEL} with {BEFORE}; after: {MODEL} with its defaults")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
