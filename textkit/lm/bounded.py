"""Building a Kneser-Ney model in bounded memory: partitions spilled to a temporary folder.

The in-memory build (:func:`textkit.lm.counting.count_ngrams` then
:func:`textkit.lm.smoothing.kneser_ney`) holds every n-gram at once. Here the work is cut so that
each piece fits a memory budget, and the model is the same to the last bit:

1. **Reading.** Word ids go to a temporary file as the text streams in; after the vocabulary is
   known they are rewritten as model ids, each line wrapped as ``<s> .. </s>``. In memory: one
   chunk of lines and the words.
2. **Counting, by the second-to-last word.** The n-grams of orders ≥ 2 whose next-to-last word
   belongs to partition q are counted together (one pass over the id file per partition). Each
   partition holds everything Kneser-Ney needs of its n-grams except one thing: the left
   extensions ``w0 w1..wn`` of ``w1..wn`` (adjusted counts), the extensions ``h w`` of a context
   ``h`` ending in a word of q (A(h), N1/N2/N3+(h), γ(h)), and the suffix ``w2..wn`` of ``hw``
   (interpolation) all share the next-to-last word. The missing piece is γ of an n-gram seen as a
   context (its back-off weight): that lives in the partition of its *last* word, and is joined
   in step 4. Adjusted counts and count-of-counts are found here; the partition is spilled.
3. **Probabilities.** With the discounts (which need every partition's count-of-counts) each
   partition's probabilities and context weights are computed by the in-memory arithmetic, and
   scattered to output buckets by the n-gram's first word (contiguous word-id ranges).
4. **Output.** Per order, bucket after bucket, the n-grams are put in the model's order (the keys
   of :mod:`textkit.lm.counting`, which sort as the word tuples do; a bucket holds all n-grams
   starting with its words, so global ranks are the bucket's offset plus its own), joined with
   their back-off weights, and written out (ARPA text or the native arrays) as they come.

The smallest unit is one word: all n-grams with the same next-to-last word form one partition,
and all n-grams with the same first word one bucket; a word so frequent that its n-grams alone
exceed the budget makes the build exceed it (logged).

>>> NgramLM(order=5).build_lines(open("big.txt"), "models/big5", memory="2G")   # the way in
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textkit.errors import OutputError, UsageError
from textkit.lm.compiled import NGRAM
from textkit.lm.counting import (
    NgramTable,
    WordIndex,
    _chunks,
    _FirstAppearance,
    _id_chunks,
    _search,
    _wrap,
    ngram_vocab,
    radix_sort,
    special_id,
)
from textkit.lm.encoding import NewWords
from textkit.lm.smoothing import (
    _log10,
    count_of_counts,
    discounts_from_counts,
    unigram_probs,
)

logger = logging.getLogger(__name__)

MIN_MEMORY = 128 << 20  # the interpreter and libraries take ~100 MB of any budget
_BASE = 96 << 20  # what the interpreter, numpy and the compiled kernels take before any data
_IN_MEMORY_BYTES_PER_ORDER = 27  # the in-memory build's peak per token and order (with a margin over order 5's ~100)
_CHUNK_TOKENS = 1 << 22  # ids read per step from the id file
_PENDING = 6  # arrays waiting to be written to the temporary folder
_NO_REFS = np.zeros(0, dtype=np.int32)
_WORKERS = 2  # threads over partitions (the kernels release the GIL)


def parse_memory(spec: str | int) -> int:
    """Bytes from ``1G``, ``500M``, ``64K``, ``123`` (bytes) or ``80%`` (of physical memory)."""
    if isinstance(spec, int):
        size = spec
    else:
        text = str(spec).strip().upper().removesuffix("B")
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
        try:
            if text.endswith("%"):
                fraction = float(text[:-1]) / 100
                if not 0 < fraction <= 1:
                    raise ValueError
                size = int(fraction * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
            elif text and text[-1] in units:
                size = int(float(text[:-1]) * units[text[-1]])
            else:
                size = int(text)
        except ValueError:
            raise UsageError(f"cannot read the memory size {spec!r}; give e.g. 1G, 500M or 80%") from None
    if size < MIN_MEMORY:
        raise UsageError(f"a memory budget of {_human(size)} is too small: at least {_human(MIN_MEMORY)} is needed")
    return size


def _human(size: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size} bytes"


@dataclass
class BuildResult:
    vocab: object
    discounts: list
    fell_back: list[int]
    train_tokens: int
    counts: list[int]
    partitions: int = 1
    buckets: int = 1
    spilled: bool = False


class _Spill:
    """The temporary folder: every file the build writes lives here and goes with it, also on
    Ctrl-C or SIGTERM (the caller runs under :func:`textkit.io.sigterm_raises`).

    Writes go to one background thread, in order, so that computing and writing overlap; at most
    ``_PENDING`` arrays wait, and :meth:`flush` waits for all (before anything is read back)."""

    def __init__(self, temp_dir):
        parent = Path(temp_dir) if temp_dir is not None else Path(tempfile.gettempdir())
        self.parent = parent
        try:
            self.path = Path(tempfile.mkdtemp(prefix="textkit-ngram-", dir=parent))
        except OSError as e:
            raise OutputError(f"{parent}: cannot write temporary files ({e.strerror or e})") from None
        self.meta: dict = {}
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: deque = deque()
        self._deleter = ThreadPoolExecutor(max_workers=1)
        self._deleting: deque = deque()
        self._lock = threading.RLock()  # partitions are worked on by two threads

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._deleter.shutdown(wait=True)
        shutil.rmtree(self.path, ignore_errors=True)

    def file(self, name: str) -> Path:
        self.flush()
        return self.path / name

    def append(self, name: str, array: np.ndarray) -> None:
        self._write(name, "ab", array)

    def save(self, name: str, **arrays) -> None:
        for key, array in arrays.items():
            self._write(f"{name}.{key}", "wb", array)
            self.meta[f"{name}.{key}"] = (array.dtype.str, array.shape)

    def _write(self, name: str, mode: str, array: np.ndarray) -> None:
        with self._lock:
            self._pending.append(self._pool.submit(self._write_now, name, mode, np.ascontiguousarray(array)))
            while len(self._pending) > _PENDING:
                self._pending.popleft().result()

    def _write_now(self, name: str, mode: str, array: np.ndarray) -> None:
        try:
            with open(self.path / name, mode) as f:
                _write_bytes(f, array.data)
        except OSError as e:
            raise self.error(e) from None

    def flush(self) -> None:
        with self._lock:
            while self._pending:
                self._pending.popleft().result()

    def load(self, name: str, key: str, flush: bool = True) -> np.ndarray:
        """An array saved with :meth:`save` (``flush=False``: known to be written already)."""
        if flush:
            self.flush()
        dtype, shape = self.meta[f"{name}.{key}"]
        return np.fromfile(self.path / f"{name}.{key}", dtype=dtype).reshape(shape)

    def read(self, name: str, dtype, width: int = 0) -> np.ndarray:
        p = self.file(name)
        if not p.exists():
            return np.zeros((0, width) if width else 0, dtype=dtype)
        a = np.fromfile(p, dtype=dtype)
        return a.reshape(-1, width) if width else a

    def remove(self, prefix: str) -> None:
        """Delete the files whose names start with ``prefix`` (used up; no name is used again).
        Deleting a large file takes the system a while (its pages are freed): that is left to a
        thread of its own, so that the build goes on meanwhile."""
        self.flush()
        with self._lock:
            self._deleting.append(self._deleter.submit(self._unlink, prefix))
            while self._deleting and self._deleting[0].done():
                self._deleting.popleft().result()

    def _unlink(self, prefix: str) -> None:
        for p in self.path.glob(f"{prefix}*"):
            p.unlink()

    def error(self, e: OSError) -> OutputError:
        from textkit.io import output_error

        return output_error(f"{self.parent} (temporary files)", e)


def _release_free_memory() -> None:
    """Give the memory freed by the last step back to the system (glibc keeps what worker threads
    freed in their own heaps, where the next step, run on other threads, cannot reuse it)."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _write_bytes(f, data) -> None:
    f.write(data)


