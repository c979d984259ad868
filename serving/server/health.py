"""A health check that exercises the service, not only Triton's ready endpoint: one real
``background_blur`` request with a small synthetic frame over HTTP (standard library only,
so it runs inside NGC's image as docker-compose.yml's health check).

    python -m serving.server.health [--url 127.0.0.1:8000] [--model background_blur] [--timeout 10]

Exit 0 when the answer has the expected outputs and shapes, 1 otherwise (the reason on
stderr). Triton 2.51's ready endpoints answer 200 while a dead stub fails every request
(docs/serving.md, Failure and recovery); this check does not.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Sequence

SIDE = 16


def probe_frame() -> list[int]:
    """A SIDE x SIDE x 3 uint8 gradient, row-major, as the JSON protocol's flat data.

    Returns:
        SIDE * SIDE * 3 integers in 0..255.
    """
    return [(x * 16 + y * 8 + c * 64) % 256 for y in range(SIDE) for x in range(SIDE) for c in range(3)]


def check(url: str, model: str = "background_blur", timeout: float = 10.0) -> str | None:
    """Send one real request and check the answer's outputs and shapes.

    Args:
        url: the server's HTTP host:port.
        model: the pipeline asked (IMAGE in; BLURRED and MASK out).
        timeout: seconds the request may take.

    Returns:
        None when ``model`` answers correctly, else why not.
    """
    body = {"inputs": [{"name": "IMAGE", "shape": [1, SIDE, SIDE, 3], "datatype": "UINT8",
                        "data": probe_frame()}],
            "outputs": [{"name": "BLURRED"}, {"name": "MASK"}]}
    req = urllib.request.Request(f"http://{url}/v2/models/{model}/infer",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        return f"{model}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}"
    except (OSError, ValueError) as e:
        return f"{model}: {type(e).__name__}: {e}"
    shapes = {o["name"]: o.get("shape") for o in answer.get("outputs", [])}
    want = {"BLURRED": [1, SIDE, SIDE, 3], "MASK": [1, SIDE, SIDE]}
    if shapes != want:
        return f"{model}: expected outputs {want}, got {shapes}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m serving.server.health``: check the service, the reason on stderr.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: 0 healthy, 1 not.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="127.0.0.1:8000", help="the server's HTTP host:port")
    p.add_argument("--model", default="background_blur")
    p.add_argument("--timeout", type=float, default=10.0)
    args = p.parse_args(argv)
    why = check(args.url, args.model, args.timeout)
    if why is not None:
        print(f"unhealthy: {why}", file=sys.stderr)
        return 1
    print(f"healthy: {args.model} answered at {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
