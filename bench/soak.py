"""Bounded soak of the background_blur ensemble: a fixed time at a fixed concurrency with real
photos, on loopback; every response checked; the server's memory sampled throughout.

    python -m bench.soak [--minutes 10] [--concurrency 4] [--protocol grpc|http]
                         [--url HOST:PORT] [--tag cpu-2core] [--out bench/results]

Without --url it starts the embedded server (serving.server.EmbeddedServer) itself; a
--url must be a loopback address (its listening process is found through /proc, for RSS).
`concurrency` threads, each with its own BlurClient, send the photos round-robin (skimage's
astronaut, coffee, chelsea, rocket, camera at their native sizes, plus resized variants).
Each response must have the photo's shape, and be byte-equal to the first response for
that photo; anything else counts as an error. Bounded in time (--minutes, or --seconds for
short checks) and in count (--max-requests). Before the clock, a warm-up burst: every photo
from --burst (8) clients at once, so the largest batches and every size's buffers exist.

Every --interval seconds (10) a sample: requests, errors, the interval's p50/p99 latency,
the RSS of tritonserver and all its child processes (the Python stubs) summed, the largest
processes, and GPU memory where a GPU exists. Verdict: 0 errors; RSS growth < 5 % from the
median of the first 6 samples at or after --warmup seconds (60) to the median of the last 6
(one sample also counts the frames in flight); GPU memory growth likewise, or no GPU.
Exit code 0 when all hold, 1 otherwise, 2 on bad arguments. Writes <out>/soak_<tag>.csv
(the samples) and soak_<tag>.md.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from serving.paths import REPO_ROOT

from bench.machine import describe, gpu_name, tag as machine_tag
from bench.procmem import gpu_memory, listening_pid, tree_rss
from clients.perf.sweep import write_csv

GROWTH_LIMIT = 0.05
FIRST_ERRORS = 5          # error messages kept
REQUEST_TIMEOUT_S = 60.0
ERROR_BACKOFF_S = 0.1     # a failing request does not spin
MAX_REQUESTS_PER_S = 500  # default hard cap on requests: this many per second of the run
TOP_PROCESSES = 4
# Resized variants of the photos (name index in clients.perf.inputs.PHOTOS, (h, w)).
VARIANTS = ((0, (720, 1280)), (1, (1080, 1920)), (2, (333, 517)))
LOOPBACK = ("127.", "localhost", "::1", "[::1]")


def soak_photos() -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 image): the real photos at their native sizes, then the variants."""
    from clients.perf.inputs import PHOTOS, photo_at, real_photos

    photos = [(f"{n} {im.shape[0]}x{im.shape[1]}", im) for n, im in zip(PHOTOS, real_photos())]
    for index, (h, w) in VARIANTS:
        photos.append((f"{PHOTOS[index]} {h}x{w}", np.ascontiguousarray(photo_at((h, w), index))))
    return photos


