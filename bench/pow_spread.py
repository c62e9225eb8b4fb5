"""Spread of proof-of-work solve times per level: 95th percentile / median.

Solve time is proportional to the number of hashes tried. Two estimates:

* sampled: the number of tries for one sub-puzzle of D bits is geometric
  with p = 2^-D for any hash function that behaves randomly, so the total
  for a level is a sum of K such draws (200,000 samples per level);
* hashed: real SHA-256 solves with the service's message format and the
  level's K, at D - 6 bits so that Python finishes quickly; the shape of the
  distribution depends on K, not on D, once 2^D is large.

Usage: python bench/pow_spread.py [--hashed-runs 300]
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from challenge_service.challenges.proof_of_work import LEVELS  # noqa: E402
from challenge_service.challenges.proof_of_work import solve  # noqa: E402

SAMPLES = 200_000
HASHED_BITS_REDUCTION = 6


def sampled_ratio(
    bits: int, puzzles: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Return (p95 / median, mean tries) from geometric draws."""
    tries = rng.geometric(2.0**-bits, size=(SAMPLES, puzzles)).sum(axis=1)
    return np.percentile(tries, 95) / np.median(tries), float(tries.mean())


def hashed_ratio(bits: int, puzzles: int, runs: int) -> float:
    """Return p95 / median of real solve work, in hashes tried."""
    work = []

    for _ in range(runs):
        salt = secrets.token_urlsafe(16)
        work.append(sum(solve(salt, i, bits) + 1 for i in range(puzzles)))

    return float(np.percentile(work, 95) / np.median(work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashed-runs", type=int, default=300)
    options = parser.parse_args()
    rng = np.random.default_rng(20261204)

    print(
        "| level | bits | puzzles | mean hashes | p95/median sampled |"
        f" p95/median hashed at bits - {HASHED_BITS_REDUCTION} |"
    )
    print("| --- | --- | --- | --- | --- | --- |")

    for level, (bits, puzzles) in LEVELS.items():
        sampled, mean = sampled_ratio(bits, puzzles, rng)
        hashed = hashed_ratio(
            bits - HASHED_BITS_REDUCTION, puzzles, options.hashed_runs
        )
        print(
            f"| {level} | {bits} | {puzzles} | {mean / 1e6:.2f} M |"
            f" {sampled:.2f} | {hashed:.2f} |"
        )


if __name__ == "__main__":
    main()
