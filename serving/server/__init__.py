"""The process side: tritonserver under a supervisor (``python -m serving.server``), its
installation, the GPU pool flags, the preflight and the health check. Nothing here runs
inside a Triton stub; the models (serving.base and below) import none of it."""
from .embedded import EmbeddedServer, ServerError, free_port

__all__ = ["EmbeddedServer", "ServerError", "free_port"]