# -- load ---------------------------------------------------------------------------
class Load:
    """The client threads and what they have seen so far (all under one lock)."""

    def __init__(self, url: str, protocol: str, photos: list[tuple[str, np.ndarray]],
                 concurrency: int, seconds: float, max_requests: int):
        self.url, self.protocol, self.photos = url, protocol, photos
        self.deadline = time.monotonic() + seconds
        self.max_requests = max_requests
        self.lock = threading.Lock()
        self.numbers = itertools.count()
        self.done = self.errors = 0
        self.first_errors: list[str] = []
        self.latencies: list[float] = []   # ms, successful requests since the last take()
        self.reference: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.threads = [threading.Thread(target=self._worker, name=f"soak-{i}", daemon=True)
                        for i in range(concurrency)]
        self.t0 = time.monotonic()

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def take(self) -> tuple[int, int, list[float]]:
        """(requests done, errors, latencies since the last take)."""
        with self.lock:
            lat, self.latencies = self.latencies, []
            return self.done, self.errors, lat

    def _next(self) -> int | None:
        with self.lock:
            k = next(self.numbers)
        return k if k < self.max_requests and time.monotonic() < self.deadline else None

    def _error(self, what: str) -> None:
        with self.lock:
            self.done += 1
            self.errors += 1
            if len(self.first_errors) < FIRST_ERRORS:
                self.first_errors.append(f"{time.monotonic() - self.t0:.1f} s: {what[:300]}")

    def _worker(self) -> None:
        from clients.api import BlurClient

        try:
            # A request that never answers is an error, not a soak that never ends.
            client = BlurClient(self.url, self.protocol, timeout=REQUEST_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - counted, the run goes on without this thread
            self._error(f"client: {type(e).__name__}: {e}")
            return
        with client:
            while (k := self._next()) is not None:
                name, image = self.photos[k % len(self.photos)]
                t = time.perf_counter()
                try:
                    blurred, mask = client.blur(image)
                    ms = 1e3 * (time.perf_counter() - t)
                    problem = self._check(name, image, blurred, mask)
                except Exception as e:  # noqa: BLE001 - every failure is an error of the soak
                    problem = f"{type(e).__name__}: {str(e).strip()}"
                if problem:
                    self._error(f"{name}: {problem}")
                    time.sleep(ERROR_BACKOFF_S)
                    continue
                with self.lock:
                    self.done += 1
                    self.latencies.append(ms)

    def _check(self, name: str, image: np.ndarray, blurred: np.ndarray,
               mask: np.ndarray) -> str | None:
        if blurred.shape != image.shape or blurred.dtype != np.uint8:
            return f"BLURRED {blurred.shape} {blurred.dtype}, expected {image.shape} uint8"
        if mask.shape[:2] != image.shape[:2]:
            return f"MASK {mask.shape}, expected {image.shape[:2]}"
        with self.lock:
            ref = self.reference.setdefault(name, (blurred, mask))
        if ref[0] is blurred:
            return None
        if not (np.array_equal(ref[0], blurred) and np.array_equal(ref[1], mask)):
            diff = int(np.count_nonzero(ref[0] != blurred)) if ref[0].shape == blurred.shape else -1
            return f"response differs from the first one for this photo ({diff} BLURRED values)"
        return None


# -- samples ------------------------------------------------------------------------
class Server:
    """Where the load goes and whose processes are measured: an EmbeddedServer started here,
    or a running server on loopback (its process found by the port it listens on)."""

    def __init__(self, url: str | None, protocol: str):
        self.embedded = None
        self.url = url
        self.protocol = protocol

    @staticmethod
    def check_loopback(url: str) -> int:
        host, _, port = url.rpartition(":")
        if not host.startswith(LOOPBACK) or not port.isdigit():
            raise ValueError(f"--url: expected a loopback HOST:PORT (127.x, localhost, [::1]), "
                             f"got {url!r}: load tests stay on loopback")
        return int(port)

    def __enter__(self) -> "Server":
        if self.url is None:
            from serving.server import EmbeddedServer
            self.embedded = EmbeddedServer().start()
            self.url = self.embedded.grpc_url if self.protocol == "grpc" else self.embedded.http_url
        return self

    def __exit__(self, *exc: object) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    def pid(self) -> int | None:
        """tritonserver's pid now (asked again at every sample: a restarted server counts)."""
        if self.embedded is not None:
            proc = self.embedded.proc
            return proc.pid if proc is not None and proc.poll() is None else None
        return listening_pid(self.check_loopback(self.url))


def memory_sample(pid: int | None, gpu: bool) -> dict[str, Any]:
    rows = tree_rss(pid) if pid else []
    out: dict[str, Any] = {
        "server_pid": pid, "processes": len(rows),
        "rss_mib": round(sum(r[2] for r in rows) / 1024, 1) if rows else None,
        "top": " ".join(f"{n}[{p}]={k / 1024:.0f}" for p, n, k in rows[:TOP_PROCESSES]),
        "per_process": {f"{n}[{p}]": round(k / 1024, 1) for p, n, k in rows},
        "gpu_server_mib": None, "gpu_device_mib": None,
    }
    if gpu and pid:
        g = gpu_memory(pid)
        out["gpu_server_mib"], out["gpu_device_mib"] = g["server_processes_mib"], g["device_used_mib"]
    return out


def sample(load: Load, server: Server, gpu: bool, last: dict | None) -> dict[str, Any]:
    done, errors, lat = load.take()
    t = time.monotonic() - load.t0
    dt = t - last["t_s"] if last else 0.0
    interval_done = done - (last["requests"] if last else 0)
    row = {"t_s": round(t, 1), "requests": done, "errors": errors,
           "interval_requests": interval_done,
           "interval_errors": errors - (last["errors"] if last else 0),
           "req_per_s": round(interval_done / dt, 2) if dt > 0 else None,
           "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat else None,
           "p99_ms": round(float(np.percentile(lat, 99)), 1) if lat else None}
    row.update(memory_sample(server.pid(), gpu))
    return row


def ticks(load: Load, interval: float) -> Iterator[None]:
    """Yields at every interval while the load runs, then once more when it has ended."""
    next_t = load.t0 + interval
    while load.alive():
        time.sleep(min(0.2, max(0.0, next_t - time.monotonic())))
        if time.monotonic() >= next_t:
            next_t += interval
            yield
    for t in load.threads:
        t.join()
    yield


# -- verdict ------------------------------------------------------------------------
class Check(NamedTuple):
    """One verdict line: 'PASS name: text' or 'FAIL name: text'."""
    name: str
    ok: bool
    text: str


def line(check: Check) -> str:
    return f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.text}"


