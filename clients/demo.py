"""`make demo`: blur the background of a real photo through a real, embedded Triton server.

Starts the server, sends scikit-image's astronaut photo through the background_blur
ensemble over gRPC, writes out/astronaut_blurred.png and out/astronaut_mask.png.
"""
from __future__ import annotations

import sys
import time


def main() -> int:
    """Start the embedded server, blur the astronaut photo, write the result and its mask to out/.

    Returns:
        0.

    Raises:
        ServerError: the server did not start.
    """
    from skimage import data

    from serving.paths import REPO_ROOT
    from serving.server import EmbeddedServer

    from .api import BlurClient
    from .blur import write_png

    out = REPO_ROOT / "out"
    img = data.astronaut()
    print("starting the embedded Triton server (tritonserver 2.51, Python backend) ...", flush=True)
    with EmbeddedServer() as server, BlurClient(server.grpc_url, "grpc") as client:
        t = time.perf_counter()
        blurred, mask = client.blur(img)
        ms = (time.perf_counter() - t) * 1e3
    write_png(out / "astronaut_blurred.png", blurred)
    write_png(out / "astronaut_mask.png", mask)
    print(f"background_blur on a {img.shape[1]}x{img.shape[0]} photo: {ms:.0f} ms, "
          f"person covers {(mask > 127).mean():.0%} of the frame, its soft edge "
          f"{((mask > 0) & (mask < 255)).mean():.1%}")
    print(f"wrote {out / 'astronaut_blurred.png'} and {out / 'astronaut_mask.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
