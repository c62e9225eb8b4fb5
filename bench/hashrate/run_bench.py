"""Measure the widget's proof-of-work hash rate against Python's hashlib.

Serves the repository root on 127.0.0.1 with ``python -m http.server`` and
opens bench.html in headless Chromium through Playwright. The page solves
challenges with the widget's solver in a Web Worker and on the main thread
(the time-sliced fallback). This process then hashes the same message shape,
``salt:index:nonce``, with ``hashlib.sha256``. Prints a Markdown table row.

The target ratio applies to the hashlib loop that hashes each whole message,
as the service's answer check does; the loop that copies a hash state
already fed the constant prefix is reported too.

Usage: python bench/hashrate/run_bench.py [--runs 5] [--bits 18] [--puzzles 16]
Needs the ``playwright`` package and Chromium at /usr/bin/chromium (it never
downloads a browser).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PYTHON_SECONDS = 1.0
PYTHON_REPEATS = 5
SERVER_START_TIMEOUT_S = 10.0
TARGET_RATIO = 1.3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """Start http.server on 127.0.0.1 and wait until it serves bench.html."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(REPOSITORY),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/bench/hashrate/bench.html", timeout=1
            )
            return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(
        f"http.server (PID {server.pid}) did not respond on port {port} within"
        f" {SERVER_START_TIMEOUT_S} s; is the port free?"
    )


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def leading_zero_bits(digest: bytes) -> int:
    return len(digest) * 8 - int.from_bytes(digest, "big").bit_length()


def check_nonces(record: dict, bits: int) -> None:
    """Raise AssertionError unless every nonce of a browser run solves its puzzle."""
    for index, nonce in enumerate(record["nonces"]):
        digest = hashlib.sha256(f"{record['salt']}:{index}:{nonce}".encode()).digest()
        if leading_zero_bits(digest) < bits:
            raise AssertionError(
                f"browser nonce {nonce} for puzzle {index} of salt {record['salt']} has"
                f" {leading_zero_bits(digest)} leading zero bits, fewer than {bits}"
            )


def python_rate(copy_prefix: bool) -> float:
    """Return hashlib's hashes per second on salt:index:nonce messages over PYTHON_SECONDS.

    With copy_prefix the hash state after the constant prefix is copied for
    each nonce, the faster way to write this loop in Python.
    """
    salt = "AbCdEfGhIjKlMnOpQrStUv"
    prefix = f"{salt}:7:".encode()
    sha256 = hashlib.sha256
    prefix_state = sha256(prefix)
    nonce = 0
    batch = 20000
    started = time.perf_counter()
    while time.perf_counter() - started < PYTHON_SECONDS:
        for nonce in range(nonce, nonce + batch):
            if copy_prefix:
                state = prefix_state.copy()
                state.update(str(nonce).encode())
                digest = state.digest()
            else:
                digest = sha256(prefix + str(nonce).encode()).digest()
            # The same early test the solver makes: the first 16 bits are zero.
            if digest[0] == 0 and digest[1] == 0:
                pass
        nonce += 1
    return nonce / (time.perf_counter() - started)


def browser_rates(port: int, runs: int, bits: int, puzzles: int) -> dict:
    """Solve challenges in the page and return rates in hashes per second."""
    url = f"http://127.0.0.1:{port}/bench/hashrate/bench.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(url)
            version = browser.version
            results = {}
            for mode, count in (("auto", runs), ("main-thread", max(1, runs // 2))):
                # The first run warms up the JIT and is not counted.
                records = page.evaluate(
                    "([mode, runs, bits, puzzles]) => runBench(mode, runs, bits, puzzles)",
                    [mode, count + 1, bits, puzzles],
                )
                for record in records:
                    check_nonces(record, bits)
                counted = records[1:]
                rates = [record["hashes"] / record["ms"] * 1000 for record in counted]
                results[mode] = {
                    "solver": counted[0]["solver"],
                    "median": statistics.median(rates),
                    "best": max(rates),
                    "wall_ms": statistics.median(
                        record["wallMs"] for record in counted
                    ),
                }
        finally:
            browser.close()
    results["chromium"] = version
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="counted worker runs (default 5)"
    )
    parser.add_argument(
        "--bits", type=int, default=18, help="zero bits per puzzle (default 18)"
    )
    parser.add_argument(
        "--puzzles", type=int, default=16, help="puzzles per challenge (default 16)"
    )
    args = parser.parse_args()

    port = free_port()
    server = start_server(port)
    print(f"http.server PID {server.pid} on 127.0.0.1:{port}", file=sys.stderr)
    try:
        browser = browser_rates(port, args.runs, args.bits, args.puzzles)
    finally:
        stop_server(server)

    # Interleaved repeats. Other load on the machine only slows a run down,
    # so each side is compared by its best run.
    naive_runs, copied_runs = [], []
    for _ in range(PYTHON_REPEATS):
        naive_runs.append(python_rate(copy_prefix=False))
        copied_runs.append(python_rate(copy_prefix=True))
    naive = max(naive_runs)
    copied = max(copied_runs)
    worker = browser["auto"]
    main_thread = browser["main-thread"]
    ratio = worker["best"] / naive
    ratio_copied = worker["best"] / copied
    command = "python " + shlex.join(["bench/hashrate/run_bench.py", *sys.argv[1:]])

    print(
        f"worker ({worker['solver']}): best {worker['best'] / 1e6:.2f} M/s,"
        f" median {worker['median'] / 1e6:.2f} M/s,"
        f" median {worker['wall_ms']:.0f} ms per {args.puzzles} x {args.bits}-bit challenge"
    )
    print(
        f"main thread: best {main_thread['best'] / 1e6:.2f} M/s,"
        f" median {main_thread['median'] / 1e6:.2f} M/s,"
        f" median {main_thread['wall_ms']:.0f} ms per challenge"
    )
    print(
        f"python hashlib: best {naive / 1e6:.2f} M/s (new object per hash),"
        f" best {copied / 1e6:.2f} M/s (copied prefix state),"
        f" medians {statistics.median(naive_runs) / 1e6:.2f} and {statistics.median(copied_runs) / 1e6:.2f}"
    )
    print(
        f"ratio worker / hashlib: {ratio:.2f} (target >= {TARGET_RATIO}),"
        f" {ratio_copied:.2f} against the copied prefix state"
    )
    print()
    print(
        "| date | Chromium | Python | CPU | worker M/s | main thread M/s"
        " | hashlib M/s | hashlib, copied prefix M/s | ratio | ratio, copied prefix | command |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {date.today().isoformat()} | {browser['chromium']} | {platform.python_version()}"
        f" | {platform.machine()}, {cpu_name()}, {os.cpu_count()} CPUs"
        f" | {worker['best'] / 1e6:.2f} | {main_thread['best'] / 1e6:.2f}"
        f" | {naive / 1e6:.2f} | {copied / 1e6:.2f} | {ratio:.2f} | {ratio_copied:.2f}"
        f" | `{command}` |"
    )
    return 0 if ratio >= TARGET_RATIO else 1


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
