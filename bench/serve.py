"""Web server load: POST /api/generate latency at 20 concurrent clients, cached and uncached, and memory over 10,000 requests.

Starts `dkvae.web.app.serve` (the bundled model unless `--model`) in a subprocess on a free
loopback port, then drives it from `--clients` threads, each with its own keep-alive connection.
Every phase sends a fixed number of requests and stops by itself; nothing leaves 127.0.0.1.

- cached: `--cached` requests over `--hot` seeds rendered beforehand (what a pad click costs).
- uncached: `--uncached` requests, each a new seed (each one renders a sound on the worker pool).
- memory: `--memory` requests, 9 in 10 over the hot seeds and 1 in 10 a new seed (so the sound cache
  fills and evicts); the server's RSS is read from /proc every tenth of the way.

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``serve`` (bench/record.py).

    python bench/serve.py --clients 20 --cached 4000 --uncached 400 --memory 10000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import record

HOST = "127.0.0.1"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(port: int, model: Path | None) -> subprocess.Popen:
    """`serve` in a subprocess; returns once it answers."""
    code = f"from dkvae.web.app import serve; serve({str(model)!r} if {model is not None} else None, {HOST!r}, {port})"
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/api/model")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def drive(
    port: int, bodies: list[bytes], clients: int, every: int = 0, probe: Callable[[], None] | None = None
) -> dict:
    """Send every body as POST /api/generate from `clients` threads; latencies in ms and status counts.

    `probe` is called after each `every` requests (from whichever thread reaches the mark).
    """
    latencies = np.zeros(len(bodies))
    statuses: dict[int, int] = {}
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            start = time.perf_counter()
            connection.request("POST", "/api/generate", bodies[index], {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            latencies[index] = (time.perf_counter() - start) * 1000
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
            if probe is not None and every and (index + 1) % every == 0:
                probe()
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(bodies),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "max_ms": round(float(latencies.max()), 2),
        "requests_per_s": round(len(bodies) / elapsed, 1),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def body(instrument: str, seed: int) -> bytes:
    """A generate request."""
    return json.dumps({"instrument": instrument, "seed": seed}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--instrument", default="snare")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--hot", type=int, default=64, help="seeds rendered before the cached phase")
    parser.add_argument("--cached", type=int, default=4000)
    parser.add_argument("--uncached", type=int, default=400)
    parser.add_argument("--memory", type=int, default=10_000)
    record.add_out(parser)
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, args.model)
    try:
        hot = [body(args.instrument, seed) for seed in range(args.hot)]
        drive(port, hot, args.clients)
        cached = drive(port, [hot[i % len(hot)] for i in range(args.cached)], args.clients)
        fresh = iter(range(10**6, 2 * 10**6))
        uncached = drive(port, [body(args.instrument, next(fresh)) for _ in range(args.uncached)], args.clients)

        rng = np.random.default_rng(0)
        mixed = [
            body(args.instrument, next(fresh)) if rng.random() < 0.1 else hot[rng.integers(len(hot))]
            for _ in range(args.memory)
        ]
        samples: list[float] = [rss_mb(server.pid)]
        memory = drive(port, mixed, args.clients, max(1, args.memory // 10), lambda: samples.append(rss_mb(server.pid)))
        samples.append(rss_mb(server.pid))
        half = len(samples) // 2
        result = {
            "bench": "serve",
            "clients": args.clients,
            "cpus": os.cpu_count(),
            "cached": cached,
            "uncached": uncached,
            "memory": {
                **memory,
                "rss_mb": [round(value, 1) for value in samples],
                "rss_growth_second_half_mb": round(samples[-1] - samples[half], 1),
            },
        }
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=10)
    model = "bundled model" if args.model is None else str(args.model)
    title = (
        f"`dkvae serve`: `POST /api/generate`, {args.clients} concurrent loopback clients, {os.cpu_count()} cores "
        "shared by server and clients"
    )
    note = (
        f"; uncached p50 {uncached['p50_ms']} ms, p99 {uncached['p99_ms']} ms ({uncached['requests_per_s']} sounds/s); "
        f"RSS {samples[0]:.0f} → {samples[-1]:.0f} MB over {args.memory:,} requests, "
        f"{result['memory']['rss_growth_second_half_mb']} MB of it in the second half; {model}"
    )
    figure = {"p50": cached["p50_ms"], "p99": cached["p99_ms"]}
    target = "cached p50 30 ms, p99 100 ms"
    record.write(args.out, record.entry("serve", title, figure, "ms", note, result, target, label="cached"))


if __name__ == "__main__":
    main()
