"""ARPA back-off language model files: write and read (plain or ``.gz``).

The format (as SRILM, KenLM and every ASR toolkit read it)::

    \\data\\
    ngram 1=V
    ngram 2=M
    \\1-grams:
    log10p  word  [log10 backoff]
    \\2-grams:
    log10p  w1 w2 [log10 backoff]
    \\end\\

In memory an ARPA model is a :class:`BackoffTables`: the words, and per order the sorted integer
keys of :mod:`textkit.lm.counting` with a log10 probability and (below the top order) a log10
back-off weight. ``<s>`` gets log10 probability -99 (it is never predicted). A file without
``<unk>`` gets one with log10 probability -100, as KenLM does when it loads such a file, so unknown
words score the same in both.

Reading is streamed: lines come in ~4 MB blocks, each parsed in bulk (one ``split`` per block,
numbers converted by numpy, words mapped to ids at once), so memory is the model's arrays plus one
block, whatever the file size.

>>> tables = read_arpa("model.arpa.gz"); write_arpa("copy.arpa", tables)
"""

from __future__ import annotations

import gc
import gzip
import io
import logging
import lzma
import re
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, atomic_write, open_binary

logger = logging.getLogger(__name__)

BOS, EOS, UNK = "<s>", "</s>", "<unk>"  # the sentence markers and unknown word of ARPA files
SPECIALS = (UNK, BOS, EOS)  # a model vocabulary lists these first
NEVER = -99.0  # ARPA's log10 "probability zero" (used for <s>)
MISSING_UNK = -100.0  # what KenLM gives <unk> when a file has none
_CHUNK = 1 << 18  # n-gram entries per formatted block (~10 MB of text)
_LOG10_ONE = 1e-6  # log10 probabilities up to this count as 0 (files round them)
_COUNT_LINE = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)$")


@dataclass
class BackoffTables:
    """An n-gram back-off model in integer-key form.

    ``tokens``: the words (id = position; ``<unk> <s> </s>`` first). ``keys[n-2]``: sorted int64
    keys of the order-n table, n = 2..order. ``log10_prob[n-1]``: log10 p of each order-n entry
    (order 1 is dense over all words). ``log10_backoff[n-1]``: log10 back-off weight of each order-n
    entry, n = 1..order-1 (0 for an entry that is no context).
    """

    tokens: list[str]
    keys: list[np.ndarray]
    log10_prob: list[np.ndarray]
    log10_backoff: list[np.ndarray]

    @property
    def order(self) -> int:
        return len(self.log10_prob)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def counts(self) -> list[int]:
        return [len(p) for p in self.log10_prob]


# ---- writing -----------------------------------------------------------------------------------
def write_arpa(path: PathLike, tables: BackoffTables) -> None:
    """Write ``tables`` as an ARPA file, gzipped if ``path`` ends in ``.gz``; atomically."""
    gz = str(path).endswith(".gz")
    with atomic_write(path, "wb") as raw:
        if gz:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as z:
                _write_text(z, tables)
        else:
            _write_text(raw, tables)


def _write_text(out, tables: BackoffTables) -> None:
    """The ARPA text into the binary stream ``out``. The n-gram lines are formatted in compiled
    code (:mod:`textkit.lm.arpa_text`, which releases the GIL) a block of entries at a time, on a
    second thread while the previous block is written, as lmplz overlaps its stages."""
    from concurrent.futures import ThreadPoolExecutor

    from textkit.lm.arpa_text import token_table

    header = "\\data\\\n" + "".join(f"ngram {n}={count}\n" for n, count in enumerate(tables.counts(), 1))
    out.write(header.encode())
    token_bytes, token_starts = token_table(tables.tokens)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(1, tables.order + 1):
            out.write(f"\n\\{n}-grams:\n".encode())
            pending = deque()
            for lo in range(0, len(tables.log10_prob[n - 1]), _CHUNK):
                pending.append(pool.submit(_format_entries, tables, n, lo, token_bytes, token_starts))
                if len(pending) > 2:  # at most three blocks of text in memory
                    out.write(pending.popleft().result())
            while pending:
                out.write(pending.popleft().result())
    out.write(b"\n\\end\\\n")