# ---- 1. reading ----------------------------------------------------------------------------------
def _read_text(texts: Iterable, split_lines: bool, vocab, min_freq: int, spill: _Spill, chunk_lines: int = 8192):
    """Stream ``texts`` to the id file ``seq`` (model ids, lines wrapped). Returns the model
    vocabulary, the raw unigram counts (<s> counted 0), the number of ids and of lines."""
    n_lines = n_ids = 0
    if vocab is not None:
        index = WordIndex.from_vocab(vocab)
        bos, eos = special_id(vocab, "<s>"), special_id(vocab, "</s>")
        counts = np.zeros(len(vocab), dtype=np.int64)
        for chunk in _chunks(texts, chunk_lines):
            ids, lengths, _ = index.encode(chunk, split_lines=split_lines, chunk_lines=chunk_lines)
            seq = _wrap(ids, lengths, bos, eos, np.zeros(0, np.int32))
            counts += np.bincount(seq, minlength=len(vocab))
            spill.append("seq", seq)
            n_lines += len(lengths)
            n_ids += len(seq)
        counts[bos] = 0
        return vocab, counts, n_ids, n_lines
    # provisional ids shifted by 2: 0 is <s>, 1 is </s>
    counts = np.zeros(2, dtype=np.int64)
    words = _NewWords(split_lines)
    for raw, lines in _raw_blocks(texts, split_lines, chunk_lines, words):
        spill.append("raw", raw)
        if len(counts) < len(words) + 2:
            counts = np.concatenate([counts, np.zeros(len(words) + 2 - len(counts), np.int64)])
        counts += np.bincount(raw, minlength=len(counts))
        n_lines += lines
        n_ids += len(raw)
    if n_lines == 0:
        return None, None, 0, 0
    vocab, model_ids = ngram_vocab(words.index(), counts[2:], min_freq)
    del words
    bos, eos = special_id(vocab, "<s>"), special_id(vocab, "</s>")
    table = np.concatenate([[bos, eos], model_ids]).astype(np.int32)
    unigram = np.zeros(len(vocab), dtype=np.int64)
    for raw in _file_chunks(spill.file("raw"), _CHUNK_TOKENS):
        seq = table[raw]
        unigram += np.bincount(seq, minlength=len(vocab))
        spill.append("seq", seq)
    os.unlink(spill.file("raw"))
    unigram[bos] = 0
    return vocab, unigram, n_ids, n_lines


class _NewWords:
    """Words numbered as they first appear: by the compiled splitter for text lines, else a dict."""

    def __init__(self, split_lines: bool):
        self.compiled = NewWords() if split_lines else None
        self.python = _FirstAppearance()

    def __len__(self) -> int:
        return len(self.compiled if self.compiled is not None else self.python)

    def index(self) -> dict[str, int]:
        """word -> number, in number order."""
        if self.compiled is None:
            return dict(self.python)
        words = self.compiled.words()
        return dict(zip(words, range(len(words))))


def _raw_blocks(texts: Iterable, split_lines: bool, chunk_lines: int, words: _NewWords):
    """(wrapped provisional ids: <s> 0, </s> 1, word number + 2; lines) of ``texts``, a block at a time."""
    if words.compiled is not None:
        yield from words.compiled.encode_blocks(texts)
        return
    for chunk in _chunks(texts, chunk_lines):
        ids, lengths = _id_chunks(chunk, lambda tokens: map(words.python.__getitem__, tokens), False, chunk_lines)
        yield _wrap(ids + 2, lengths, 0, 1, np.zeros(0, np.int32)), len(lengths)


