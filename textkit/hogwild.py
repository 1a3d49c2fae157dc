"""The one lock-free thread harness: compiled kernels that release the GIL update shared weights.

Hogwild (Recht et al. 2011) lets several threads update the same weight arrays without locks; with
sparse updates the collisions are rare and harmless. word2vec and the fastText classifier both train
this way: the calling thread produces jobs (chunks of word ids, shards of examples), ``workers``
threads run the kernel on them, and results come back in the calling thread.

>>> run_hogwild(range(4), lambda shard: kernel(weights, shard), workers=2)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

_DONE = object()


def run_hogwild(
    jobs: Iterable[Job],
    work: Callable[[Job], Result],
    workers: int,
    on_result: Callable[[Job, Result], None] | None = None,
) -> None:
    """Run ``work(job)`` for every job on ``workers`` threads; ``on_result(job, result)`` is called in
    the calling thread, in completion order.

    Jobs are drawn lazily (at most two per worker wait in the queue), so a producer that reads a
    corpus keeps memory flat. The first exception in a worker, or in the producer, stops the run
    and is re-raised in the caller; Ctrl-C stops it too, after the running kernels return.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1:
        for job in jobs:
            result = work(job)
            if on_result is not None:
                on_result(job, result)
        return
    todo: queue.Queue = queue.Queue(maxsize=2 * workers)
    done: queue.Queue = queue.Queue()
    stop = threading.Event()

    def worker() -> None:
        while True:
            job = todo.get()
            if job is _DONE:
                return
            if stop.is_set():
                continue
            try:
                done.put((job, work(job), None))
            except BaseException as e:  # re-raised in the caller's thread
                stop.set()
                done.put((job, None, e))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    error: BaseException | None = None
    try:
        for job in jobs:
            while True:  # wait for room in the queue, handling results meanwhile
                error = error or _drain(done, on_result)
                if error is not None or stop.is_set():
                    break
                try:
                    todo.put(job, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if error is not None or stop.is_set():
                break
    except BaseException:
        stop.set()
        raise
    finally:
        for _ in threads:
            todo.put(_DONE)
        for t in threads:
            t.join()
        error = error or _drain(done, on_result)
    if error is not None:
        raise error


def _drain(done: queue.Queue, on_result) -> BaseException | None:
    while True:
        try:
            job, result, error = done.get_nowait()
        except queue.Empty:
            return None
        if error is not None:
            return error
        if on_result is not None:
            on_result(job, result)