def _format_entries(tables: BackoffTables, n: int, lo: int, token_bytes: np.ndarray, token_starts: np.ndarray) -> memoryview:
    """The ARPA lines of the order-n entries ``lo`` to ``lo + _CHUNK``."""
    from textkit.lm.arpa_text import format_block

    prob = tables.log10_prob[n - 1]
    hi = min(lo + _CHUNK, len(prob))
    words = _entry_words(tables, n, lo, hi)
    block_prob = np.maximum(np.nan_to_num(prob[lo:hi], neginf=NEVER), NEVER)
    block_backoff = tables.log10_backoff[n - 1][lo:hi] if n < tables.order else None
    return format_block(words, block_prob, block_backoff, token_bytes, token_starts)


def _entry_words(tables: BackoffTables, n: int, lo: int, hi: int) -> np.ndarray:
    """Word ids (entries × n) of the order-n entries ``lo:hi``: each key is its context's table
    index × V + its last word, so the words come from walking the keys down the orders."""
    V = tables.vocab_size
    words = np.empty((hi - lo, n), dtype=np.int32)
    if n == 1:
        words[:, 0] = np.arange(lo, hi)
        return words
    keys = tables.keys[n - 2][lo:hi]
    for j in range(n - 1, 0, -1):
        context, words[:, j] = np.divmod(keys, V)
        if j > 1:
            keys = tables.keys[j - 2][context]
    words[:, 0] = context
    return words


# ---- reading -----------------------------------------------------------------------------------
def read_arpa(path: PathLike) -> BackoffTables:
    """Read an ARPA file (``.gz`` too). Malformed or truncated files raise ModelFileError."""
    # Millions of short-lived strings: the cyclic GC would rescan them over and over for nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_arpa(path)
    finally:
        if was_enabled:
            gc.enable()


def _read_arpa(path: PathLike) -> BackoffTables:
    with open_binary(path) as raw, io.TextIOWrapper(raw, encoding="utf-8") as f:
        lines = _LineBlocks(f, path)
        declared = _read_header(lines, path)
        probs1, words1, backoffs1 = _read_section(lines, path, 1, declared[0], stoi=None)
        tokens, stoi, prob, backoff = _unigram_table(path, words1[:, 0].tolist(), probs1, backoffs1)
        V, order = len(tokens), len(declared)
        log10_prob, log10_backoff, keys = [prob], [backoff] if order > 1 else [], []
        for n in range(2, order + 1):
            probs, word_ids, backoffs = _read_section(lines, path, n, declared[n - 1], stoi)
            key, order_by = _sorted_keys(path, word_ids, keys, V, n)
            del word_ids
            keys.append(key)
            log10_prob.append(probs[order_by])
            if n < order:
                log10_backoff.append(backoffs[order_by])
        _expect_end(lines, path, order)
    return BackoffTables(tokens, keys, log10_prob, log10_backoff)


_BLOCK_BYTES = 1 << 22  # lines are read ~4 MB at a time and parsed in bulk (~100 MB of str objects)


