"""Run a segmentation ONNX model with onnxruntime on NumPy or CuPy batches.

The model's contract (input size, normalisation, colour order, output activation) is a
``ModelSpec`` read from config parameters, so another segmentation ONNX can be swapped in
without code changes (docs/segmentation-model.md).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .build import BUILD_COMMAND


@dataclass(frozen=True)
class ModelSpec:
    """What a segmentation model expects and returns.

    input = (pixel * scale - mean) / std, in ``channel_order``; ``activation`` is what the
    pipeline must still apply to the output ("none" when the model ends in a sigmoid).
    """
    input_height: int = 256
    input_width: int = 256
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1 / 255
    channel_order: str = "RGB"
    activation: str = "none"
    person_channel: int = 0

    @classmethod
    def from_parameters(cls, params: Mapping[str, str]) -> "ModelSpec":
        """From Triton config parameters (strings); unknown keys are ignored by the caller."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in params:
                continue
            raw = str(params[f.name])
            if f.name in ("mean", "std"):
                vals = [float(v) for v in raw.replace(",", " ").split()]
                kw[f.name] = tuple(vals * 3 if len(vals) == 1 else vals)
            elif f.name == "scale":
                kw[f.name] = float(eval_fraction(raw))
            elif f.type in ("int", int):
                kw[f.name] = int(raw)
            else:
                kw[f.name] = raw
        spec = cls(**kw)
        if spec.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order: expected RGB or BGR, got {spec.channel_order!r}")
        if spec.activation not in ("none", "sigmoid", "softmax", "argmax"):
            raise ValueError(f"activation: expected none, sigmoid, softmax or argmax, got {spec.activation!r}")
        if len(spec.mean) != 3 or len(spec.std) != 3 or min(spec.std) <= 0:
            raise ValueError(f"mean/std: expected 1 or 3 values, std > 0; got {spec.mean}, {spec.std}")
        return spec


def eval_fraction(text: str) -> float:
    """'1/255' or '0.0039' -> float (config files read better with fractions)."""
    if "/" in text:
        a, b = text.split("/", 1)
        return float(a) / float(b)
    return float(text)


class ModelFileError(FileNotFoundError):
    """The ONNX file is missing or unreadable; says which command builds it."""


class SegmentationRunner:
    """An onnxruntime session over one segmentation model.

    device: "auto" (CUDA provider when onnxruntime offers it and a GPU is present),
    "cuda" or "cpu". ``run`` takes (N, C, H, W) float32 NumPy or CuPy and returns the
    model output (N, K, H, W) as the same kind; CuPy batches are bound to device memory
    with IO binding (no host copy).
    """

    def __init__(self, model_path: str | Path, device: str = "auto", threads: int = 0):
        import onnxruntime as ort

        path = Path(model_path)
        if not path.is_file():
            raise ModelFileError(f"segmentation model {path} is missing; build it with {BUILD_COMMAND}")
        available = ort.get_available_providers()
        use_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in available
                                        and _cuda_device_count() > 0)
        if device == "cuda" and "CUDAExecutionProvider" not in available:
            raise RuntimeError(f"device='cuda' but onnxruntime offers only {available}")
        providers = (["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda
                     else ["CPUExecutionProvider"])
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
            raise ModelFileError(f"segmentation model {path} cannot be loaded ({e}); rebuild it "
                                 f"with {BUILD_COMMAND}") from None
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.input_shape = self.session.get_inputs()[0].shape

    @property
    def on_gpu(self) -> bool:
        return self.providers[0] == "CUDAExecutionProvider"

    def run(self, x: Any) -> Any:
        """(N, C, H, W) float32 -> (N, K, H, W) float32, one session run for the batch."""
        if x.ndim != 4 or x.dtype != np.float32:
            raise ValueError(f"x: expected (N, C, H, W) float32, got shape {tuple(x.shape)} "
                             f"dtype {x.dtype}")
        if type(x).__module__.split(".")[0] == "cupy":
            return self._run_cupy(x)
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x)})[0]

    def _run_cupy(self, x: Any) -> Any:
        import cupy

        if not self.on_gpu:
            # CPU provider: the host copy is unavoidable; give a CuPy array back all the same.
            return cupy.asarray(self.run(cupy.asnumpy(x)))
        x = cupy.ascontiguousarray(x)
        out_shape = self._output_shape(x.shape)
        y = cupy.empty(out_shape, dtype=cupy.float32)
        dev = x.device.id
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", dev, np.float32, list(x.shape), x.data.ptr)
        binding.bind_output(self.output_name, "cuda", dev, np.float32, list(y.shape), y.data.ptr)
        # onnxruntime's CUDA provider runs on its own stream: order it after ours.
        cupy.cuda.get_current_stream().synchronize()
        self.session.run_with_iobinding(binding)
        return y

    def _output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        out = self.session.get_outputs()[0].shape
        return tuple(in_shape[0] if not isinstance(d, int) else d for d in out)


def _cuda_device_count() -> int:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver, no GPU
        return 0
