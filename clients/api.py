"""A small Python API over the background_blur pipelines.

    from clients.api import BlurClient
    with BlurClient("127.0.0.1:8001", "grpc") as client:
        blurred, mask = client.blur(rgb_uint8_image, sigma=8)     # pixels in, pixels out
        jpeg = client.blur_file(open("photo.jpg", "rb").read())   # a file in, a file out
        jpeg, mask_png = client.blur_file(data, mask=True, quality=80)

        # Many at once, in order, `concurrency` requests in flight (default 4):
        for data, out in client.blur_files(files_bytes, mask=True):
            ...  # out: (jpeg, mask_png), or the RequestRefused / error of that file alone

``blur`` sends raw RGB pixels to ``background_blur``; ``blur_file`` sends a JPEG, PNG or WebP
file as it is to ``background_blur_encoded``, which decodes it on the server and answers
the blurred photo as a file of the same format (or ``format=``), and the mask as a PNG.
A request the server refuses as a client error (HTTP 400 / gRPC INVALID_ARGUMENT: a file
that is not a JPEG, PNG or WebP, a corrupt one, a parameter out of range) raises
``RequestRefused``, a ValueError carrying the server's message. ``blur_many`` and
``blur_files`` keep ``concurrency`` requests in flight so that one client keeps a server
busy; a BlurClient may also be shared by threads (each has its own connection).
"""
from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Any, Callable, Iterable, Iterator, Literal, TypeVar, overload

import numpy as np
from tritonclient.utils import InferenceServerException

from .inflight import DEFAULT_CONCURRENCY, check_concurrency, in_order

T = TypeVar("T")
R = TypeVar("R")

MODEL = "background_blur"
FILE_MODEL = "background_blur_encoded"
# How tritonclient spells a client error: the HTTP status, the gRPC status code.
CLIENT_ERRORS = frozenset({"400", "StatusCode.INVALID_ARGUMENT"})


class RequestRefused(InferenceServerException, ValueError):
    """The server refused the request as the client's mistake (HTTP 400 / gRPC
    INVALID_ARGUMENT); ``message()`` is the server's explanation. Also an
    InferenceServerException, as tritonclient raised it."""