class _LineBlocks:
    """The lines of a text file read in large blocks, with a cursor and line numbers, so that a
    file of 10^8 n-grams is parsed block by block (memory: one block) and mostly in C."""

    def __init__(self, f: io.TextIOWrapper, path: PathLike):
        self.f, self.path = f, path
        self.block: list[str] = []
        self.pos = 0
        self.block_lineno = 1  # line number of block[0]

    def _ensure(self) -> bool:
        if self.pos < len(self.block):
            return True
        self.block_lineno += len(self.block)
        try:
            self.block = self.f.readlines(_BLOCK_BYTES)
        except UnicodeDecodeError as e:
            raise ModelFileError(f"{self.path}: not a UTF-8 text file (byte {e.start} of a block); not an ARPA language model") from None
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
            raise ModelFileError(f"{self.path}: read failed: truncated or corrupt file ({e})") from None
        self.pos = 0
        return bool(self.block)

    @property
    def lineno(self) -> int:
        return self.block_lineno + self.pos

    def next_nonblank(self) -> str | None:
        """The next non-blank line, stripped (None at the end of the file)."""
        while self._ensure():
            line = self.block[self.pos]
            self.pos += 1
            if line.strip():
                return line.strip()
        return None

    def peek_nonblank(self) -> str | None:
        while self._ensure():
            if self.block[self.pos].strip():
                return self.block[self.pos].strip()
            self.pos += 1
        return None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Chunks of consecutive n-gram lines (with their first line number), up to a blank or a
        backslash line, which is left unread."""
        while self._ensure():
            block, start = self.block, self.pos
            end = start
            while end < len(block):
                line = block[end]
                if not (line[:1] == "-" or line[:1].isdigit()) and (line.isspace() or line.lstrip().startswith("\\")):
                    break
                end += 1
            if end > start:
                yield self.block_lineno + start, block[start:end]
            self.pos = end
            if end < len(block):
                return


def _read_header(lines: _LineBlocks, path: PathLike) -> list[int]:
    """Skip to \\data\\ (text before it is ignored, as SRILM does) and read the n-gram counts."""
    while (line := lines.next_nonblank()) is not None and line != "\\data\\":
        pass
    if line is None:
        raise ModelFileError(f"{path}: not an ARPA language model (no \\data\\ header)")
    declared: dict[int, int] = {}
    while (line := lines.peek_nonblank()) is not None and not line.startswith("\\"):
        match = _COUNT_LINE.match(line)
        if not match:
            raise ModelFileError(f"{path}: line {lines.lineno}: expected 'ngram N=COUNT' in the \\data\\ header, found {line[:60]!r}")
        declared[int(match.group(1))] = int(match.group(2))
        lines.next_nonblank()
    order = len(declared)
    if order == 0 or sorted(declared) != list(range(1, order + 1)):
        raise ModelFileError(f"{path}: the \\data\\ header must declare ngram 1=.. up to the model order")
    return [declared[n] for n in range(1, order + 1)]


def _read_section(lines: _LineBlocks, path: PathLike, n: int, declared: int, stoi: dict[str, int] | None):
    """One \\n-grams: section: log10 probs, words (n = 1: an object array) or word ids (int32,
    n > 1: mapped block by block so no word strings pile up), back-offs."""
    line = lines.next_nonblank()
    if line != f"\\{n}-grams:":
        where = f"found {line[:60]!r}" if line is not None else "the file ends"
        raise ModelFileError(f"{path}: truncated or malformed ARPA file: expected the \\{n}-grams: section, {where}")
    probs, words, backoffs, count = [], [], [], 0
    for first_lineno, rows in lines.rows():
        count += len(rows)
        if count > declared:
            break
        p, w, b = _parse_rows(path, rows, n, first_lineno)
        probs.append(p)
        backoffs.append(b)
        words.append(w if stoi is None else _word_ids(path, w, stoi, n))
    if count != declared:
        has = f"more than {declared}" if count > declared else str(count)
        raise ModelFileError(f"{path}: truncated or inconsistent ARPA file: the header declares {declared} {n}-grams, the section has {has}")
    empty = np.zeros((0, n), dtype=object if stoi is None else np.int32)
    return np.concatenate(probs or [np.zeros(0)]), np.concatenate(words or [empty]), np.concatenate(backoffs or [np.zeros(0)])


def _word_ids(path: PathLike, words: np.ndarray, stoi: dict[str, int], n: int) -> np.ndarray:
    flat = words.ravel().tolist()
    try:
        return np.fromiter(map(stoi.__getitem__, flat), dtype=np.int32, count=len(flat)).reshape(-1, n)
    except KeyError as e:
        raise ModelFileError(f"{path}: the {n}-grams use the word {e.args[0]!r}, which has no unigram") from None


def _expect_end(lines: _LineBlocks, path: PathLike, order: int) -> None:
    line = lines.next_nonblank()
    if line != "\\end\\":
        found = f", found {line[:60]!r}" if line is not None else ""
        raise ModelFileError(f"{path}: truncated ARPA file (no \\end\\ line after the {order}-grams{found})")


def _parse_rows(path: PathLike, rows: list[str], n: int, first_lineno: int):
    """log10 probs, an (m, n) array of words, and back-offs (0 where absent) for one section.

    Parsed in bulk (split in C, numbers converted by numpy) because big ARPA files have 10^8 lines.
    """
    flat = " ".join(rows).split()  # one list of strings: no per-line lists for the GC to walk
    for width in (n + 1, n + 2):
        if len(flat) == len(rows) * width:  # every line has the same fields (the usual case)
            table = np.array(flat, dtype=object).reshape(len(rows), width)
            return _parse_table(path, rows, table, np.arange(len(rows)), n, first_lineno)
    return _parse_mixed(path, rows, n, first_lineno)


def _parse_mixed(path: PathLike, rows: list[str], n: int, first_lineno: int):
    """Sections where some lines have a back-off and others not (or a line is malformed)."""
    parts = list(map(str.split, rows))
    n_fields = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    bad = np.flatnonzero((n_fields != n + 1) & (n_fields != n + 2))
    if len(bad):
        i = int(bad[0])
        raise ModelFileError(
            f"{path}: line {first_lineno + i}: expected 'log10prob' and {n} words [and a back-off], "
            f"found {rows[i][:60]!r} (truncated or malformed ARPA file)"
        )
    probs = np.zeros(len(rows))
    backoffs = np.zeros(len(rows))
    words = np.empty((len(rows), n), dtype=object)
    for width in (n + 1, n + 2):
        at = np.flatnonzero(n_fields == width)
        if len(at):
            table = np.array([parts[i] for i in at.tolist()], dtype=object).reshape(len(at), width)
            probs[at], words[at], backoffs[at] = _parse_table(path, rows, table, at, n, first_lineno)
    return probs, words, backoffs


def _parse_table(path: PathLike, rows: list[str], table: np.ndarray, at: np.ndarray, n: int, first_lineno: int):
    """Numbers and words of rows ``at`` laid out as a (rows, fields) object array."""
    numbers = [0, n + 1] if table.shape[1] == n + 2 else [0]
    try:
        probs = table[:, 0].astype(np.float64)
        backoffs = table[:, n + 1].astype(np.float64) if table.shape[1] == n + 2 else np.zeros(len(table))
    except ValueError as e:
        r = next(r for r, row in enumerate(table[:, numbers].tolist()) if not all(_is_number(x) for x in row))
        i = int(at[r])
        raise ModelFileError(f"{path}: line {first_lineno + i}: not a number in {rows[i][:60]!r} ({e})") from None
    # log10 p is at most 0 (a little above: rounding) or -inf (probability zero); back-offs are finite
    bad = np.flatnonzero(np.isnan(probs) | (probs > _LOG10_ONE) | ~np.isfinite(backoffs))
    if len(bad):
        i = int(at[bad[0]])
        what = "log10 probability above 0" if probs[bad[0]] > _LOG10_ONE else "value that is not a finite number"
        raise ModelFileError(f"{path}: line {first_lineno + i}: a {what} in {rows[i][:60]!r}") from None
    return probs, table[:, 1 : n + 1], backoffs


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _unigram_table(path: PathLike, file_words: list[str], probs: np.ndarray, backoffs: np.ndarray):
    """Vocabulary (``<unk> <s> </s>`` first, then the file's order) and dense unigram arrays."""
    for special in (BOS, EOS):
        if special not in file_words:
            raise ModelFileError(f"{path}: the ARPA file has no {special} unigram; it is not a sentence-level language model")
    if len(set(file_words)) != len(file_words):
        raise ModelFileError(f"{path}: a unigram is listed twice")
    if UNK not in file_words:
        logger.warning("%s has no <unk>; unknown words get log10 probability %s (as in KenLM)", path, MISSING_UNK)
    tokens = list(SPECIALS) + [w for w in file_words if w not in SPECIALS]
    stoi = {w: i for i, w in enumerate(tokens)}
    prob = np.full(len(tokens), MISSING_UNK)
    backoff = np.zeros(len(tokens))
    ids = np.fromiter(map(stoi.__getitem__, file_words), dtype=np.int64, count=len(file_words))
    prob[ids] = probs
    backoff[ids] = backoffs
    prob[stoi[BOS]] = NEVER
    return tokens, stoi, prob, backoff


def _sorted_keys(path: PathLike, word_ids: np.ndarray, keys: list[np.ndarray], V: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer keys of the order-n entries (sorted) and the permutation that sorts them."""
    prefix = word_ids[:, 0].astype(np.int64)
    for j in range(1, n - 1):  # walk the context w1 .. w(n-1) down the lower-order tables
        prefix = _find(keys[j - 1], prefix * V + word_ids[:, j], path, n)
    key = prefix * V + word_ids[:, n - 1]
    order_by = np.argsort(key, kind="stable")
    key = key[order_by]
    if len(key) > 1 and np.any(key[1:] == key[:-1]):
        raise ModelFileError(f"{path}: an {n}-gram is listed twice")
    return key, order_by


def _find(table_keys: np.ndarray, keys: np.ndarray, path: PathLike, n: int) -> np.ndarray:
    at = np.searchsorted(table_keys, keys)
    ok = at < len(table_keys)
    ok[ok] = table_keys[at[ok]] == keys[ok]
    if not ok.all():
        raise ModelFileError(
            f"{path}: {int((~ok).sum())} {n}-grams have a context that is not listed as a lower-order n-gram; "
            "textkit (like most ARPA readers) needs every context listed"
        )
    return at.astype(np.int64)
