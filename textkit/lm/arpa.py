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

import gc
import gzip
import io
import logging
import lzma
import re
import zlib
from dataclasses import dataclass

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, atomic_write, open_binary
from textkit.lm.counting import BOS, EOS, SPECIALS, UNK

logger = logging.getLogger(__name__)

NEVER = -99.0  # ARPA's log10 "probability zero" (used for <s>)
MISSING_UNK = -100.0  # what KenLM gives <unk> when a file has none
_CHUNK = 1 << 20
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
                _write_text(io.TextIOWrapper(z, encoding="utf-8", newline="\n"), tables)
        else:
            _write_text(io.TextIOWrapper(raw, encoding="utf-8", newline="\n"), tables)


def _write_text(out: io.TextIOWrapper, tables: BackoffTables) -> None:
    out.write("\\data\\\n")
    for n, count in enumerate(tables.counts(), 1):
        out.write(f"ngram {n}={count}\n")
    words = np.array(tables.tokens, dtype=object)
    V = tables.vocab_size
    word_ids = np.arange(V, dtype=np.int32)[:, None]  # the words of each entry of the current order
    for n in range(1, tables.order + 1):
        if n > 1:
            keys = tables.keys[n - 2]
            word_ids = np.column_stack([word_ids[keys // V], (keys % V).astype(np.int32)])
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
    # Millions of short-lived strings: the cyclic GC would rescan them over and over for nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_arpa(path)
    finally:
        if was_enabled:
            gc.enable()


def _read_arpa(path: PathLike) -> BackoffTables:
    text = _read_text(path)
    # Every marker line: \data\, \N-grams:, \end\ (anything before \data\ is ignored, as SRILM does).
    markers = _markers(text)
    start = next((i for i, (_, _, name) in enumerate(markers) if name == "\\data\\"), None)
    if start is None:
        raise ModelFileError(f"{path}: not an ARPA language model (no \\data\\ header)")
    markers = markers[start:] + [(len(text), len(text), None)]
    declared = _read_header(path, text[markers[0][1] : markers[1][0]])
    sections = []
    for n in range(1, len(declared) + 1):
        begin, end, name = markers[n]
        if name != f"\\{n}-grams:":
            where = f"found {name}" if name else "the file ends"
            raise ModelFileError(f"{path}: truncated or malformed ARPA file: expected the \\{n}-grams: section, {where}")
        first_lineno = text.count("\n", 0, end) + 2
        sections.append(_read_section(path, text[end : markers[n + 1][0]], n, declared[n - 1], first_lineno))
    if markers[len(declared) + 1][2] != "\\end\\":
        raise ModelFileError(f"{path}: truncated ARPA file (no \\end\\ line after the {len(declared)}-grams)")
    return _to_tables(path, sections)


def _markers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every line that starts with a backslash: a handful in any file, so
    they are found with str.find rather than a regex run over every line."""
    found = []
    at = 0 if text.startswith("\\") else text.find("\n\\")
    while at != -1:
        begin = at if text[at] == "\\" else at + 1
        end = text.find("\n", begin)
        end = len(text) if end == -1 else end
        found.append((begin, end, text[begin:end].strip()))
        at = text.find("\n\\", end)
    return found


def _read_text(path: PathLike) -> str:
    """The whole (decompressed) file as text. An ARPA file is parsed in bulk: see _parse_rows."""
    try:
        with open_binary(path) as f:
            data = f.read()
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise ModelFileError(f"{path}: read failed: truncated or corrupt file ({e})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: not a UTF-8 text file (byte {e.start}); not an ARPA language model") from None


def _read_header(path: PathLike, header: str) -> list[int]:
    declared: dict[int, int] = {}
    for line in header.splitlines():
        text = line.strip()
        if not text:
            continue
        match = _COUNT_LINE.match(text)
        if not match:
            raise ModelFileError(f"{path}: expected 'ngram N=COUNT' in the \\data\\ header, found {text[:60]!r}")
        declared[int(match.group(1))] = int(match.group(2))
    order = len(declared)
    if order == 0 or sorted(declared) != list(range(1, order + 1)):
        raise ModelFileError(f"{path}: the \\data\\ header must declare ngram 1=.. up to the model order")
    return [declared[n] for n in range(1, order + 1)]


def _read_section(path: PathLike, body: str, n: int, declared: int, first_lineno: int):
    rows = [line for line in body.split("\n") if line and not line.isspace()]
    if len(rows) != declared:
        raise ModelFileError(f"{path}: truncated or inconsistent ARPA file: the header declares {declared} {n}-grams, the section has {len(rows)}")
    return _parse_rows(path, rows, n, first_lineno)


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
    return probs, table[:, 1 : n + 1], backoffs


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _to_tables(path: PathLike, sections) -> BackoffTables:
    probs1, words1, backoffs1 = sections[0]
    file_words = words1[:, 0].tolist()
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
        probs_n, words_n, backoffs_n = sections[n - 1]
        flat = words_n.ravel().tolist()
        try:
            word_ids = np.fromiter(map(stoi.__getitem__, flat), dtype=np.int64, count=len(flat)).reshape(-1, n)
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
