"""textkit.hogwild: every job runs once, results come back, errors and interrupts stop the run."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from textkit.hogwild import run_hogwild


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_job_runs_once_and_reports_in_the_caller(workers):
    caller = threading.current_thread()
    seen: list[tuple[int, int]] = []

    def on_result(job, result):
        assert threading.current_thread() is caller
        seen.append((job, result))

    run_hogwild(iter(range(50)), lambda j: j * j, workers, on_result)
    assert sorted(seen) == [(j, j * j) for j in range(50)]


def test_shared_array_updates_without_locks_add_up():
    counts = np.zeros(4, dtype=np.int64)

    def work(job):
        counts[job % 4] += 1  # numpy releases no GIL here, so this is exact; kernels race benignly

    run_hogwild(range(400), work, workers=2)
    assert counts.tolist() == [100, 100, 100, 100]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_error_stops_the_run_and_is_raised(workers):
    done = []

    def work(job):
        if job == 5:
            raise ValueError("bad chunk")
        done.append(job)

    with pytest.raises(ValueError, match="bad chunk"):
        run_hogwild(range(10_000), work, workers)
    assert len(done) < 10_000


def test_a_producer_error_is_raised_after_the_workers_stop():
    def jobs():
        yield from range(5)
        raise OSError("read failed")

    with pytest.raises(OSError, match="read failed"):
        run_hogwild(jobs(), lambda j: j, workers=2)
    assert threading.active_count() < 10


def test_bad_worker_count():
    with pytest.raises(ValueError):
        run_hogwild([], lambda j: j, workers=0)
