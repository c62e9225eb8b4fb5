"""Races of worker processes that call a store at the same moment."""

from __future__ import annotations

import collections
import multiprocessing
import queue
import traceback
from collections.abc import Callable

import pytest

from challenge_service.storage import Store

from .conftest import StoreOpener, close_store

#: Worker processes in each race.
RACERS = 8

#: Ids every racer tries to spend.
RACE_IDS = [f"race-{number:03d}" for number in range(200)]

#: Maximum seconds a race may take before its workers are terminated.
RACE_TIMEOUT = 30

#: One attempt in a race, as the id, its outcome and the response returned.
Attempt = tuple[str, str, str | None]


RaceStep = Callable[[Store, int, str], tuple[str, str | None]]


def run_racer(
    open_store: StoreOpener,
    step: RaceStep,
    racer: int,
    barrier,
    results,
) -> None:
    """Open a store, wait for the other racers, try every id and report outcomes."""
    try:
        store = open_store()
        barrier.wait(timeout=RACE_TIMEOUT)
        attempts = [(item, *step(store, racer, item)) for item in RACE_IDS]
        close_store(store)
        results.put((racer, attempts, None))
    except Exception:  # noqa: BLE001 - the parent reports any failure.
        results.put((racer, [], traceback.format_exc()))


def race(open_store: StoreOpener, step: RaceStep) -> dict[int, list[Attempt]]:
    """Run ``step`` on every race id in RACERS processes at once.

    Return the attempts of each racer by racer number. The processes are
    forked, as gunicorn forks its workers, and each one calls ``open_store``.
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    racers = [
        context.Process(
            target=run_racer, args=(open_store, step, racer, barrier, results)
        )
        for racer in range(RACERS)
    ]

    for process in racers:
        process.start()

    try:
        reports = [results.get(timeout=RACE_TIMEOUT) for _ in racers]
    except queue.Empty:
        pytest.fail(f"The racers did not report within {RACE_TIMEOUT} s.")
    finally:
        for process in racers:
            process.join(timeout=5)

            if process.is_alive():
                process.terminate()
                process.join()

    errors = [error for _, _, error in reports if error is not None]

    assert errors == []
    assert [process.exitcode for process in racers] == [0] * RACERS
    return {racer: attempts for racer, attempts, _ in reports}


def outcomes_by_id(results: dict[int, list[Attempt]]) -> dict[str, list[str]]:
    """Return the outcomes of every racer's attempt, grouped by id."""
    outcomes: dict[str, list[str]] = collections.defaultdict(list)

    for attempts in results.values():
        for item, outcome, _ in attempts:
            outcomes[item].append(outcome)

    return outcomes
