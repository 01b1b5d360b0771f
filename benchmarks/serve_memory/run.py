"""Peak memory of `rethinker serve` under bursts: many-megapixel image requests and a flood of concurrent streams.

Starts `rethinker serve` on the tiny model in its own process on a free loopback port, then, one phase after another:

1. `--requests` concurrent chat requests, each with `--images` generated PNGs of `--side` x `--side` pixels
   (highly compressible, ~600 KB a request, the many-megapixel shape that used to cost ~1 GB a request);
2. the same burst with half the images per request, within the default per-request pixel total, so images really are
   decoded (one at a time per request, within the server-wide pixel budget);
3. `--streams` concurrent streaming requests with a tiny `max_tokens`.

A thread samples the server's resident set size (RSS, /proc/PID/status) every 10 ms; the kernel's high-water mark
(VmHWM) is read at the end. Each phase reports its status-code counts, and any request that failed without an HTTP
answer (a reset or a refused connection) under its exception's name. Everything stays on 127.0.0.1; every loop is
bounded by the counts above.

    OMP_NUM_THREADS=1 python benchmarks/serve_memory/run.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

MIB = 1024 * 1024
RESULTS = Path(__file__).parent / "results"


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of process `pid` in KiB from /proc (VmRSS: now; VmHWM: the peak so far)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


class RssSampler:
    """Samples a process's RSS on a thread and keeps the peak seen in each named phase."""

    def __init__(self, pid: int, period_s: float = 0.01) -> None:
        self.pid = pid
        self.period_s = period_s
        self.phase = "startup"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = rss_kib(self.pid)
            except (OSError, RuntimeError):
                return
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            time.sleep(self.period_s)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def big_png(side: int, shade: int) -> bytes:
    """A `side` x `side` RGB PNG of smooth gradients: many pixels, few bytes."""
    ramp = Image.linear_gradient("L").resize((side, side))
    flat = Image.new("L", (side, side), shade)
    buffer = io.BytesIO()
    Image.merge("RGB", (ramp, flat, ramp.transpose(Image.Transpose.ROTATE_90))).save(buffer, format="PNG")
    return buffer.getvalue()


def chat_body(images: list[bytes], stream: bool = False) -> dict[str, Any]:
    """A chat request with these images and a short question, a few tokens long."""
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()}}
        for data in images
    ]
    parts.append({"type": "text", "text": "How many dots are there?"})
    return {"messages": [{"role": "user", "content": parts}], "max_tokens": 4, "stream": stream}


async def burst(url: str, body: dict[str, Any], count: int) -> dict[str, int]:
    """Send `count` copies of `body` at once, each on its own connection; count the statuses or failures."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:

        async def one() -> str:
            try:
                async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    async for _ in response.aiter_bytes():
                        pass
                    return str(response.status_code)
            except httpx.HTTPError as error:
                return type(error).__name__

        return dict(Counter(await asyncio.gather(*(one() for _ in range(count)))))


def start_server(model: str, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    """`rethinker serve` in a child process on a free loopback port; the process and its base URL."""
    command = [sys.executable, "-m", "rethinker.cli", "serve", "--model", model, "--port", "0", "--device", "cpu"]
    process = subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = process.stdout.readline()
    if not banner.startswith("serving "):
        process.kill()
        raise RuntimeError(f"the server did not start: {banner!r}")
    return process, banner.split(" at ")[1].split(" ")[0]


def main() -> None:
    """Run the three phases and write the figures to `results/DATE.json`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--side", type=int, default=4000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--serve-args", default="", help="extra `rethinker serve` arguments, space-separated")
    args = parser.parse_args()

    pngs = [big_png(args.side, 40 * i % 256) for i in range(args.images)]
    process, url = start_server(args.model, args.serve_args.split())
    sampler = RssSampler(process.pid)
    sampler.start()
    phases: dict[str, Any] = {}
    try:
        idle = rss_kib(process.pid)
        plan = [
            (f"{args.requests} requests x {args.images} images", chat_body(pngs), args.requests),
            (
                f"{args.requests} requests x {args.images // 2} images",
                chat_body(pngs[: args.images // 2]),
                args.requests,
            ),
            (f"{args.streams} concurrent streams", chat_body([], stream=True), args.streams),
        ]
        for name, body, count in plan:
            sampler.phase = name
            started = time.perf_counter()
            statuses = asyncio.run(burst(url, body, count))
            body_kib = len(json.dumps(body)) // 1024
            phases[name] = {
                "statuses": statuses,
                "seconds": round(time.perf_counter() - started, 2),
                "body_kib": body_kib,
            }
        health = httpx.get(f"{url}/health", timeout=30).json()
        high_water = rss_kib(process.pid, "VmHWM")
    finally:
        sampler.stop()
        process.terminate()
        exit_code = process.wait(timeout=60)
    for name in phases:
        phases[name]["peak_rss_mib"] = round(sampler.peaks.get(name, 0) / 1024, 1)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()}-core CPU",
        "args": vars(args),
        "png_kib_each": len(pngs[0]) // 1024,
        "idle_rss_mib": round(idle / 1024, 1),
        "peak_rss_mib": round(high_water / 1024, 1),
        "decoding_pixels_peak": health.get("decoding_pixels_peak"),
        "exit_code_on_sigterm": exit_code,
        "phases": phases,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
