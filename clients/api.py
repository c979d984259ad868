"""A small Python API over the background_blur ensemble.

    from clients.api import BlurClient
    with BlurClient("127.0.0.1:8001", "grpc") as client:
        blurred, mask = client.blur(rgb_uint8_image, sigma=8)
"""
from __future__ import annotations

from typing import Any

import numpy as np

MODEL = "background_blur"


class BlurClient:
    """Blurs image backgrounds through a Triton server (HTTP or gRPC)."""

    def __init__(self, url: str, protocol: str = "http", model: str = MODEL,
                 timeout: float | None = None):
        """timeout: seconds one request may take before it fails (default: tritonclient's,
        60 s over HTTP and none over gRPC)."""
        if protocol not in ("http", "grpc"):
            raise ValueError(f"protocol: expected 'http' or 'grpc', got {protocol!r}")
        if protocol == "http":
            import tritonclient.http as mod
            self.client = mod.InferenceServerClient(url, **(
                {} if timeout is None else {"connection_timeout": timeout, "network_timeout": timeout}))
            self._per_request: dict[str, Any] = {}
        else:
            import tritonclient.grpc as mod
            self.client = mod.InferenceServerClient(url)
            self._per_request = {} if timeout is None else {"client_timeout": timeout}
        self._mod = mod
        self.model = model

    def blur(self, image: np.ndarray, **parameters: Any) -> tuple[np.ndarray, np.ndarray]:
        """(blurred, mask) of one RGB uint8 (H, W, 3) image. Keyword parameters (sigma,
        threshold, morph_ksize, downscale) override the server's config for this request."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image: expected an (H, W, 3) uint8 RGB array, got shape "
                             f"{image.shape} dtype {image.dtype}")
        inp = self._mod.InferInput("IMAGE", [1, *image.shape], "UINT8")
        inp.set_data_from_numpy(np.ascontiguousarray(image[None]))
        outs = [self._mod.InferRequestedOutput(n) for n in ("BLURRED", "MASK")]
        r = self.client.infer(self.model, [inp], outputs=outs, parameters=parameters or None,
                              **self._per_request)
        return r.as_numpy("BLURRED")[0], r.as_numpy("MASK")[0]

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "BlurClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
