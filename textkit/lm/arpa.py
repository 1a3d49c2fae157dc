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

>>> tables = read_arpa("model.arpa.gz"); write_arpa("copy.arpa", tables)
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, atomic_write, iter_lines
from textkit.lm.counting import BOS, EOS, SPECIALS, UNK

logger = logging.getLogger(__name__)

NEVER = -99.0  # ARPA's log10 "probability zero" (used for <s>)
MISSING_UNK = -100.0  # what KenLM gives <unk> when a file has none
_CHUNK = 1 << 20
_COUNT_LINE = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"\\(\d+)-grams:$")


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
                _write_text(io.TextIOWrapper(z, encoding="utf-8", newline="\n"), tables)
        else:
            _write_text(io.TextIOWrapper(raw, encoding="utf-8", newline="\n"), tables)


def _write_text(out: io.TextIOWrapper, tables: BackoffTables) -> None:
    out.write("\\data\\\n")
    for n, count in enumerate(tables.counts(), 1):
        out.write(f"ngram {n}={count}\n")
    words = np.array(tables.tokens, dtype=object)
    V = tables.vocab_size
    word_ids = np.arange(V, dtype=np.int64)[:, None]  # the words of each entry of the current order
    for n in range(1, tables.order + 1):
        if n > 1:
            keys = tables.keys[n - 2]
            word_ids = np.column_stack([word_ids[keys // V], keys % V])
        prob = np.maximum(np.nan_to_num(tables.log10_prob[n - 1], neginf=NEVER), NEVER)
        backoff = tables.log10_backoff[n - 1] if n < tables.order else None
        out.write(f"\n\\{n}-grams:\n")
        for lo in range(0, len(prob), _CHUNK):
            hi = lo + _CHUNK
            grams = [" ".join(row) for row in words[word_ids[lo:hi]].tolist()]
            if backoff is None:
                out.writelines(f"{p:.7g}\t{g}\n" for p, g in zip(prob[lo:hi].tolist(), grams))
            else:
                out.writelines(f"{p:.7g}\t{g}\t{b:.7g}\n" for p, g, b in zip(prob[lo:hi].tolist(), grams, backoff[lo:hi].tolist()))
    out.write("\n\\end\\\n")
    out.flush()
    out.detach()


# ---- reading -----------------------------------------------------------------------------------
def read_arpa(path: PathLike) -> BackoffTables:
    """Read an ARPA file (``.gz`` too). Malformed or truncated files raise ModelFileError."""
    lines = _Lines(iter_lines(path, errors="strict"))
    declared = _read_header(path, lines)
    sections: list[tuple[list[float], list[list[str]], list[float]]] = []
    for n in range(1, len(declared) + 1):
        sections.append(_read_section(path, lines, n, declared[n - 1]))
    for lineno, line in lines:
        if line.strip() == "\\end\\":
            break
        if line.strip():
            raise ModelFileError(f"{path}: line {lineno}: expected \\end\\ after the {len(declared)}-grams, found {line[:60]!r}")
    else:
        raise ModelFileError(f"{path}: truncated ARPA file (no \\end\\ line)")
    return _to_tables(path, sections)


class _Lines:
    """Numbered lines with a one-line push-back (a section may end without a blank line)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = enumerate(lines, 1)
        self._pending: tuple[int, str] | None = None

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> tuple[int, str]:
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        return next(self._lines)

    def push_back(self, item: tuple[int, str]) -> None:
        self._pending = item


def _read_header(path: PathLike, lines: "_Lines") -> list[int]:
    for lineno, line in lines:
        if line.strip() == "\\data\\":
            break
    else:
        raise ModelFileError(f"{path}: not an ARPA language model (no \\data\\ header)")
    declared: dict[int, int] = {}
    for lineno, line in lines:
        text = line.strip()
        if not text:
            if declared:
                break
            continue
        match = _COUNT_LINE.match(text)
        if not match:
            raise ModelFileError(f"{path}: line {lineno}: expected 'ngram N=COUNT' in the \\data\\ header, found {text[:60]!r}")
        declared[int(match.group(1))] = int(match.group(2))
    order = len(declared)
    if order == 0 or sorted(declared) != list(range(1, order + 1)):
        raise ModelFileError(f"{path}: the \\data\\ header must declare ngram 1=.. up to the model order")
    return [declared[n] for n in range(1, order + 1)]


def _read_section(path: PathLike, lines: "_Lines", n: int, declared: int):
    for lineno, line in lines:
        text = line.strip()
        if not text:
            continue
        match = _SECTION.match(text)
        if not match or int(match.group(1)) != n:
            raise ModelFileError(f"{path}: line {lineno}: expected \\{n}-grams:, found {text[:60]!r}")
        break
    else:
        raise ModelFileError(f"{path}: truncated ARPA file (the \\{n}-grams: section is missing)")
    probs: list[float] = []
    grams: list[list[str]] = []
    backoffs: list[float] = []
    for lineno, line in lines:
        parts = line.split()
        if not parts:
            break
        if parts[0].startswith("\\"):  # the next section or \end\ without a blank line first
            lines.push_back((lineno, line))
            break
        if len(parts) not in (n + 1, n + 2):
            raise ModelFileError(
                f"{path}: line {lineno}: expected 'log10prob' and {n} words [and a back-off], found {line[:60]!r} "
                "(truncated or malformed ARPA file)"
            )
        try:
            probs.append(float(parts[0]))
            backoffs.append(float(parts[n + 1]) if len(parts) == n + 2 else 0.0)
        except ValueError:
            raise ModelFileError(f"{path}: line {lineno}: not a number in {line[:60]!r}") from None
        grams.append(parts[1 : n + 1])
        if len(probs) > declared:
            break
    if len(probs) != declared:
        raise ModelFileError(f"{path}: truncated or inconsistent ARPA file: the header declares {declared} {n}-grams, the section has {len(probs)}")
    return probs, grams, backoffs


def _to_tables(path: PathLike, sections) -> BackoffTables:
    probs1, grams1, backoffs1 = sections[0]
    file_words = [g[0] for g in grams1]
    for special in (BOS, EOS):
        if special not in file_words:
            raise ModelFileError(f"{path}: the ARPA file has no {special} unigram; it is not a sentence-level language model")
    if len(set(file_words)) != len(file_words):
        raise ModelFileError(f"{path}: a unigram is listed twice")
    if UNK not in file_words:
        logger.warning("%s has no <unk>; unknown words get log10 probability %s (as in KenLM)", path, MISSING_UNK)
    tokens = list(SPECIALS) + [w for w in file_words if w not in SPECIALS]
    stoi = {w: i for i, w in enumerate(tokens)}
    V = len(tokens)
    order = len(sections)
    prob = np.full(V, MISSING_UNK)
    backoff = np.zeros(V)
    ids = np.array([stoi[w] for w in file_words], dtype=np.int64)
    prob[ids] = probs1
    backoff[ids] = backoffs1
    prob[stoi[BOS]] = NEVER
    log10_prob, log10_backoff, keys = [prob], [backoff], []
    for n in range(2, order + 1):
        probs_n, grams_n, backoffs_n = sections[n - 1]
        try:
            word_ids = np.array([[stoi[w] for w in g] for g in grams_n], dtype=np.int64).reshape(-1, n)
        except KeyError as e:
            raise ModelFileError(f"{path}: the {n}-grams use the word {e.args[0]!r}, which has no unigram") from None
        prefix = word_ids[:, 0]
        for j in range(1, n - 1):  # walk the context w1 .. w(n-1) down the lower-order tables
            prefix = _find(keys[j - 1], prefix * V + word_ids[:, j], path, n)
        key = prefix * V + word_ids[:, n - 1]
        order_by = np.argsort(key, kind="stable")
        key = key[order_by]
        if len(key) > 1 and np.any(key[1:] == key[:-1]):
            raise ModelFileError(f"{path}: an {n}-gram is listed twice")
        keys.append(key)
        log10_prob.append(np.asarray(probs_n, dtype=np.float64)[order_by])
        if n < order:
            log10_backoff.append(np.asarray(backoffs_n, dtype=np.float64)[order_by])
    if order == 1:
        log10_backoff = []
    return BackoffTables(tokens, keys, log10_prob, log10_backoff)


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
