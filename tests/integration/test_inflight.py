"""clients.inflight.in_order: N calls at once on real threads, results in the items' order,
each failure in its own place, a bounded look-ahead, and nothing left running."""
import threading
import time

import pytest

from clients.inflight import in_order


def test_results_come_in_order_with_each_failure_in_its_place():
    def fn(i):
        time.sleep(0.002 * ((7 * i) % 5))  # later items often finish first
        if i % 4 == 3:
            raise ValueError(f"item {i}")
        return i * i

    got = list(in_order(fn, range(20), concurrency=4))
    assert [item for item, _ in got] == list(range(20))
    for i, result in got:
        if i % 4 == 3:
            assert isinstance(result, ValueError) and str(result) == f"item {i}"
        else:
            assert result == i * i


@pytest.mark.parametrize("n", [1, 4, 7])
def test_n_calls_run_at_once(n):
    """Each call waits until n calls are running: with fewer at once the barrier breaks."""
    barrier = threading.Barrier(n, timeout=10)
    results = list(in_order(lambda i: barrier.wait() is not None, range(3 * n), concurrency=n))
    assert all(r is True for _, r in results), results


def test_look_ahead_is_bounded_and_closing_stops_the_rest():
    taken, started = [], []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    def fn(i):
        started.append(i)
        time.sleep(0.01)
        return i

    it = in_order(fn, items(), concurrency=3)
    assert next(it) == (0, 0)
    assert len(taken) <= 2 * 3 + 1
    it.close()
    settled = len(started)
    time.sleep(0.1)
    assert len(started) == settled <= 2 * 3 + 1  # nothing more starts after close


@pytest.mark.parametrize("n", [0, 257, 2.5, True])
def test_concurrency_must_be_a_small_positive_integer(n):
    with pytest.raises(ValueError, match="concurrency: expected an integer in 1..256"):
        list(in_order(lambda i: i, range(3), concurrency=n))
