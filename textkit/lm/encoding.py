"""Text to n-gram model ids in compiled code: whitespace splitting and word lookup, a block of lines at a time.

Scoring a large text word by word in Python (``str.split``, a dict lookup per word, a list per line)
costs more than the n-gram lookups themselves. Here a block of lines is joined into one UTF-8 buffer
and a kernel splits it exactly as ``str.split()`` splits each line (ASCII and Unicode whitespace),
looks every word up in an open-addressing hash table of the vocabulary's UTF-8 bytes, and writes the
wrapped id sequence ``<s> w1 .. wk </s>`` of each non-empty line: what
:meth:`textkit.lm.counting.WordIndex.encode` then :func:`~textkit.lm.counting.wrap_lines` give.

>>> table = WordTable.from_vocab(vocab)
>>> seq, n_lines, n_words, n_unknown = table.encode(["the cat", "a dog"])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np

from textkit.lm.arpa import BOS, EOS, UNK
from textkit.lm.compiled import NGRAM

_BLOCK_CHARS = 1 << 22  # text per block (the ids of a block take up to 6 bytes per character)


@NGRAM.kernel(inline="always")
def _hash(data, start, end):
    """64-bit FNV-1a of ``data[start:end]``."""
    h = np.uint64(14695981039346656037)
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    return h


@NGRAM.kernel("i8[:, ::1](u1[::1], i8[::1], b1[::1])")
def _build_slots(token_bytes, token_starts, skip):
    """The hash table: a power-of-two number of slots (at least twice the words). A slot holds
    ``length << 32 | word id`` (-1: empty) and where the word's bytes start, side by side, so a
    lookup reads one slot and the word's bytes."""
    n = len(token_starts) - 1
    size = 16
    while size < 2 * n:
        size *= 2
    slots = np.full((size, 2), -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for w in range(n):
        if skip[w]:
            continue
        start, end = token_starts[w], token_starts[w + 1]
        at = _hash(token_bytes, start, end) & mask
        while slots[at, 0] >= 0:
            at = (at + np.uint64(1)) & mask
        slots[at, 0] = ((end - start) << 32) | w
        slots[at, 1] = start
    return slots


@NGRAM.kernel(inline="always")
def _space_at(buf, i):
    """How many bytes of whitespace (as ``str.isspace`` says) start at ``buf[i]``: 0 if none."""
    c = buf[i]
    if c < 128:
        return 1 if (9 <= c <= 13 or 28 <= c <= 32) else 0
    n = len(buf)
    if c == 0xC2:
        return 2 if i + 1 < n and (buf[i + 1] == 0x85 or buf[i + 1] == 0xA0) else 0
    if c == 0xE1:
        return 3 if i + 2 < n and buf[i + 1] == 0x9A and buf[i + 2] == 0x80 else 0
    if c == 0xE2:
        if i + 2 >= n:
            return 0
        b, d = buf[i + 1], buf[i + 2]
        if b == 0x80 and (0x80 <= d <= 0x8A or d == 0xA8 or d == 0xA9 or d == 0xAF):
            return 3
        return 3 if b == 0x81 and d == 0x9F else 0
    if c == 0xE3:
        return 3 if i + 2 < n and buf[i + 1] == 0x80 and buf[i + 2] == 0x80 else 0
    return 0


@NGRAM.kernel(inline="always")
def _probe(slots, mask, words, buf, start, length, h):
    """Look ``buf[start:start + length]`` (hash ``h``) up in ``slots``, whose words' bytes are in
    ``words``. Returns (the slot it is in, or the empty slot where it would go; its id, or -1)."""
    slot = h & mask
    while True:
        entry = slots[slot, 0]
        if entry < 0:
            return slot, -1
        if (entry >> 32) == length:
            ws = slots[slot, 1]
            same = True
            for k in range(length):
                if words[ws + k] != buf[start + k]:
                    same = False
                    break
            if same:
                return slot, entry & 0xFFFFFFFF
        slot = (slot + np.uint64(1)) & mask


@NGRAM.kernel("Tuple((i8, i8, i8, i8))(u1[::1], i8[:, ::1], u1[::1], i8, i8, i8, i4[::1])")
def _encode(buf, slots, token_bytes, unk, bos, eos, seq):
    """Split ``buf`` (lines separated by ``\\n``) and write the wrapped ids of its non-empty lines
    into ``seq``. Returns (ids written, non-empty lines, words, unknown words)."""
    mask = np.uint64(len(slots) - 1)
    n = len(buf)
    at = n_lines = n_words = n_unknown = 0
    line_words = 0
    i = 0
    while i <= n:
        if i == n or buf[i] == 10:  # end of a line
            if line_words > 0:
                seq[at] = eos
                at += 1
                n_lines += 1
            line_words = 0
            i += 1
            continue
        c = buf[i]
        if c < 128:  # ASCII, tested here; _space_at for the rest
            if 9 <= c <= 13 or 28 <= c <= 32:
                i += 1
                continue
        else:
            space = _space_at(buf, i)
            if space:
                i += space
                continue
        start = i  # a word: up to the next whitespace (the line break among it), hashed as _hash does
        h = np.uint64(14695981039346656037)
        while i < n:
            c = buf[i]
            if c < 128:
                if 9 <= c <= 13 or 28 <= c <= 32:
                    break
            elif _space_at(buf, i):
                break
            h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
            i += 1
        if line_words == 0:
            seq[at] = bos
            at += 1
        line_words += 1
        n_words += 1
        word = _probe(slots, mask, token_bytes, buf, start, i - start, h)[1]
        if word < 0:
            word = unk
            n_unknown += 1
        seq[at] = word
        at += 1
    return at, n_lines, n_words, n_unknown


def _token_bytes(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens' UTF-8 bytes in one array, and where each starts (one entry more: the end)."""
    joined = "\n".join(tokens)
    if joined.count("\n") == len(tokens) - 1:  # no token holds a line break: encode them in one go
        data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        is_break = data == 10
        bounds = np.concatenate([[-1], np.flatnonzero(is_break), [len(data)]])
        starts = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(np.diff(bounds) - 1, out=starts[1:])
        return data[~is_break], starts
    encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=starts[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), starts


class WordTable:
    """The words of a model vocabulary (``tokens``, ids in list order) as a compiled hash table.

    Literal ``<s>`` and ``</s>`` are not in it (they are the model's markers and score as
    ``<unk>``, as in KenLM); a literal ``<unk>`` is the vocabulary's own ``<unk>``.
    """

    def __init__(self, tokens: list[str], unk: int, bos: int, eos: int):
        self.token_bytes, self.token_starts = _token_bytes(tokens)
        skip = np.zeros(len(tokens), dtype=np.bool_)
        skip[[bos, eos]] = True
        self.slots = _build_slots(self.token_bytes, self.token_starts, skip)
        self.unk, self.bos, self.eos = unk, bos, eos

    @classmethod
    def from_vocab(cls, vocab) -> WordTable:
        from textkit.lm.counting import special_id

        return cls(vocab.tokens, special_id(vocab, UNK), special_id(vocab, BOS), special_id(vocab, EOS))

    @classmethod
    def from_bytes(cls, token_bytes: np.ndarray, token_starts: np.ndarray, unk: int, bos: int, eos: int) -> WordTable:
        """The table of words given as their UTF-8 bytes and where each starts (one entry more: the
        end; checked by the caller), as a native model file stores them."""
        table = cls.__new__(cls)
        table.token_bytes = np.ascontiguousarray(token_bytes, dtype=np.uint8)
        table.token_starts = np.ascontiguousarray(token_starts, dtype=np.int64)
        skip = np.zeros(len(token_starts) - 1, dtype=np.bool_)
        skip[[bos, eos]] = True
        table.slots = _build_slots(table.token_bytes, table.token_starts, skip)
        table.unk, table.bos, table.eos = unk, bos, eos
        return table

    def encode_bytes(self, buf: np.ndarray) -> tuple[np.ndarray, int, int, int]:
        """:meth:`encode` of text given as UTF-8 bytes (uint8, lines separated by ``\\n``)."""
        seq = np.empty(3 * (len(buf) + 1) // 2 + 2, dtype=np.int32)
        at, n_lines, n_words, n_unknown = _encode(buf, self.slots, self.token_bytes, self.unk, self.bos, self.eos, seq)
        return seq[:at], int(n_lines), int(n_words), int(n_unknown)

    def encode(self, lines: list[str]) -> tuple[np.ndarray, int, int, int]:
        """The wrapped id sequence of ``lines`` split as ``str.split()`` splits each; and the numbers
        of non-empty lines, words and unknown words."""
        buf = _joined(lines)
        seq = np.empty(3 * (len(buf) + 1) // 2 + 2, dtype=np.int32)
        at, n_lines, n_words, n_unknown = _encode(buf, self.slots, self.token_bytes, self.unk, self.bos, self.eos, seq)
        return seq[:at], int(n_lines), int(n_words), int(n_unknown)

    def encode_blocks(self, lines: Iterable[str]) -> Iterator[tuple[np.ndarray, int, int, int]]:
        """:meth:`encode` over ``lines`` a block (about 4M characters) at a time."""
        for block in _blocks(lines):
            yield self.encode(block)


# ---- words numbered as they first appear (training) ----------------------------------------------------
@NGRAM.kernel("Tuple((i8, i8, i8, i8, i8))(u1[::1], i8, i8[:, ::1], u1[::1], i8, i8, i4[::1], i8)")
def _intern(buf, i, slots, store, n_store, n_words, seq, at):
    """Split ``buf`` from byte ``i`` on (lines separated by ``\\n``, words as ``str.split()`` splits
    them) and write each non-empty line as ``0 (w + 2).. 1`` into ``seq`` from ``at``, where ``w``
    is the word's number in order of first appearance: a word not in the table gets the next number
    and its bytes (and a ``\\n``) go to ``store``. Where the table or the store is full it stops at
    the start of the line it was in (the words it added stay numbered) for the caller to grow them.
    Returns (where it stopped, ``len(buf) + 1`` when done; ids written up to; bytes in ``store``;
    words numbered; lines completed)."""
    mask = np.uint64(len(slots) - 1)
    n = len(buf)
    line_i, line_at = i, at
    line_words = n_lines = 0
    while i <= n:
        if i == n or buf[i] == 10:  # end of a line
            if line_words > 0:
                seq[at] = 1
                at += 1
                n_lines += 1
            line_words = 0
            i += 1
            line_i, line_at = i, at
            continue
        space = _space_at(buf, i)
        if space:
            i += space
            continue
        start = i  # a word: up to the next whitespace or line end, hashed as _hash does
        h = np.uint64(14695981039346656037)
        while i < n:
            c = buf[i]
            if c < 128:
                if 9 <= c <= 13 or 28 <= c <= 32:  # ASCII whitespace, the line break among them
                    break
            elif _space_at(buf, i):
                break
            h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
            i += 1
        length = i - start
        slot, word = _probe(slots, mask, store, buf, start, length, h)
        if word < 0:
            if 2 * (n_words + 1) > len(slots) or n_store + length + 1 > len(store):
                return line_i, line_at, n_store, n_words, n_lines
            word = n_words
            n_words += 1
            slots[slot, 0] = (length << 32) | word
            slots[slot, 1] = n_store
            for k in range(length):
                store[n_store + k] = buf[start + k]
            store[n_store + length] = 10
            n_store += length + 1
        if line_words == 0:
            seq[at] = 0
            at += 1
        line_words += 1
        seq[at] = word + 2
        at += 1
    return n + 1, at, n_store, n_words, n_lines


@NGRAM.kernel("i8[:, ::1](i8[:, ::1], u1[::1], i8)")
def _rehash(slots, store, size):
    """The words of ``slots`` in a table of ``size`` slots (a power of two)."""
    bigger = np.full((size, 2), -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for s in range(len(slots)):
        entry = slots[s, 0]
        if entry < 0:
            continue
        start = slots[s, 1]
        at = _hash(store, start, start + (entry >> 32)) & mask
        while bigger[at, 0] >= 0:
            at = (at + np.uint64(1)) & mask
        bigger[at, 0] = entry
        bigger[at, 1] = start
    return bigger


def _joined(lines: list[str]) -> np.ndarray:
    """The UTF-8 bytes of ``lines`` separated by ``\\n`` (a line break inside a line is only whitespace there)."""
    text = "\n".join(lines)
    if text.count("\n") != max(len(lines) - 1, 0):
        text = "\n".join(line.replace("\n", " ") for line in lines)
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


class NewWords:
    """Text lines to words numbered in order of first appearance, in compiled code: what
    :func:`textkit.lm.counting.collect_ids` gives, a block of lines at a time (the training pass).

    >>> words = NewWords()
    >>> seq, n_lines = words.encode(["a b", "", "b c"])   # [0, 2, 3, 1, 0, 3, 4, 1]: <s> 0, </s> 1, words + 2
    >>> words.words()
    ['a', 'b', 'c']
    """

    def __init__(self):
        self.slots = np.full((1 << 16, 2), -1, dtype=np.int64)
        self.store = np.empty(1 << 20, dtype=np.uint8)
        self.n_store = 0
        self.n_words = 0
        self._seq = np.empty(0, dtype=np.int32)  # reused from block to block

    def __len__(self) -> int:
        return self.n_words

    def encode(self, lines: list[str]) -> tuple[np.ndarray, int]:
        """The wrapped sequence of ``lines`` (``<s>`` as 0, ``</s>`` as 1, word number w as w + 2)
        and the number of non-empty lines."""
        buf = _joined(lines)
        need = 3 * (len(buf) + 1) // 2 + 2
        if len(self._seq) < need:
            self._seq = np.empty(need, dtype=np.int32)
        seq = self._seq
        i = at = n_lines = 0
        while True:
            i, at, self.n_store, self.n_words, done = _intern(
                buf, i, self.slots, self.store, self.n_store, self.n_words, seq, at
            )
            n_lines += done
            if i > len(buf):
                return seq[:at].copy(), n_lines
            if 2 * (self.n_words + 1) > len(self.slots):
                self.slots = _rehash(self.slots, self.store, 2 * len(self.slots))
            if self.n_store + (len(buf) - i) + 1 > len(self.store):
                bigger = np.empty(max(2 * len(self.store), self.n_store + len(buf) - i + 1), dtype=np.uint8)
                bigger[: self.n_store] = self.store[: self.n_store]
                self.store = bigger

    def encode_blocks(self, lines: Iterable[str]) -> Iterator[tuple[np.ndarray, int]]:
        """:meth:`encode` over ``lines`` a block (about 4M characters) at a time."""
        for block in _blocks(lines):
            yield self.encode(block)

    def words(self) -> list[str]:
        """The words in order of their numbers."""
        text = self.store[: self.n_store].tobytes().decode("utf-8", "surrogatepass")
        return text.split("\n")[:-1]


def _blocks(lines: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(lines)
    while True:
        block, size = [], 0
        for line in islice(iterator, 1 << 16):
            block.append(line)
            size += len(line)
            if size >= _BLOCK_CHARS:
                break
        if not block:
            return
        yield block