def connect(url: str, protocol: str, timeout: float | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """A tritonclient client of ``url`` and what each infer call needs.

    Args:
        url: the server's host:port.
        protocol: 'http' or 'grpc'.
        timeout: seconds one request may take (None: tritonclient's defaults, 60 s over HTTP
            and none over gRPC, where the limit is per call).

    Returns:
        (tritonclient.http or .grpc, the client, the keyword arguments of each infer call).

    Raises:
        ValueError: another protocol.
    """
    if protocol not in ("http", "grpc"):
        raise ValueError(f"protocol: expected 'http' or 'grpc', got {protocol!r}")
    if protocol == "http":
        import tritonclient.http as mod
        client = mod.InferenceServerClient(url, **(
            {} if timeout is None else {"connection_timeout": timeout, "network_timeout": timeout}))
        return mod, client, {}
    import tritonclient.grpc as mod
    return mod, mod.InferenceServerClient(url), {} if timeout is None else {"client_timeout": timeout}


class BlurClient:
    """Blurs image backgrounds through a Triton server (HTTP or gRPC)."""

    def __init__(self, url: str, protocol: str = "http", model: str = MODEL,
                 timeout: float | None = None, file_model: str = FILE_MODEL,
                 concurrency: int = DEFAULT_CONCURRENCY):
        """Connect (the connection of the calling thread; other threads open their own).

        Args:
            url: the server's host:port.
            protocol: 'http' or 'grpc'.
            model: the pipeline ``blur`` calls (raw pixels).
            timeout: seconds one request may take before it fails (default: tritonclient's, 60 s
                over HTTP and none over gRPC).
            file_model: the pipeline ``blur_file`` calls (encoded files).
            concurrency: requests ``blur_many`` and ``blur_files`` keep in flight (1..256).

        Raises:
            ValueError: another protocol, or a concurrency outside 1..256.
        """
        self.url, self.protocol, self.timeout = url, protocol, timeout
        self.concurrency = check_concurrency(concurrency)
        self._mod, client, self._per_request = connect(url, protocol, timeout)
        self._local = threading.local()
        self._local.client = client
        self._clients = [client]  # every thread's, to close
        self._lock = threading.Lock()
        # blur_many's and blur_files' threads, kept: each thread's connection then serves
        # every later call, so connections stay at concurrency + the callers' threads.
        self._pool: cf.ThreadPoolExecutor | None = None
        self.model = model
        self.file_model = file_model

    @property
    def client(self) -> Any:
        """This thread's tritonclient client (tritonclient's HTTP client is not thread-safe:
        each thread gets its own connection)."""
        client = getattr(self._local, "client", None)
        if client is None:
            _, client, _ = connect(self.url, self.protocol, self.timeout)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def blur(self, image: np.ndarray, **parameters: Any) -> tuple[np.ndarray, np.ndarray]:
        """Blur the background of one image.

        Args:
            image: (H, W, 3) uint8 RGB.
            **parameters: request parameters (sigma, threshold, morph_ksize, downscale) that
                override the server's config for this request.

        Returns:
            (blurred, mask): the blurred image, (H, W, 3) uint8 RGB, and the person mask,
            (H, W) uint8.

        Raises:
            ValueError: ``image`` is not an (H, W, 3) uint8 array.
            RequestRefused: the server refused it (a parameter out of range, a frame too large).
            InferenceServerException: the server failed.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image: expected an (H, W, 3) uint8 RGB array, got shape "
                             f"{image.shape} dtype {image.dtype}")
        r = self._infer(self.model, "IMAGE", image[None], ("BLURRED", "MASK"), parameters)
        return r.as_numpy("BLURRED")[0], r.as_numpy("MASK")[0]

    @overload
    def blur_file(self, data: bytes, *, mask: Literal[False] = ..., **parameters: Any) -> bytes: ...

    @overload
    def blur_file(self, data: bytes, *, mask: Literal[True], **parameters: Any) -> tuple[bytes, bytes]: ...

    def blur_file(self, data: bytes, *, mask: bool = False,
                  **parameters: Any) -> bytes | tuple[bytes, bytes]:
        """The blurred photo of one JPEG, PNG or WebP file, as a file.

        EXIF orientation is applied, so the result is upright and carries no metadata.

        Args:
            data: the file's bytes.
            mask: also answer the person mask, as a grayscale PNG.
            **parameters: ``format`` (jpeg, png, webp; default: the format of ``data``),
                ``quality`` 1..100 for JPEG and WebP (the server's default: 90), and
                ``blur``'s (sigma, threshold, morph_ksize, downscale).

        Returns:
            The blurred file's bytes; with ``mask=True``, (blurred file, mask PNG).

        Raises:
            ValueError: ``data`` is not bytes, or is empty.
            RequestRefused: a file or parameter the server refuses (a ValueError too).
            InferenceServerException: the server failed.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"data: expected the file's bytes, got {type(data).__name__}")
        buf = np.frombuffer(data, dtype=np.uint8)
        if buf.size == 0:
            raise ValueError("data: empty file (0 bytes)")
        outputs = ("BLURRED", "MASK") if mask else ("BLURRED",)
        r = self._infer(self.file_model, "ENCODED", buf[None], outputs, parameters)
        files = tuple(r.as_numpy(o)[0].tobytes() for o in outputs)
        return files if mask else files[0]

    def blur_many(self, images: Iterable[np.ndarray], **parameters: Any
                  ) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | Exception]]:
        """Blur many images, in order, ``concurrency`` requests in flight.

        Args:
            images: (H, W, 3) uint8 RGB arrays.
            **parameters: as ``blur``'s.

        Returns:
            An iterator of ``(image, (blurred, mask))``; an image that fails (RequestRefused,
            ValueError, a server error) has its exception in place of the pair, and the others go
            on.
        """
        return self.in_flight(lambda image: self.blur(image, **parameters), images)

    def blur_files(self, files: Iterable[bytes], *, mask: bool = False, **parameters: Any
                   ) -> Iterator[tuple[bytes, bytes | tuple[bytes, bytes] | Exception]]:
        """Blur many files, in order, ``concurrency`` requests in flight.

        Args:
            files: each file's bytes (JPEG, PNG or WebP).
            mask: also answer each mask, as ``blur_file`` does.
            **parameters: as ``blur_file``'s.

        Returns:
            An iterator of ``(data, result)``: result is what ``blur_file`` returns, or the
            exception of that file alone.
        """
        return self.in_flight(lambda data: self.blur_file(data, mask=mask, **parameters), files)

    def in_flight(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | Exception]]:
        """``(item, fn(item))`` for each item, in order, ``concurrency`` calls at once on this
        client's threads (clients.inflight.in_order): their connections serve every later call.

        Args:
            fn: a call that uses this client (``blur``, ``blur_file``, ...).
            items: its arguments.
        Returns:
            An iterator of (item, result), a call's exception in its result's place.
        """
        with self._lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(max_workers=self.concurrency,
                                                   thread_name_prefix="blur-client")
            pool = self._pool
        return in_order(fn, items, self.concurrency, pool)

    def _infer(self, model: str, name: str, batch: np.ndarray, outputs: tuple[str, ...],
               parameters: dict[str, Any]) -> Any:
        """One request of one uint8 input; a client error comes back as RequestRefused."""
        inp = self._mod.InferInput(name, list(batch.shape), "UINT8")
        inp.set_data_from_numpy(np.ascontiguousarray(batch))
        try:
            return self.client.infer(model, [inp], parameters=parameters or None,
                                     outputs=[self._mod.InferRequestedOutput(o) for o in outputs],
                                     **self._per_request)
        except InferenceServerException as e:
            if e.status() in CLIENT_ERRORS:
                raise RequestRefused(e.message(), e.status(), e.debug_details()) from None
            raise

    def close(self) -> None:
        """Stop the client's threads and close every thread's connection."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def __enter__(self) -> "BlurClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
