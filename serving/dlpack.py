"""Tensors between Triton's Python stub and NumPy / CuPy, through DLPack, zero copy.

Every request tensor enters through ``from_triton`` and every output leaves through
``to_triton``: the 2.51 stub's own NumPy API (``as_numpy``, ``Tensor(name, array)``) is
built with a pybind11 that predates NumPy 2 and hands out empty arrays under it
(docs/serving.md), so nothing here touches it.
"""
from __future__ import annotations

import ctypes
from typing import Any, Sequence

import numpy as np

from ops.arrays import is_cupy


class _HostCapsule:
    """A host tensor's DLPack capsule as the object np.from_dlpack takes. The 2.51 stub's
    own ``__dlpack__(stream)`` predates the versioned protocol: NumPy 2 first asks it with
    ``max_version``, pybind11 refuses that call with a TypeError (its message formatted
    with every signature), and NumPy asks again, for every input."""
    __slots__ = ("capsule",)

    def __init__(self, capsule: Any):
        self.capsule = capsule

    def __dlpack__(self, **_: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


def from_triton(tensor: Any) -> Any:
    """A request tensor as a NumPy (host) or CuPy (device) array, zero copy, through DLPack.

    DLPack on the host too: the 2.51 stub's ``as_numpy`` is built with a pybind11 that
    predates NumPy 2 and hands out empty arrays under it (docs/serving.md); DLPack goes
    around the stub's NumPy API entirely.

    Args:
        tensor: a ``pb_utils.Tensor`` of a request (host or device memory).
    Returns:
        The same memory as a NumPy array (host; read-only, as NumPy marks DLPack imports)
        or a CuPy array (device), with the tensor's shape and dtype.
    """
    if tensor.is_cpu():
        return np.from_dlpack(_HostCapsule(tensor.to_dlpack()))
    import cupy
    return cupy.from_dlpack(tensor)


# NumPy's capsule deleter does not know the name the stub gives a consumed capsule
# ("used_dlpack") and reports a ValueError on stderr for every host output; renaming the
# capsule to NumPy's own "used_dltensor" after the hand-off silences it. The stub
# owns the memory from then on (it calls the DLPack deleter itself).
_set_capsule_name = ctypes.pythonapi.PyCapsule_SetName
_set_capsule_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_USED_CAPSULE = b"used_dltensor"  # module-level: the name must outlive every capsule


def to_triton(pb_utils: Any, name: str, value: Any, inputs: Sequence[tuple[Any, Any]] = ()) -> Any:
    """An output array as a Triton tensor through DLPack, staying where it is.

    Args:
        pb_utils: Triton's ``triton_python_backend_utils`` (or a module with its
            ``Tensor.from_dlpack``).
        name: the output's name in the model config.
        value: the output, an (N, ...) NumPy or CuPy array of any dtype.
        inputs: the request's host inputs as (pb_utils.Tensor, array) pairs: an output that
            is the whole of one of them is that tensor, passed on as Triton's examples do
            (no copy, and the stub need not place a new one in shared memory).
    Returns:
        A ``pb_utils.Tensor`` holding ``value`` in the memory it is in (host or device);
        made contiguous, and copied only when it is a read-only host array that is not one
        of ``inputs``.
    """
    if is_cupy(value):
        import cupy
        # The array itself, not a capsule: the stub then passes its stream to __dlpack__
        # and synchronises, and CuPy 14's toDlpack() capsules are versioned, which the 2.51
        # stub misreads.
        return pb_utils.Tensor.from_dlpack(name, cupy.ascontiguousarray(value))
    arr = np.ascontiguousarray(value)
    if not arr.flags.writeable:
        # NumPy marks what it imports through DLPack read-only (a request's input, or a view
        # of one) and refuses to export it again.
        address = arr.__array_interface__["data"][0]
        for tensor, a in inputs:
            if a.shape == arr.shape and a.dtype == arr.dtype and a.__array_interface__["data"][0] == address:
                return pb_utils.Tensor.from_dlpack(name, tensor.to_dlpack())
        arr = arr.copy()
    capsule = arr.__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    _set_capsule_name(capsule, _USED_CAPSULE)
    return tensor
