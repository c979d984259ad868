"""Stand-ins for what Triton's Python backend hands a model (requests, tensors) and the
module it answers through (pb_utils' InferenceResponse and TritonError), so the serving
runtime's tests run OpModel.serve outside Triton; tests/integration runs the real thing."""
from __future__ import annotations


class FakeTensor:
    """A pb_utils.Tensor as far as the shape check goes: its data must not be touched."""

    def __init__(self, shape, name=""):
        self._shape, self._name = shape, name

    def name(self):
        return self._name

    def shape(self):
        return list(self._shape)

    def is_cpu(self):
        raise AssertionError("the data was read before the shape was checked")

    __dlpack__ = __dlpack_device__ = to_dlpack = is_cpu


class FakeRequest:
    def __init__(self, parameters="{}", **shapes):
        self.tensors = [FakeTensor(s, n) for n, s in shapes.items()]
        self._parameters = parameters

    def parameters(self):
        return self._parameters

    def inputs(self):
        return list(self.tensors)


class FakeResponse:
    def __init__(self, tensors=None, error=None):
        self.tensors, self.error = tensors, error


class FakeError:
    INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"

    def __init__(self, message, code):
        self.message, self.code = message, code


class FakeResponses:
    InferenceResponse, TritonError = FakeResponse, FakeError


class HostTensor:
    """A request tensor in host memory, as the stub hands it over (name, shape, DLPack)."""

    def __init__(self, name, array):
        self._name, self.array = name, array

    def name(self):
        return self._name

    def shape(self):
        return list(self.array.shape)

    def is_cpu(self):
        return True

    def to_dlpack(self):
        return self.array.__dlpack__()


class Request:
    def __init__(self, **arrays):
        self.tensors = [HostTensor(n, a) for n, a in arrays.items()]

    def parameters(self):
        return "{}"

    def inputs(self):
        return self.tensors
