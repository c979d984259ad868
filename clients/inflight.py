"""Keep N calls in flight and take their results in order: what lets one client keep a
server busy (a client that waits for each answer before it sends the next request leaves
the server idle in between)."""
from __future__ import annotations

import collections
import concurrent.futures as cf
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 4


def check_concurrency(n: int) -> int:
    """Check a number of calls in flight.

    Args:
        n: the number.

    Returns:
        ``n``.

    Raises:
        ValueError: not an integer in 1..256 (a bool is refused too).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 256:
        raise ValueError(f"concurrency: expected an integer in 1..256, got {n!r}")
    return n


def in_order(fn: Callable[[T], R], items: Iterable[T], concurrency: int = DEFAULT_CONCURRENCY,
             pool: cf.ThreadPoolExecutor | None = None) -> Iterator[tuple[T, R | Exception]]:
    """``(item, fn(item))`` for each item, in the items' order, up to ``concurrency`` calls at once.

    At most 2 x concurrency items are taken ahead of the one being answered, so a long folder
    is not read into memory at once. Closing the iterator early (or Ctrl-C) cancels what has
    not started and waits for what has.

    Args:
        fn: the call, run in threads.
        items: its arguments.
        concurrency: calls running at once (1..256).
        pool: threads to run them on, kept by the caller (its own threads, each with its own
            connection, then serve every call); None: threads of this call's own.

    Returns:
        An iterator of (item, result); a call that raises gives its exception in its result's
        place, and the others go on.

    Raises:
        ValueError: a concurrency outside 1..256 (when iteration starts).
    """
    concurrency = check_concurrency(concurrency)
    pending: collections.deque[tuple[T, cf.Future]] = collections.deque()
    source = iter(items)
    own = pool is None
    if own:
        pool = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="inflight")
    try:
        while True:
            while len(pending) < 2 * concurrency:
                item = next(source, _END)
                if item is _END:
                    break
                pending.append((item, pool.submit(fn, item)))
            if not pending:
                return
            item, future = pending.popleft()
            try:
                result: R | Exception = future.result()
            except Exception as e:  # noqa: BLE001 - the item's own outcome
                result = e
            yield item, result
    finally:
        for _, future in pending:
            future.cancel()
        cf.wait([future for _, future in pending])
        if own:
            pool.shutdown(wait=True)


_END = object()