def _file_chunks(path: Path, size: int) -> Iterator[np.ndarray]:
    if not path.exists():
        return
    with open(path, "rb") as f:
        while True:
            a = np.fromfile(f, dtype=np.int32, count=size)
            if len(a) == 0:
                return
            yield a


def _line_chunks(path: Path, size: int, eos: int) -> Iterator[np.ndarray]:
    """The id file in pieces that end with a line (``</s>``)."""
    rest = np.zeros(0, np.int32)
    for a in _file_chunks(path, size):
        a = np.concatenate([rest, a]) if len(rest) else a
        ends = np.flatnonzero(a == eos)
        if len(ends) == 0:
            rest = a
            continue
        cut = ends[-1] + 1
        yield a[:cut]
        rest = a[cut:].copy()
    if len(rest):
        yield rest


def _in_turn(work: Callable, items: Iterable, workers: int) -> Iterator:
    """``work(item)`` for every item, on ``workers`` threads (at most that many items at a time:
    each holds a partition), the results in the items' order."""
    if workers <= 1:
        yield from map(work, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    running: deque = deque()
    try:
        for item in items:
            running.append(pool.submit(work, item))
            if len(running) >= workers:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---- 2. counting a partition --------------------------------------------------------------------
@NGRAM.kernel("i8(i4[::1], i4[::1], i8, i8, i4[:, ::1], i8)")
def _fill_windows(seq, part_of, q, bos, out, at):
    """Rows of the n-grams ending at each position p whose previous word is in partition ``q``:
    the N words up to p (-1 before the line start). Returns the next free row."""
    order = out.shape[1]
    line_start = 0
    for p in range(len(seq)):
        if seq[p] == bos:
            line_start = p
            continue
        if p == 0 or part_of[seq[p - 1]] != q:
            continue
        for k in range(order):
            pos = p - k
            out[at, order - 1 - k] = seq[pos] if pos >= line_start else -1
        at += 1
    return at


@NGRAM.kernel("Tuple((i8[::1], i4[::1], i4[::1], i4[::1]))(u8[::1], i4[::1], i8)")
def _groups(keys, rows, n_rows):
    """Distinct sorted ``keys``; each key's first row and count; the group of every row (-1: none)."""
    n = len(keys)
    n_groups = 0
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            n_groups += 1
    uniq = np.empty(n_groups, dtype=np.int64)
    first = np.empty(n_groups, dtype=np.int32)
    counts = np.zeros(n_groups, dtype=np.int32)
    group_of = np.full(n_rows, -1, dtype=np.int32)
    g = -1
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            g += 1
            uniq[g] = keys[i]
            first[g] = rows[i]
        counts[g] += 1
        group_of[rows[i]] = g
    return uniq, first, counts, group_of


def _group_rows(keys: np.ndarray, rows: np.ndarray, n_rows: int, key_bits: int):
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), np.full(n_rows, -1, np.int32)
    keys, rows = radix_sort(keys.astype(np.uint64, copy=False), rows, key_bits, overwrite=True)
    return _groups(keys, rows, n_rows)


def _count_partition(W: np.ndarray, V: int, bos: int, order: int):
    """The tables of orders 2..N of one partition's rows ``W`` (rows × N word ids).

    Contexts are numbered by a chain of sorts over the rows: level 1 is the previous word, level k
    the previous word's id-chain extended one word left. An n-gram is (its context, its word): key
    = context id × V + word, so the key's quotient is its context; ``suffix`` is the (n-1)-gram of
    the same row (its suffix), ``first`` the row it was first seen in.
    """
    m, N = W.shape
    rows = np.arange(m, dtype=np.int32)
    word = W[:, N - 1].astype(np.int64)
    context = W[:, N - 2].astype(np.int64)  # level 1: the word itself
    n_context = V
    tables = []
    entry_of_row = None
    for n in range(2, order + 1):
        if n > 2:  # contexts of n-1 words: level n-2 extended by the word n-1 back
            left, right = W[:, N - n], W[:, N - n + 1]
            valid = (context >= 0) & (left >= 0) & (right != bos)
            if max(n_context * V * V - 1, 0).bit_length() <= 64:
                # one sort by (context, word) numbers the contexts and the n-grams together
                uniq, first, counts, group_of, context, n_context = _count_with_contexts(
                    context, left, word, valid, rows, V, n_context
                )
                suffix = entry_of_row[first]
                tables.append((NgramTable(uniq, counts, suffix), first, n_context))
                entry_of_row = group_of
                context = context.astype(np.int64)
                continue
            ctx_keys = context[valid] * V + left[valid]
            bits = max(n_context * V - 1, 0).bit_length()
            _, _, _, context = _group_rows(ctx_keys, rows[valid], m, bits)
            n_context = int(context.max()) + 1 if m and context.max() >= 0 else 0
            context = context.astype(np.int64)
        valid = context >= 0
        keys = context[valid] * V + word[valid]
        bits = max(n_context * V - 1, 0).bit_length()
        uniq, first, counts, group_of = _group_rows(keys, rows[valid], m, bits)
        suffix = (uniq % V).astype(np.int32) if n == 2 else entry_of_row[first]
        tables.append((NgramTable(uniq, counts, suffix), first, n_context))
        entry_of_row = group_of
    return tables


