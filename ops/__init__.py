"""triton-vision-ops operators: one function per op over NumPy or CuPy arrays, single
images, (N, H, W, C) batches or variable-shape lists. CuPy input runs the CUDA kernel,
NumPy input OpenCV where it gives the identical result, else the NumPy reference, which
defines the semantics (ops._dispatch; ``use_reference()`` or TVO_OPS_REFERENCE=1 asks for it).
Where arrays live (NumPy, CuPy, the CPU harness's HostArray): ops.arrays.

See docs/ops.md for the semantics of each op and its OpenCV equivalent.
"""
from ._batch import poisoned
from .bilateral import joint_bilateral_filter
from .blur import blur_background, gaussian_blur
from ._dispatch import implementation, use_reference
from ._gpu import compile_kernels
from .codec import FORMATS, CodecError, FileInfo, decode, encode, probe, sniff
from .color import cvt_color
from .composite import composite
from .geometry import center_crop, crop, letterbox, pad, resize
from .guided import guided_filter
from .morphology import morphology
from .tensor import image_to_tensor, tensor_to_mask
from .threshold import threshold

__all__ = [
    "FORMATS",
    "CodecError",
    "FileInfo",
    "blur_background",
    "center_crop",
    "compile_kernels",
    "composite",
    "crop",
    "cvt_color",
    "decode",
    "encode",
    "gaussian_blur",
    "guided_filter",
    "image_to_tensor",
    "implementation",
    "joint_bilateral_filter",
    "letterbox",
    "morphology",
    "pad",
    "poisoned",
    "probe",
    "resize",
    "sniff",
    "tensor_to_mask",
    "threshold",
    "use_reference",
]
