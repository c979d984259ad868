"""Rehearsal of the GPU route's server half on any machine: the embedded server from the
unpacked carry, one background_blur request over HTTP and one over gRPC compared byte for byte
with the CPU path, the placement counters, and a short perf_analyzer run (the carried binary
and its libraries). Run by bench/gpu/rehearse.sh with the venv that setup.sh made."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from skimage import data

    from clients.perf.inputs import write_input_data
    from clients.perf.sweep import Config, run_perf_analyzer
    from segmentation.build import DEFAULT_OUT
    from segmentation.runner import SegmentationRunner
    from tests import reference
    from serving.server import EmbeddedServer
    from tests.helpers import infer, placement_counters

    img = np.ascontiguousarray(data.astronaut())
    ref_blurred, ref_mask = reference.background_blur(img, SegmentationRunner(DEFAULT_OUT, device="cpu"))
    log = Path(tempfile.mkdtemp()) / "triton.log"
    t = time.monotonic()
    with EmbeddedServer(log_path=log) as s:
        print(f"smoke: server ready in {time.monotonic() - t:.1f} s (log {log})", flush=True)
        for protocol, url in (("http", s.http_url), ("grpc", s.grpc_url)):
            t = time.monotonic()
            o = infer(url, protocol, "background_blur", {"IMAGE": img[None]})
            same = np.array_equal(o["BLURRED"][0], ref_blurred) and np.array_equal(o["MASK"][0], ref_mask)
            print(f"smoke: background_blur over {protocol} in {time.monotonic() - t:.2f} s, "
                  f"equal to the CPU path: {same}", flush=True)
            if not same:
                return 1
        counters = placement_counters(s)
        print(f"smoke: {len(counters)} placement counter series on the metrics endpoint", flush=True)
        for key, count in list(counters.items())[:4]:
            print(f"  {key}: {count:g}")
        with tempfile.TemporaryDirectory() as tmp:
            data_json = write_input_data(Path(tmp) / "in.json", [img])
            rows = run_perf_analyzer(Config("background_blur", "720p", "grpc", "system"),
                                     s.grpc_url, [1], data_json, measurement_ms=1000, timeout_s=120)
            print(f"smoke: perf_analyzer (carried) {float(rows[0]['Inferences/Second']):.2f} infer/s "
                  f"at concurrency 1, system shared memory", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