def _count_with_contexts(context, left, word, valid, rows, V: int, n_context: int):
    """The table of one order and the numbering of its contexts from one sort: the rows' keys
    (context of n-2 words × V + the word before it) × V + their word sort the n-grams by context
    (n-1 words) then word, as the two sorts of :func:`_count_partition` would. Returns the
    distinct keys (context id × V + word), each one's first row and count, the n-gram and the
    context of every row (-1: none), and the number of contexts."""
    m = len(rows)
    keys = context[valid] * V + left[valid]
    keys = keys.astype(np.uint64)
    keys *= np.uint64(V)
    keys += word[valid].astype(np.uint64)
    bits = max(n_context * V * V - 1, 0).bit_length()
    if len(keys) == 0:
        return (
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.full(m, -1, np.int32),
            np.full(m, -1, np.int32),
            0,
        )
    keys, sorted_rows = radix_sort(keys, rows[valid], bits, overwrite=True)
    return _groups_with_contexts(keys, sorted_rows, m, V)


@NGRAM.kernel("Tuple((i8[::1], i4[::1], i4[::1], i4[::1], i4[::1], i8))(u8[::1], i4[::1], i8, i8)")
def _groups_with_contexts(keys, rows, n_rows, V):
    """:func:`_groups` over keys ``(context × V + left) × V + word``: the n-gram groups with their
    keys renumbered as (context id × V + word), and the contexts (the keys' quotient by V)."""
    n = len(keys)
    v = np.uint64(V)  # uint64 with int64 would be float64 in numba
    n_groups = 0
    n_contexts = 0
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            n_groups += 1
        if i == 0 or keys[i] // v != keys[i - 1] // v:
            n_contexts += 1
    uniq = np.empty(n_groups, dtype=np.int64)
    first = np.empty(n_groups, dtype=np.int32)
    counts = np.zeros(n_groups, dtype=np.int32)
    group_of = np.full(n_rows, -1, dtype=np.int32)
    context_of = np.full(n_rows, -1, dtype=np.int32)
    g = -1
    c = -1
    for i in range(n):
        if i == 0 or keys[i] // v != keys[i - 1] // v:
            c += 1
        if i == 0 or keys[i] != keys[i - 1]:
            g += 1
            uniq[g] = np.int64(c) * np.int64(V) + np.int64(keys[i] % v)
            first[g] = rows[i]
        counts[g] += 1
        group_of[rows[i]] = g
        context_of[rows[i]] = c
    return uniq, first, counts, group_of, context_of, n_contexts


def _adjust(tables, W: np.ndarray, bos: int, order: int) -> list[np.ndarray]:
    """Adjusted counts per order 2..N (continuation counts below the top order, raw counts for
    n-grams starting with <s> and at the top)."""
    N = W.shape[1]
    adjusted = []
    for i, (table, first, _) in enumerate(tables):
        n = i + 2
        if n == order:
            a = table.counts.astype(np.int64)
        else:
            higher = tables[i + 1][0]
            a = np.bincount(higher.suffix, minlength=len(table)).astype(np.int64)
            starts = W[first, N - n] == bos
            a[starts] = table.counts[starts]
        adjusted.append(a)
    return adjusted


@NGRAM.kernel("Tuple((f8[::1], f8[::1], f8[::1], i8[::1]))(i4[::1], i4[::1], i4[::1], f8[::1], f8, f8, f8, i8)")
def _estimate_order(context, a, suffix, lower, d1, d2, d3, n_context):
    """One order of one partition, entries sorted by context: p(w|h) of every entry, γ(h) of every
    context, and the first entry of each context. The arithmetic is :func:`_context_sums` and
    :func:`_interpolate`'s, operation for operation (the same bits)."""
    m = len(context)
    total = np.zeros(n_context)
    gamma = np.ones(n_context)
    n_runs = 0
    for i in range(m):
        if i == 0 or context[i] != context[i - 1]:
            n_runs += 1
    starts = np.empty(n_runs, dtype=np.int64)
    r = 0
    i = 0
    while i < m:
        c = context[i]
        starts[r] = i
        r += 1
        n1 = n2 = n3 = 0
        t = 0.0
        j = i
        while j < m and context[j] == c:
            k = a[j]
            t += k
            if k == 1:
                n1 += 1
            elif k == 2:
                n2 += 1
            elif k >= 3:
                n3 += 1
            j += 1
        total[c] = t
        if t != 0.0:
            g = d1 * np.float64(n1)
            g += d2 * np.float64(n2)
            g += d3 * np.float64(n3)
            gamma[c] = g / t
        i = j
    p = np.empty(m)
    for i in range(m):
        k = a[i]
        c = context[i]
        discount = 0.0 if k <= 0 else (d1 if k == 1 else (d2 if k == 2 else d3))
        x = (np.float64(k) - discount) / total[c]
        y = gamma[c] * lower[suffix[i]]
        p[i] = x + y
    return p, total, gamma, starts


@NGRAM.kernel("Tuple((i4[:, ::1], i4[::1]))(i4[:, ::1], i4[::1], i8, i8, i4[::1])")
def _gather(W, rows, lo, hi, bucket_of):
    """The words ``W[rows, lo:hi]`` and the bucket of the first of them (the rows are scattered
    over ``W``: read once, in the given order)."""
    m, k = len(rows), hi - lo
    words = np.empty((m, k), dtype=W.dtype)
    bucket = np.empty(m, dtype=np.int32)
    for i in range(m):
        row = rows[i]
        for j in range(k):
            words[i, j] = W[row, lo + j]
        bucket[i] = bucket_of[W[row, lo]]
    return words, bucket


