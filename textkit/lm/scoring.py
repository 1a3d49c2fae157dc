"""Scoring a text with a back-off model on several threads.

The main thread reads the text a block of lines at a time and makes each block one UTF-8 buffer
(that much holds the GIL); the block is cut in two at a line break, and each half is split into
words, looked up and scored by compiled kernels that let go of the GIL, on a pool of threads, while
the main thread reads on. The halves' totals are added in text order, and where a block is cut
does not depend on the number of threads, so the total is the same with one thread or several.

>>> total, n_lines, n_words, n_unknown = score_text(word_table, tables, open("test.txt"))
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from textkit.lm.arpa import BackoffTables
from textkit.lm.counting import backoff_log10
from textkit.lm.encoding import WordTable, _blocks, _joined

MAX_THREADS = 4  # more gain little: a thread scores a few hundred thousand words in tens of milliseconds
_WHOLE = 1 << 16  # a buffer shorter than this (bytes) is not cut


def default_threads() -> int:
    """The processors this process may run on, at most :data:`MAX_THREADS`."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, available))


def score_text(
    table: WordTable, tables: BackoffTables, lines: Iterable[str], threads: int | None = None
) -> tuple[float, int, int, int]:
    """Total log10 probability of ``lines`` (each non-empty line a sentence, words split as
    ``str.split()`` splits them), and the numbers of non-empty lines, words and unknown words."""
    threads = default_threads() if threads is None else threads

    def score(buf: np.ndarray) -> tuple[float, int, int, int]:
        seq, n_lines, n_words, n_unknown = table.encode_bytes(buf)
        if n_words == 0:
            return 0.0, n_lines, n_words, n_unknown
        logp = backoff_log10(seq, tables.keys, tables.log10_prob, tables.log10_backoff, tables.vocab_size, table.bos)
        return float(logp[seq != table.bos].sum()), n_lines, n_words, n_unknown

    parts = (half for block in _blocks(lines) for half in _halves(_joined(block)))
    total, n_lines, n_words, n_unknown = 0.0, 0, 0, 0
    for part_total, part_lines, part_words, part_unknown in _ordered_map(score, parts, threads):
        total += part_total
        n_lines += part_lines
        n_words += part_words
        n_unknown += part_unknown
    return total, n_lines, n_words, n_unknown


def _halves(data: np.ndarray) -> Iterator[np.ndarray]:
    """``data`` (UTF-8 bytes) as one or two arrays, cut after the first line break past its middle."""
    if len(data) >= _WHOLE:
        breaks = np.flatnonzero(data[len(data) // 2 :] == 10)
        if len(breaks):
            cut = len(data) // 2 + int(breaks[0])
            yield data[:cut]
            yield data[cut + 1 :]
            return
    yield data


def _ordered_map(fn: Callable, items: Iterator, threads: int) -> Iterator:
    """``map(fn, items)`` run on ``threads`` threads, results in order, at most one more pending than threads."""
    first = next(items, None)
    if first is None:
        return
    second = next(items, None)
    if threads <= 1 or second is None:  # one thread, or too little text to share out
        yield fn(first)
        if second is not None:
            yield fn(second)
            yield from map(fn, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="textkit-score") as pool:
        pending = deque([pool.submit(fn, first), pool.submit(fn, second)])
        for item in items:
            pending.append(pool.submit(fn, item))
            while len(pending) > threads + 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