def growth_check(name: str, samples: list[dict], key: str, warmup_s: float,
                 limit: float = GROWTH_LIMIT, window: int = 6) -> Check:
    """`key` over the last `window` samples against the first `window` from warmup_s on
    (medians; fewer when the run is short): a single sample also counts the frames in flight
    at that instant, which swing the sum by several percent."""
    post = [s for s in samples if s["t_s"] >= warmup_s and s.get(key) is not None]
    k = min(window, len(post) // 2)
    if k == 0:
        return Check(name, False, f"not measured: no two samples from {warmup_s:g} s on")
    first, last = post[:k], post[-k:]
    pids = list(dict.fromkeys(s["server_pid"] for s in post))
    if len(pids) > 1:
        return Check(name, False, f"not comparable: the server's pid changed "
                                  f"({' -> '.join(map(str, pids))}): restarted")
    base = statistics.median(s[key] for s in first)
    end = statistics.median(s[key] for s in last)
    growth = (end - base) / base
    return Check(name, growth < limit,
                 f"{base:.1f} MiB at {_span(first)} -> {end:.1f} MiB at {_span(last)} "
                 f"({growth:+.2%}, limit {limit:.0%}; medians of {k} sample(s))")


def _span(samples: list[dict]) -> str:
    a, b = samples[0]["t_s"], samples[-1]["t_s"]
    return f"{a:g} s" if a == b else f"{a:g}-{b:g} s"


def verdict(samples: list[dict], warmup_s: float, limit: float = GROWTH_LIMIT) -> list[Check]:
    last = samples[-1] if samples else {"requests": 0, "errors": 0}
    checks = [Check("errors", last["errors"] == 0 and last["requests"] > 0,
                    f"{last['errors']} of {last['requests']} requests")]
    checks.append(growth_check(f"RSS growth after {warmup_s:g} s", samples, "rss_mib",
                               warmup_s, limit))
    if all(s.get("gpu_server_mib") is None and s.get("gpu_device_mib") is None for s in samples):
        checks.append(Check("GPU memory", True, "no GPU"))
    else:
        key = ("gpu_server_mib" if all(s.get("gpu_server_mib") is not None for s in samples)
               else "gpu_device_mib")
        where = "server processes" if key == "gpu_server_mib" else "device-wide"
        checks.append(growth_check(f"GPU memory growth after {warmup_s:g} s ({where})", samples,
                                   key, warmup_s, limit))
    return checks


# -- report -------------------------------------------------------------------------
def markdown(samples: list[dict], checks: list[Check], args: argparse.Namespace,
             photos: list[tuple[str, np.ndarray]], url: str, first_errors: list[str]) -> str:
    ok = all(c.ok for c in checks)
    lines = [f"# Soak ({args.tag})", "", f"Machine: {describe()}", "",
             f"background_blur over {args.protocol} at {url} "
             f"({'a running server' if args.url else 'the embedded server'}), "
             f"concurrency {args.concurrency}, {args.seconds:g} s "
             f"(at most {args.max_requests} requests), a sample every {args.interval:g} s; "
             f"photos, round-robin: {', '.join(n for n, _ in photos)}; before the clock a "
             f"warm-up burst of every photo from {args.burst} clients at once. RSS growth: "
             f"median of the last 6 samples against the first 6 from {args.warmup:g} s.", "",
             f"## Verdict: {'PASS' if ok else 'FAIL'}", ""]
    lines += [f"- {line(c)}" for c in checks]
    if first_errors:
        lines += ["", "First errors:", ""] + [f"- {e}" for e in first_errors]
    lines += ["", "## Samples", "",
              "RSS: tritonserver and all its child processes (the Python stubs), summed "
              "(VmRSS). Latency: the interval's successful requests, client side.", "",
              "| t s | requests | req/s | errors | p50 ms | p99 ms | RSS MiB | processes | GPU MiB |",
              "|---|---|---|---|---|---|---|---|---|"]
    step = max(1, round(60 / args.interval)) if len(samples) > 13 else 1
    shown = [s for i, s in enumerate(samples) if i % step == 0 or i == len(samples) - 1]
    for s in shown:
        gpu = s["gpu_server_mib"] if s["gpu_server_mib"] is not None else s["gpu_device_mib"]
        lines.append(f"| {s['t_s']:g} | {s['requests']} | {s['req_per_s']} | {s['errors']} | "
                     f"{s['p50_ms']} | {s['p99_ms']} | {s['rss_mib']} | {s['processes']} | "
                     f"{'-' if gpu is None else gpu} |")
    if len(shown) < len(samples):
        lines += ["", f"(every {step}th sample; all {len(samples)} in the CSV)"]
    base = next((s for s in samples if s["t_s"] >= args.warmup), None)
    if base is not None and samples[-1] is not base:
        last = samples[-1]
        lines += ["", f"## Per process: RSS MiB at {base['t_s']:g} s and at {last['t_s']:g} s", "",
                  "| process | at warm-up | at end | change |", "|---|---|---|---|"]
        for name in sorted(set(base["per_process"]) | set(last["per_process"]),
                           key=lambda n: -last["per_process"].get(n, 0)):
            a, b = base["per_process"].get(name), last["per_process"].get(name)
            change = f"{b - a:+.1f}" if a is not None and b is not None else "-"
            lines.append(f"| {name} | {a if a is not None else '-'} | {b if b is not None else '-'} "
                         f"| {change} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seconds", type=float, help="the run's length in seconds (overrides --minutes)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--protocol", default="grpc", choices=["grpc", "http"])
    p.add_argument("--url", help="loopback HOST:PORT of a running server for --protocol "
                                 "(default: start the embedded server)")
    p.add_argument("--tag", help="names the result files (default: from the machine, e.g. cpu-2core)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--burst", type=int, default=8,
                   help="before the clock, this many clients send every photo once "
                        "(background_blur's max_batch_size: the largest batches); 0: none")
    p.add_argument("--warmup", type=float, default=60.0,
                   help="memory growth is measured from the first sample at this many seconds")
    p.add_argument("--max-requests", type=int,
                   help=f"hard cap on requests (default {MAX_REQUESTS_PER_S} per second of the run)")
    args = p.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else 60 * args.minutes
    if args.seconds <= 0 or args.concurrency < 1 or args.interval <= 0:
        p.error("--minutes/--seconds, --concurrency and --interval must be positive")
    args.max_requests = args.max_requests or int(MAX_REQUESTS_PER_S * args.seconds) + 1
    args.tag = args.tag or machine_tag()
    if args.url:
        try:
            Server.check_loopback(args.url)
        except ValueError as e:
            p.error(str(e))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    photos = soak_photos()
    gpu = gpu_name() is not None
    stem = args.out / f"soak_{args.tag}"
    samples: list[dict] = []

    def write_csv_now() -> None:
        write_csv([{k: v for k, v in s.items() if k != "per_process"} for s in samples],
                  stem.with_suffix(".csv"))

    with Server(args.url, args.protocol) as server:
        print(f"[soak] {args.protocol} {server.url}, concurrency {args.concurrency}, "
              f"{args.seconds:g} s, {len(photos)} photos", flush=True)
        # Before the clock: every photo at once from `burst` clients, so the batches reach the
        # ensemble's largest and every size's buffers exist; growth after that is the soak's.
        warm = Load(server.url, args.protocol, photos, args.burst, 300.0,
                    args.burst * len(photos)).start()
        for t in warm.threads:
            t.join()
        load = Load(server.url, args.protocol, photos, args.concurrency, args.seconds,
                    args.max_requests)
        load.reference = warm.reference  # byte-equal to the burst's answers too
        print(f"[soak] warm-up burst: {warm.done} requests at concurrency {args.burst}, "
              f"{warm.errors} errors", flush=True)
        samples.append(sample(load, server, gpu, None))
        load.start()
        for _ in ticks(load, args.interval):
            s = sample(load, server, gpu, samples[-1])
            samples.append(s)
            write_csv_now()  # a run cut short still leaves what it measured
            print(f"[soak] {s['t_s']:6.1f} s  {s['requests']} requests, {s['errors']} errors, "
                  f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, RSS {s['rss_mib']} MiB "
                  f"({s['processes']} processes), GPU {s['gpu_server_mib'] or s['gpu_device_mib']}",
                  flush=True)
        checks = verdict(samples, args.warmup)
        if warm.errors:
            checks.insert(0, Check("warm-up burst", False, f"{warm.errors} errors"))
        md = markdown(samples, checks, args, photos, server.url,
                      warm.first_errors + load.first_errors)
    stem.with_suffix(".md").write_text(md)
    print(md)
    print(f"wrote {stem}.md, .csv")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