@NGRAM.kernel("Tuple((i4[:, ::1], f8[::1], i4[::1], i8[::1], i8[::1]))(i4[:, ::1], i4[::1], f8[::1], i4[::1], i8)")
def _by_bucket(words, bucket, values, refs, n_buckets):
    """The rows of ``words``, their ``values`` and their ``refs`` (if any) grouped by ``bucket``
    (a stable counting sort); where each bucket's group starts (one entry more, the end); each
    item's place in its bucket's group."""
    m, k = words.shape
    bounds = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(m):
        bounds[bucket[i] + 1] += 1
    for b in range(n_buckets):
        bounds[b + 1] += bounds[b]
    at = bounds[:-1].copy()
    out_words = np.empty((m, k), dtype=words.dtype)
    out = np.empty(m, dtype=values.dtype)
    with_refs = len(refs) > 0
    out_refs = np.empty(m if with_refs else 0, dtype=refs.dtype)
    index = np.empty(m, dtype=np.int64)
    for i in range(m):
        b = bucket[i]
        t = at[b]
        at[b] = t + 1
        for j in range(k):
            out_words[t, j] = words[i, j]
        out[t] = values[i]
        if with_refs:
            out_refs[t] = refs[i]
        index[i] = t - bounds[b]
    return out_words, out, out_refs, bounds, index


# ---- the plan ------------------------------------------------------------------------------------
def _bytes_per_row(order: int) -> int:
    """Working memory per n-gram occurrence while a partition is counted or estimated."""
    return 32 * order + 24


def _bytes_per_entry(order: int) -> int:
    """Working memory per top-order n-gram while a bucket is put in order and written."""
    return 36 * order + 72


def _assign_partitions(weights: np.ndarray, n_parts: int) -> np.ndarray:
    """Words to partitions, heaviest first into the lightest (balanced by the rows they bring)."""
    part_of = np.zeros(len(weights), dtype=np.int32)
    if n_parts <= 1:
        return part_of
    heap = [(0, q) for q in range(n_parts)]
    for w in np.argsort(-weights, kind="stable").tolist():
        if weights[w] == 0:
            part_of[w] = w % n_parts
            continue
        load, q = heapq.heappop(heap)
        part_of[w] = q
        heapq.heappush(heap, (load + int(weights[w]), q))
    return part_of


