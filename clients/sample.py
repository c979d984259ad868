"""Write sample photos (bundled with scikit-image, offline) to a folder, for trying the CLI.

    python -m clients.sample out/photos
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea")


def main(argv: list[str] | None = None) -> int:
    """Write PHOTOS as PNG files into the folder given.

    Args:
        argv: the arguments, one folder (default: sys.argv[1:]).

    Returns:
        The exit status: 0 written, 2 without exactly one argument.
    """
    from PIL import Image
    from skimage import data

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m clients.sample FOLDER", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        Image.fromarray(np.asarray(getattr(data, name)())).save(out / f"{name}.png")
    print(f"wrote {', '.join(PHOTOS)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