def _bucket_ranges(weights: np.ndarray, n_buckets: int) -> np.ndarray:
    """Bucket of each word id: contiguous id ranges of about equal weight."""
    if n_buckets <= 1:
        return np.zeros(len(weights), dtype=np.int32)
    cum = np.cumsum(weights, dtype=np.float64)
    total = cum[-1] if len(cum) and cum[-1] > 0 else 1.0
    return np.minimum((cum - weights) * n_buckets // total, n_buckets - 1).astype(np.int32)


# ---- the build -----------------------------------------------------------------------------------
def build_bounded(
    texts: Iterable,
    split_lines: bool,
    *,
    order: int,
    modified: bool,
    discounts,
    min_freq: int,
    vocab,
    memory: int,
    temp_dir,
    write_model,
    partitions: int | None = None,
    buckets: int | None = None,
    chunk_tokens: int = _CHUNK_TOKENS,
    workers: int | None = None,
) -> BuildResult:
    """Count and estimate a (modified) Kneser-Ney model in about ``memory`` bytes, spilling to a
    folder under ``temp_dir`` (the system's temporary folder if None), removed at the end.

    ``write_model(stream)`` is called once with the model as a stream to write it from (a
    :class:`TablesStream` or a :class:`PartitionedStream`; see :func:`write_arpa_stream`).
    ``partitions`` / ``buckets`` force the number of pieces (tests); by default they follow
    from ``memory``, and a corpus that fits is built in memory in one piece. Partitions are
    counted and estimated on ``workers`` threads (default: two where there are two processors),
    each within its share of the budget.
    """
    if workers is None:
        workers = min(_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    with _Spill(temp_dir) as spill:
        vocab, unigram, n_ids, n_lines = _read_text(texts, split_lines, vocab, min_freq, spill)
        if n_lines == 0:
            from textkit.errors import EmptyCorpusError

            raise EmptyCorpusError("the training corpus has no tokens (is it empty?)")
        V = len(vocab)
        usable = memory - _BASE - 160 * V  # the words (strings, dict) and V-sized arrays
        if usable < (4 << 20):
            raise UsageError(
                f"a memory budget of {_human(memory)} is too small for a vocabulary of {V} words: "
                f"give at least {_human(_BASE + 160 * V + (4 << 20))}"
            )
        train_tokens = n_ids - n_lines
        in_memory = n_ids * _IN_MEMORY_BYTES_PER_ORDER * max(order, 5)
        fits = in_memory <= usable and partitions is None and buckets is None
        if partitions is None:
            partitions = 1 if fits else max(1, -(-n_ids * _bytes_per_row(order) * workers // usable))
        if buckets is None:
            buckets = 1 if fits else max(1, -(-n_ids * _bytes_per_entry(order) // usable))
        if order == 1 or fits:
            return _build_in_memory(
                spill, vocab, unigram, n_ids, n_lines, order, modified, discounts, write_model, train_tokens
            )
        logger.info("building in %d partitions and %d output buckets under %s", partitions, buckets, spill.path)
        builder = _Partitioned(spill, vocab, unigram, n_lines, order, modified, discounts, partitions, buckets)
        builder.chunk_tokens = chunk_tokens
        builder.workers = workers
        builder.count()
        _release_free_memory()
        builder.estimate()
        _release_free_memory()
        write_model(builder.stream())
        return BuildResult(
            vocab,
            builder.discounts,
            builder.fell_back,
            train_tokens,
            builder.counts(),
            partitions,
            buckets,
            True,
        )


def _build_in_memory(spill, vocab, unigram, n_ids, n_lines, order, modified, discounts, write_model, train_tokens):
    from textkit.lm.arpa import BackoffTables
    from textkit.lm.counting import count_ngrams
    from textkit.lm.smoothing import kneser_ney

    seq = np.fromfile(spill.file("seq"), dtype=np.int32)
    os.unlink(spill.file("seq"))
    bos = special_id(vocab, "<s>")
    unigram_in, tables = count_ngrams(seq, order, len(vocab), bos)
    del seq
    backoff, used, fell_back = kneser_ney(unigram_in, tables, bos, vocab.tokens, modified, discounts)
    assert isinstance(backoff, BackoffTables)
    write_model(TablesStream(backoff))
    return BuildResult(vocab, used, fell_back, train_tokens, backoff.counts())


class _Partitioned:
    def __init__(self, spill, vocab, unigram, n_lines, order, modified, discounts, partitions, buckets):
        self.spill, self.vocab, self.unigram, self.order = spill, vocab, unigram, order
        self.modified, self.given = modified, discounts
        self.V = len(vocab)
        self.bos = special_id(vocab, "<s>")
        self.eos = special_id(vocab, "</s>")
        # rows with previous word w: every occurrence of w but </s> (a line's last word), and each <s>
        rows_after = unigram.copy()
        rows_after[self.eos] = 0
        rows_after[self.bos] = n_lines
        self.rows_after = rows_after
        self.P = int(min(partitions, max(1, np.count_nonzero(rows_after))))
        self.part_of = _assign_partitions(rows_after, self.P)
        first_weight = unigram.copy()
        first_weight[self.bos] = n_lines
        self.B = int(buckets)
        self.bucket_of = _bucket_ranges(first_weight, self.B)
        self.t = np.zeros((order + 1, 4), dtype=np.int64)  # count-of-counts per order
        self.a1 = np.zeros(self.V, dtype=np.int64)  # distinct bigrams ending in each word
        self.n = np.zeros(order + 1, dtype=np.int64)  # n-grams per order
        self.filled: dict[str, np.ndarray] = {}  # items in each bucket's file, per file
        self.chunk_tokens = _CHUNK_TOKENS
        self.workers = 1
        self.lock = threading.Lock()

    def _rows(self, q: int) -> np.ndarray:
        m = int(self.rows_after[self.part_of == q].sum())
        W = np.empty((m, self.order), dtype=np.int32)
        at = 0
        for seq in _line_chunks(self.spill.path / "seq", self.chunk_tokens, self.eos):
            at = _fill_windows(seq, self.part_of, q, self.bos, W, at)
        assert at == m
        return W

    def count(self) -> None:
        """Step 2: every partition counted, adjusted, its count-of-counts added up, and spilled."""
        self.spill.flush()
        for q, a1, t, arrays in _in_turn(self._count_one, range(self.P), self.workers):
            self.a1 += a1
            for n in range(2, self.order + 1):
                self.t[n] += t[n]
                self.n[n] += len(arrays[f"a{n}"])
            self.spill.save(f"p{q}", **arrays)
            del arrays

    def _count_one(self, q: int):
        W = self._rows(q)
        tables = _count_partition(W, self.V, self.bos, self.order)
        adjusted = _adjust(tables, W, self.bos, self.order)
        a1 = np.bincount(tables[0][0].suffix, minlength=self.V)
        arrays, t = {}, {}  # W is made again from the id file when the partition is estimated
        for i, ((table, first, n_context), a) in enumerate(zip(tables, adjusted)):
            n = i + 2
            t[n] = count_of_counts(a)
            # keys are context id × V + last word
            context = (table.keys // self.V).astype(np.int32)
            word = (table.keys % self.V).astype(np.int32)
            arrays.update({f"x{n}": context, f"w{n}": word, f"a{n}": a.astype(np.int32), f"s{n}": table.suffix})
            if n > 2:  # a row of each context (one of its first extension's): its words make the context's record
                arrays[f"f{n}"] = first[np.flatnonzero(np.diff(context, prepend=-1))]
            arrays[f"c{n}"] = np.array([n_context])
        return q, a1, t, arrays

    def estimate(self) -> None:
        """Step 3: discounts, unigram probabilities, then each partition's probabilities and
        context weights, scattered to buckets by first word."""
        V, bos, order = self.V, self.bos, self.order
        a = self.a1.copy()
        a[bos] = self.unigram[bos]
        a[bos] = 0
        counted = np.delete(a, bos)
        self.discounts, self.fell_back = [], []
        d, fell = discounts_from_counts(1, count_of_counts(counted), self.modified, self.given)
        self.discounts.append(d)
        if fell:
            self.fell_back.append(1)
        for n in range(2, order + 1):
            d, fell = discounts_from_counts(n, [int(x) for x in self.t[n]], self.modified, self.given)
            self.discounts.append(d)
            if fell:
                self.fell_back.append(n)
        self.p1 = unigram_probs(a, counted, self.discounts[0], bos)
        self.backoff1 = np.zeros(V)  # log10 γ of each word as a context
        self.spill.flush()
        for q in _in_turn(self._estimate_partition, range(self.P), self.workers):
            self.spill.remove(f"p{q}.")
        self.p1 = _log10(self.p1)

    def _estimate_partition(self, q: int) -> int:
        spill, N = self.spill, self.order
        W = self._rows(q) if N > 2 else None  # the words of the context records
        lower = self.p1
        for n in range(2, N + 1):  # the partition's files were written before step 3 began
            context = spill.load(f"p{q}", f"x{n}", flush=False)
            word = spill.load(f"p{q}", f"w{n}", flush=False)
            a = spill.load(f"p{q}", f"a{n}", flush=False)
            suffix = spill.load(f"p{q}", f"s{n}", flush=False)
            n_context = int(spill.load(f"p{q}", f"c{n}", flush=False)[0])
            d1, d2, d3 = (float(x) for x in self.discounts[n - 1])
            p, total, gamma, starts = _estimate_order(context, a, suffix, lower, d1, d2, d3, n_context)
            del a, suffix
            # context weights: γ of each context (n-1 words) that has an extension here
            refs = _NO_REFS
            if n == 2:
                here = context[starts]
                here = here[total[here] > 0]
                self.backoff1[here] = _log10(gamma[here])  # the words of partition q only
                words = np.stack((context, word), axis=1)  # a bigram's context is its first word
                bucket = self.bucket_of[context]
            else:
                # each entry refers to its context's record (its prefix, in the same bucket)
                rows = spill.load(f"p{q}", f"f{n}", flush=False)
                record_words, record_bucket = _gather(W, rows, N - n, N - 1, self.bucket_of)
                record = self._scatter(f"b{n - 1}", record_words, record_bucket, _log10(gamma[context[starts]]))
                extensions = np.diff(np.append(starts, len(context)))
                refs = np.repeat(record.astype(np.int32), extensions)
                bucket = np.repeat(record_bucket, extensions)
                words = word[:, None]  # an entry of order >= 3 keeps its last word: its prefix is its record's
                del record, record_words, record_bucket, rows, extensions
            del total, gamma, starts
            self._scatter(f"e{n}", words, bucket, _log10(p.copy()), refs)
            lower = p
            del context, word, words, bucket, refs
        return q

    def _scatter(self, name: str, words: np.ndarray, bucket: np.ndarray, values: np.ndarray, refs=None) -> np.ndarray:
        """Append the rows of ``words``, their ``values`` (and ``refs``) to the files of their
        ``bucket``, keeping their order within each bucket. Returns each item's index in its bucket's file."""
        if len(words) == 0:
            return np.zeros(0, dtype=np.int64)
        refs = _NO_REFS if refs is None else refs
        words, values, refs, bounds, index = _by_bucket(words, bucket, values, refs, self.B)
        with self.lock:  # a partition's items go to each bucket's file together
            filled = self.filled.setdefault(name, np.zeros(self.B, dtype=np.int64))
            for b in range(self.B):
                start, end = bounds[b], bounds[b + 1]
                if end > start:
                    self.spill.append(f"{name}_{b}.w", words[start:end])
                    self.spill.append(f"{name}_{b}.v", values[start:end])
                    if len(refs):
                        self.spill.append(f"{name}_{b}.r", refs[start:end])
            index += filled[bucket]
            filled += np.diff(bounds)
        return index

    def counts(self) -> list[int]:
        return [self.V] + [int(x) for x in self.n[2:]]

    @property
    def rank_dtype(self):
        """Ranks of n-grams (any order) in the model: int32 when they fit."""
        return np.int32 if max(self.n) < 2**31 else np.int64

    def stream(self) -> PartitionedStream:
        return PartitionedStream(self)


# ---- 4. output -----------------------------------------------------------------------------------
class TablesStream:
    """A model in memory, offered block by block like :class:`PartitionedStream`."""

    def __init__(self, tables):
        self.tables = tables
        self.tokens = tables.tokens
        self.order = tables.order

    def counts(self) -> list[int]:
        return self.tables.counts()


class PartitionedStream:
    """The partitioned model, one order at a time, one bucket at a time, in model order."""

    def __init__(self, built: _Partitioned):
        self.b = built
        self.tokens = built.vocab.tokens
        self.order = built.order

    def counts(self) -> list[int]:
        return self.b.counts()

    def ordered(self, n: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
        """(words, keys, log10 probs, log10 back-offs or None) of order n, bucket by bucket."""
        b = self.b
        V, N = b.V, b.order
        if n == 1:
            yield np.arange(V, dtype=np.int32)[:, None], None, b.p1, b.backoff1 if N > 1 else None
            return
        offsets = {j: 0 for j in range(2, n)}  # entries of order j in the buckets before this one
        before = 0  # entries of order n in the buckets before this one
        for bucket in range(b.B):
            probs = b.spill.read(f"e{n}_{bucket}.v", np.float64)
            if n == 2:
                words = b.spill.read(f"e{n}_{bucket}.w", np.int32, n)
                keys = words[:, 0].astype(np.int64) * V + words[:, 1]
            else:  # the prefix is the context record each entry refers to, its words and rank known
                refs = b.spill.read(f"e{n}_{bucket}.r", np.int32)
                words = np.empty((len(refs), n), dtype=np.int32)
                words[:, : n - 1] = b.spill.read(f"b{n - 1}_{bucket}.w", np.int32, n - 1)[refs]
                words[:, n - 1] = b.spill.read(f"e{n}_{bucket}.w", np.int32)
                keys = b.spill.read(f"r{n - 1}_{bucket}.rank", b.rank_dtype)[refs].astype(np.int64)
                del refs
                keys *= V
                keys += words[:, n - 1]
                b.spill.remove(f"r{n - 1}_{bucket}.")
                b.spill.remove(f"b{n - 1}_{bucket}.")
            keys, order_by = radix_sort(keys.astype(np.uint64), np.arange(len(keys), dtype=np.int32), overwrite=True)
            keys = keys.astype(np.int64)
            backoff = None
            if n < N:
                backoff = np.zeros(len(keys))
                ctx_words = b.spill.read(f"b{n}_{bucket}.w", np.int32, n)
                ctx_gamma = b.spill.read(f"b{n}_{bucket}.v", np.float64)
                at = _ranks(keys, self._keys(ctx_words, bucket, offsets))
                backoff[at] = ctx_gamma
                # the next order looks its prefixes up here: by key (records) and by rank (entries)
                b.spill.save(f"k{n}_{bucket}", keys=keys)
                at += before
                b.spill.append(f"r{n}_{bucket}.rank", at.astype(b.rank_dtype))
                del at, ctx_words, ctx_gamma
            before += len(keys)
            for j in range(2, n):
                offsets[j] += b.spill.meta[f"k{j}_{bucket}.keys"][1][0]
            b.spill.remove(f"e{n}_{bucket}.")
            b.spill.remove(f"b{n}_{bucket}.v")  # its words give the next order's prefixes
            if n == N:  # no order left to look prefixes up in this bucket
                for j in range(2, N):
                    b.spill.remove(f"k{j}_{bucket}.")
            yield words[order_by], keys, probs[order_by], backoff

    def _keys(self, words: np.ndarray, bucket: int, offsets: dict) -> np.ndarray:
        """Model keys of n-grams (rows of words), all starting with a word of ``bucket``: the
        rank of the prefix among all (n-1)-grams × V + the last word."""
        V = self.b.V
        keys = words[:, 0].astype(np.int64) * V + words[:, 1]
        for j in range(2, words.shape[1]):
            table = self.b.spill.load(f"k{j}_{bucket}", "keys")
            keys = (offsets[j] + _ranks(table, keys)) * V + words[:, j]
        return keys


def _ranks(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Where each of ``keys`` (all present) is in the sorted ``table``: the keys are sorted first,
    so the searches walk the table forward instead of jumping across it."""
    index = np.zeros(len(keys), dtype=np.int32)  # a bucket's table holds fewer than 2**31 entries
    if len(keys):
        ordered, positions = radix_sort(keys.astype(np.uint64), np.arange(len(keys), dtype=np.int32), overwrite=True)
        _search(table, ordered, positions, index, True)
    return index.astype(np.int64)


# ---- writers -----------------------------------------------------------------------------------
def write_arpa_stream(path: Path, stream) -> None:
    """The ARPA file of ``stream`` (byte for byte what :func:`textkit.lm.arpa.write_arpa` writes)."""
    import gzip

    from textkit.lm.arpa_text import token_table

    gz = str(path).endswith(".gz")
    with open(path, "wb") as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if gz else raw
        header = "\\data\\\n" + "".join(f"ngram {n}={c}\n" for n, c in enumerate(stream.counts(), 1))
        token_bytes, token_starts = token_table(stream.tokens)
        # blocks are formatted on two workers and written (or compressed) in order on a third, so
        # that sorting the next bucket goes on while the disk takes the last one
        pool, writer = ThreadPoolExecutor(max_workers=2), ThreadPoolExecutor(max_workers=1)
        pending, written = deque(), deque()

        def put(data) -> None:
            written.append(writer.submit(out.write, data))
            while len(written) > 2:
                written.popleft().result()

        try:
            put(header.encode())
            for n in range(1, stream.order + 1):
                _release_free_memory()  # what the last order's blocks left in the workers' heaps
                put(f"\n\\{n}-grams:\n".encode())
                for words, _, probs, backoff in _ordered(stream, n):
                    for lo in range(0, len(probs), 1 << 18):
                        hi = lo + (1 << 18)
                        pending.append(
                            pool.submit(
                                _format,
                                words[lo:hi],
                                probs[lo:hi],
                                None if backoff is None else backoff[lo:hi],
                                token_bytes,
                                token_starts,
                            )
                        )
                        if len(pending) > 2:  # at most three blocks of text being made
                            put(pending.popleft().result())
                while pending:
                    put(pending.popleft().result())
            put(b"\n\\end\\\n")
            while written:
                written.popleft().result()
        finally:
            for future in (*pending, *written):
                future.cancel()
            pool.shutdown(wait=True)
            writer.shutdown(wait=True)
        if gz:
            out.close()


def _format(words, probs, backoff, token_bytes, token_starts):
    """ARPA lines of one block (formatted on a worker thread: the kernels release the GIL)."""
    from textkit.lm.arpa import NEVER
    from textkit.lm.arpa_text import format_block

    return format_block(
        words, np.maximum(np.nan_to_num(probs, neginf=NEVER), NEVER), backoff, token_bytes, token_starts
    )


def _ordered(stream, n: int):
    if isinstance(stream, PartitionedStream):
        yield from stream.ordered(n)
        return
    from textkit.lm.arpa import _entry_words

    t = stream.tables
    total = len(t.log10_prob[n - 1])
    for lo in range(0, total, 1 << 18):
        hi = min(lo + (1 << 18), total)
        yield (
            _entry_words(t, n, lo, hi),
            t.keys[n - 2][lo:hi] if n > 1 else None,
            t.log10_prob[n - 1][lo:hi],
            t.log10_backoff[n - 1][lo:hi] if n < t.order else None,
        )


def write_native_stream(path: Path, stream) -> None:
    """The native weights file (safetensors; see :mod:`textkit.lm.native`), array by array as the
    model streams in: the header is known from the counts, each block is written at its place."""
    counts = stream.counts()
    order = stream.order
    layout = []  # (name, dtype, length)
    for n in range(1, order + 1):
        if n > 1:
            layout.append((f"keys_{n}", "I64", counts[n - 1]))
        layout.append((f"log10_prob_{n}", "F64", counts[n - 1]))
        if n < order:
            layout.append((f"log10_backoff_{n}", "F64", counts[n - 1]))
    header, start, at = {}, {}, 0
    for name, dtype, length in layout:
        header[name] = {"dtype": dtype, "shape": [length], "data_offsets": [at, at + 8 * length]}
        start[name] = at
        at += 8 * length
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    base = 8 + len(text)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(base + at)
        for n in range(1, order + 1):
            done = 0
            for _, keys, probs, backoff in _ordered(stream, n):
                pieces = [(f"log10_prob_{n}", probs)]
                if n > 1:
                    pieces.append((f"keys_{n}", keys))
                if backoff is not None:
                    pieces.append((f"log10_backoff_{n}", backoff))
                for name, values in pieces:
                    f.seek(base + start[name] + 8 * done)
                    dtype = np.int64 if name.startswith("keys") else np.float64
                    f.write(np.ascontiguousarray(values, dtype=dtype).data)
                done += len(probs)
