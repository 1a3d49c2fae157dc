"""Strings to dense integer ids in compiled code: the hash table behind n-gram counting and scoring.

Looking words up in a Python ``dict`` costs one interpreter round trip per token (about 70 ns
here), which was most of the time of building a small n-gram model. A :class:`StringTable` instead gets a
whole chunk of tokens as one UTF-8 buffer and hashes it in a numba kernel: tokens joined by a
separator byte that occurs in none of them, or whole text lines split on whitespace exactly as
``str.split()`` splits them (every code point for which ``str.isspace()`` is true, in UTF-8).

Ids are given in order of first appearance, so a table filled with a vocabulary's tokens maps each
token to its vocabulary id.

>>> table = StringTable(["<unk>", "the", "cat"])
>>> table.lookup_tokens([["the", "dog"]])          # -1: not in the table
array([ 1, -1], dtype=int32)
>>> ids, lengths = table.add_lines(["a b", "", "b  c"])   # whitespace split, ids for new words
>>> table.words()[-3:]
['a', 'b', 'c']
"""

from __future__ import annotations

from itertools import chain
from typing import Sequence

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

_NO_SEPARATOR = -1

# Tokens are read eight bytes at a time as little-endian 64-bit words (SWAR): one load finds the
# separator or the first byte that may end a token, and each full word is folded into the hash
# with a multiply; the last, partial word is mixed with the length by MurmurHash3's finaliser.
# A word's "head" is its first (up to) eight bytes as such an integer.
_K = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_BELOW_33 = np.uint64(0x2121212121212121)  # for flagging bytes below 0x21 (all ASCII whitespace)

# Byte classes for splitting lines: 0 inside a token, 1 ASCII whitespace (str.isspace(): 9-13 and
# 28-32), 2 the lead byte of a multi-byte character that may be whitespace, 3 the line separator.
_BYTE_CLASS = np.zeros(256, dtype=np.uint8)
_BYTE_CLASS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = 1
_BYTE_CLASS[[0xC2, 0xE1, 0xE2, 0xE3]] = 2


@njit(nogil=True, cache=True)
def _load8(words, buf, i, n):
    """``buf[i:i + 8]`` as a little-endian uint64, zero past ``n``; ``words`` is ``buf`` viewed as
    uint64 (its whole words)."""
    q = i >> 3
    if q + 1 < len(words):  # two aligned loads (the second shifted by 64 - r in two steps: r may be 0)
        r = np.uint64((i & 7) << 3)
        return (words[q] >> r) | ((words[q + 1] << (np.uint64(63) - r)) << np.uint64(1))
    return _load_tail(buf, i, n)


@njit(nogil=True, cache=True)
def _load_tail(buf, i, n):
    v = np.uint64(0)
    for k in range(min(8, n - i)):
        v |= np.uint64(buf[i + k]) << np.uint64(8 * k)
    return v


@njit(nogil=True, cache=True)
def _hash_span(words, buf, start, end, n):
    """(hash, head) of ``buf[start:end]``."""
    h = np.uint64(0)
    head = np.uint64(0)
    i = start
    while end - i >= 8:
        v = _load8(words, buf, i, n)
        if i == start:
            head = v
        h = (h ^ v) * _K
        i += 8
    last = np.uint64(0)
    if i < end:
        last = _load8(words, buf, i, n) & ((np.uint64(1) << np.uint64(8 * (end - i))) - np.uint64(1))
    if end - start < 8:
        head = last
    return _finish(h, last, end - start), head


@njit(nogil=True, cache=True)
def _next_separator(words, buf, i, n, sep):
    """Position of the first ``sep`` byte at or after ``i`` (``n`` if none)."""
    if sep < 0:
        return n
    pattern = _ONES * np.uint64(sep)
    while i < n:
        x = _load8(words, buf, i, n) ^ pattern
        found = (x - _ONES) & ~x & _HIGHS  # the lowest flagged byte is the first equal to sep
        if found:
            return min(i + (np.int64(trailing_zeros(found)) >> 3), n)
        i += 8
    return n


@njit(nogil=True, cache=True)
def _finish(h, word, length):
    h = (h ^ word) * _K ^ np.uint64(length)
    h = (h ^ (h >> _S33)) * _M1
    h = (h ^ (h >> _S33)) * _M2
    return h ^ (h >> _S33)


@njit(nogil=True, cache=True)
def _space_width(buf, i, n):
    """Byte length of the whitespace character at ``buf[i]`` (UTF-8), or 0 if it is not one.

    The characters are those of ``str.isspace()``: ASCII 9-13 and 28-32, U+0085, U+00A0, U+1680,
    U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
    """
    b = buf[i]
    if b < 0x80:
        return 1 if _BYTE_CLASS[b] == 1 else 0
    if b == 0xC2:
        return 2 if i + 1 < n and (buf[i + 1] == 0x85 or buf[i + 1] == 0xA0) else 0
    if i + 2 >= n or (b != 0xE1 and b != 0xE2 and b != 0xE3):
        return 0
    b1, b2 = buf[i + 1], buf[i + 2]
    if b == 0xE1:
        return 3 if b1 == 0x9A and b2 == 0x80 else 0
    if b == 0xE3:
        return 3 if b1 == 0x80 and b2 == 0x80 else 0
    if b1 == 0x80:  # 0xE2 0x80: U+2000..U+200A, U+2028, U+2029, U+202F
        return 3 if (0x80 <= b2 <= 0x8A) or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF else 0
    return 3 if b1 == 0x81 and b2 == 0x9F else 0  # U+205F


@njit(nogil=True, cache=True)
def _rehash(slots, records, n_words):
    """Put the ids of ``n_words`` words (by their hashes) into the empty table ``slots``."""
    mask = np.uint64(len(slots) - 1)
    for word in range(n_words):
        slot = records[word, 0] & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = word


@njit(nogil=True, cache=True, inline="always")
def _has_room(slots, records, store, counters, length):
    """Whether one more word of ``length`` bytes fits (load factor of ``slots`` at most 1/2)."""
    n_words = counters[0]
    return n_words < len(records) and counters[1] + length <= len(store) and 2 * (n_words + 1) <= len(slots)


@njit(nogil=True, cache=True)
def _find(buf, start, end, h, head, slots, records, store):
    """(slot, id) of ``buf[start:end]``, whose hash is ``h`` and first (up to) eight bytes
    ``head``: id -1 and the free slot if absent. A word's record holds its hash, head, length and
    offset in ``store``, so a word of eight bytes or less is matched without reading ``store``."""
    mask = np.uint64(len(slots) - 1)
    slot = h & mask
    length = end - start
    while True:
        word = slots[slot]
        if word < 0:
            return slot, word
        if records[word, 0] == h and records[word, 1] == head and records[word, 2] == length:
            if length <= 8:
                return slot, word
            base = np.int64(records[word, 3])
            same = True
            for k in range(8, length):
                if store[base + k] != buf[start + k]:
                    same = False
                    break
            if same:
                return slot, word
        slot = (slot + np.uint64(1)) & mask


@njit(nogil=True, cache=True, inline="always")
def _insert(buf, start, end, h, head, slot, slots, records, store, counters):
    """Add ``buf[start:end]`` as a new word at the free ``slot`` (the caller made room); its id."""
    word, used = counters[0], counters[1]
    length = end - start
    slots[slot] = word
    records[word, 0] = h
    records[word, 1] = head
    records[word, 2] = length
    records[word, 3] = used
    for k in range(length):
        store[used + k] = buf[start + k]
    counters[0] = word + 1
    counters[1] = used + length
    return word


@njit(nogil=True, cache=True)
def _scan_separated(buf, words, sep, at, ids, token, insert, slots, records, store, counters):
    """Ids (into ``ids[token:]``) of the tokens of ``buf[at:]``, joined by the byte ``sep`` (which
    none of them contains; -1: ``buf`` is one token). Returns where it stopped, (byte, token):
    before the end of ``buf`` when an insertion needs bigger arrays (the caller grows them and
    calls again from there)."""
    n = len(buf)
    start = at
    while start <= n:
        end = _next_separator(words, buf, start, n, sep)
        h, head = _hash_span(words, buf, start, end, n)
        slot, found = _find(buf, start, end, h, head, slots, records, store)
        if found < 0 and insert:
            if not _has_room(slots, records, store, counters, end - start):
                return start, token
            found = _insert(buf, start, end, h, head, slot, slots, records, store, counters)
        ids[token] = found
        token += 1
        start = end + 1
    return n + 1, token


@njit(nogil=True, cache=True)
def _ends_token(buf, i, n, byte_class):
    """Whether ``buf[i]`` ends a token: the separator or the start of a whitespace character."""
    c = byte_class[buf[i]]
    return c != 0 and (c != 2 or _space_width(buf, i, n) > 0)


@njit(nogil=True, cache=True)
def _scan_lines(buf, words, sep, at, ids, token, lengths, line, insert, slots, records, store, counters):
    """Ids of the whitespace-separated tokens of ``buf[at:]``, lines joined by the byte ``sep``,
    and the number of tokens of each line (into ``lengths``). Returns where it stopped, (byte,
    token, line), as :func:`_scan_separated`."""
    n = len(buf)
    byte_class = _BYTE_CLASS.copy()
    if sep >= 0:
        byte_class[sep] = 3
    i = at
    while i < n:
        c = byte_class[buf[i]]
        if c == 3:
            line += 1
            i += 1
            continue
        if c == 1:
            i += 1
            continue
        if c == 2:
            width = _space_width(buf, i, n)
            if width:
                i += width
                continue
        start = i
        i += 1
        while i < n:  # eight bytes at a time to the first that is < 0x21 or >= 0x80, then check it
            v = _load8(words, buf, i, n)
            candidates = ((v - _BELOW_33) & ~v & _HIGHS) | (v & _HIGHS)
            if candidates == 0:
                i += 8
                continue
            i += np.int64(trailing_zeros(candidates)) >> 3
            if i >= n or _ends_token(buf, i, n, byte_class):
                break
            i += 1
        end = min(i, n)
        h, head = _hash_span(words, buf, start, end, n)
        slot, found = _find(buf, start, end, h, head, slots, records, store)
        if found < 0 and insert:
            if not _has_room(slots, records, store, counters, end - start):
                return start, token, line
            found = _insert(buf, start, end, h, head, slot, slots, records, store, counters)
        ids[token] = found
        token += 1
        lengths[line] += 1
        i = end
    return n + 1, token, line


@njit(nogil=True, cache=True)
def _lookup_words(other_records, other_store, n_other, slots, records, store):
    """The id (or -1) in this table (``slots``, ``records``, ``store``) of each word of another:
    both hash the same way, so its stored hashes and bytes are looked up directly."""
    ids = np.empty(n_other, dtype=np.int32)
    for word in range(n_other):
        base = np.int64(other_records[word, 3])
        end = base + np.int64(other_records[word, 2])
        ids[word] = _find(other_store, base, end, other_records[word, 0], other_records[word, 1], slots, records, store)[1]
    return ids


@njit(nogil=True, cache=True)
def _count_byte(buf, byte):
    """How often ``byte`` occurs in ``buf`` (a twentieth of bytes.count's time on 640 kB here)."""
    total = 0
    for b in buf:
        total += b == byte
    return total


@njit(nogil=True, cache=True)
def _token_end(buf, at, sep, split_on_space):
    """Where the token starting at ``buf[at]`` ends."""
    n = len(buf)
    i = at
    while i < n and buf[i] != sep and not (split_on_space and _space_width(buf, i, n)):
        i += 1
    return i


@njit(nogil=True, cache=True)
def _joined_words(store, records, n_words, sep):
    """The words' bytes joined by ``sep``."""
    total = 0
    for word in range(n_words):
        total += records[word, 2]
    out = np.empty(total + max(n_words - 1, 0), dtype=np.uint8)
    at = 0
    for word in range(n_words):
        if word:
            out[at] = sep
            at += 1
        length, base = np.int64(records[word, 2]), np.int64(records[word, 3])
        out[at : at + length] = store[base : base + length]
        at += length
    return out


def _resized(array: np.ndarray, size: int, keep: int) -> np.ndarray:
    """A new array of ``size`` elements starting with the first ``keep`` of ``array``."""
    bigger = np.empty((size,) + array.shape[1:], dtype=array.dtype)
    bigger[:keep] = array[:keep]
    return bigger


def _with_words(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``buf`` and its whole 8-byte words as uint64 (a copy first if it is not 8-byte aligned)."""
    if buf.ctypes.data % 8:
        aligned = np.empty((len(buf) + 7) // 8, dtype=np.uint64).view(np.uint8)[: len(buf)]
        aligned[:] = buf
        buf = aligned
    return buf, buf[: len(buf) - len(buf) % 8].view(np.uint64)


def _encoded_pieces(token_lists: Sequence[Sequence[str]], piece: int = 1024) -> list[bytes]:
    """Each line's tokens joined by NUL and encoded, long lines in pieces of ``piece`` tokens.

    Joining all tokens at once would first widen every ASCII token to the widest character of the
    whole text (one non-ASCII word makes the whole string 2 or 4 bytes a character), which costs
    more than the extra joins; pieces keep that to the few pieces holding such a word.
    """
    pieces = []
    for tokens in token_lists:
        if len(tokens) <= piece:
            if tokens:
                pieces.append(_utf8("\x00".join(tokens)))
        else:
            pieces.extend(_utf8("\x00".join(tokens[i : i + piece])) for i in range(0, len(tokens), piece))
    return pieces


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate (from a file read with errors="surrogateescape") is a
    # character like any other here, and decodes back to itself in words()
    return text.encode("utf-8", "surrogatepass")


def _separator(text: str) -> int:
    """An ASCII byte that does not occur in ``text`` (so it can join tokens), or -1."""
    for code in range(128):
        if chr(code) not in text:
            return code
    return _NO_SEPARATOR


class StringTable:
    """Distinct strings with dense ids 0, 1, 2, ... in order of first appearance.

    ``add_*`` methods give ids, inserting unseen strings; ``lookup_*`` methods give -1 for them.
    ``*_tokens`` take a chunk of token lists (one per line); ``*_lines`` take text lines and split
    them on whitespace as ``str.split()`` does. Chunks of some thousands of lines keep the
    temporary buffer small; the table itself holds each distinct string's bytes once.
    """

    def __init__(self, words: Sequence[str] = ()):
        self._slots = np.full(1 << 14, -1, dtype=np.int32)  # open addressing: a word id or -1
        self._records = np.empty((1 << 12, 4), dtype=np.uint64)  # per word: hash, head, length, offset
        self._store = np.empty(1 << 15, dtype=np.uint8)  # the words' UTF-8 bytes
        self._counters = np.zeros(2, dtype=np.int64)  # number of words, bytes used in store
        self._words: list[str] = []
        if len(words):
            self._tokens([words], insert=True, distinct=True)
            if len(self) != len(words):
                raise ValueError("StringTable(words): the words are not distinct")

    def _arrays(self) -> tuple:
        return self._slots, self._records, self._store, self._counters

    def _grow(self, length: int) -> None:
        """Make room for one more word of ``length`` bytes."""
        self._reserve(1, length)

    def _reserve(self, words: int, size: int) -> None:
        """Make room for ``words`` more words of ``size`` bytes in all: arrays at least doubled."""
        n_words, used = (int(c) for c in self._counters)
        if n_words + words > len(self._records):
            self._records = _resized(self._records, max(2 * len(self._records), n_words + words), n_words)
        if used + size > len(self._store):
            self._store = _resized(self._store, max(2 * len(self._store), used + size), used)
        slots = len(self._slots)
        while 2 * (n_words + words) > slots:
            slots *= 2
        if slots > len(self._slots):
            self._slots = np.full(slots, -1, dtype=np.int32)
            _rehash(self._slots, self._records, n_words)

    def __len__(self) -> int:
        return int(self._counters[0])

    def words(self) -> list[str]:
        """The strings, by id."""
        if len(self._words) != len(self):
            store, records = self._store, self._records.astype(np.int64)
            text = _joined_words(store, records, len(self), 0).tobytes().decode("utf-8", "surrogatepass")
            words = text.split("\x00") if len(self) else []
            if len(words) != len(self):  # some word holds a NUL: one at a time
                words = [store[base : base + length].tobytes().decode("utf-8", "surrogatepass") for _, _, length, base in records[: len(self)].tolist()]
            self._words = words
        return self._words

    def lookup_table(self, other: "StringTable") -> np.ndarray:
        """int32 ids in this table of each string of ``other`` (by its id); -1 for those not here."""
        return _lookup_words(other._records, other._store, len(other), self._slots, self._records, self._store)

    def add_tokens(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """int32 ids of all tokens of ``token_lists``, in order; unseen tokens get new ids."""
        return self._tokens(token_lists, insert=True)

    def lookup_tokens(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """int32 ids of all tokens of ``token_lists``, in order; -1 for tokens not in the table."""
        return self._tokens(token_lists, insert=False)

    def add_lines(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the whitespace-separated tokens of ``lines`` (unseen ones inserted), and the
        number of tokens on each line (int64, 0 for a blank line)."""
        return self._lines(lines, insert=True)

    def lookup_lines(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`add_lines`, with -1 for tokens not in the table."""
        return self._lines(lines, insert=False)

    def _tokens(self, token_lists: Sequence[Sequence[str]], insert: bool, distinct: bool = False) -> np.ndarray:
        n_tokens = sum(map(len, token_lists))
        if n_tokens == 0:
            return np.zeros(0, dtype=np.int32)
        # joined and encoded a line at a time: one join of all tokens would widen every ASCII
        # token to the widest character of the chunk first, which is slower
        buf = np.frombuffer(b"\x00".join(_encoded_pieces(token_lists)), dtype=np.uint8)
        if n_tokens == 1:  # nothing to separate: the token may hold any character
            sep = _NO_SEPARATOR
        elif _count_byte(buf, 0) == n_tokens - 1:
            sep = 0
        else:  # some token holds a NUL: join with another byte
            sep = _separator("".join(chain.from_iterable(token_lists)))
            if sep == _NO_SEPARATOR:  # every ASCII character occurs in the tokens: one at a time
                return np.concatenate([self._tokens([[token]], insert) for token in chain.from_iterable(token_lists)])
            buf = np.frombuffer(_utf8(chr(sep).join(chain.from_iterable(token_lists))), dtype=np.uint8)
        buf, words = _with_words(buf)
        ids = np.empty(n_tokens, dtype=np.int32)
        if insert:  # room for a new word per four tokens (as in a first chunk of text), or for all
            self._reserve(n_tokens, len(buf)) if distinct else self._reserve(n_tokens // 4, len(buf) // 4)
        at, token = 0, 0
        while True:
            at, token = _scan_separated(buf, words, sep, at, ids, token, insert, *self._arrays())
            if at > len(buf):
                return ids
            self._grow(_token_end(buf, at, sep, False) - at)

    def _lines(self, lines: Sequence[str], insert: bool) -> tuple[np.ndarray, np.ndarray]:
        if not len(lines):
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        buf = np.frombuffer(b"\x00".join([_utf8(line) for line in lines]), dtype=np.uint8)
        sep = 0
        if _count_byte(buf, 0) != len(lines) - 1:  # some line holds a NUL: join with another byte
            sep = _line_separator("".join(lines))
            if sep == _NO_SEPARATOR:
                token_lists = [line.split() for line in lines]
                return self._tokens(token_lists, insert), np.array([len(tokens) for tokens in token_lists], dtype=np.int64)
            buf = np.frombuffer(_utf8(chr(sep).join(lines)), dtype=np.uint8)
        buf, words = _with_words(buf)
        ids = np.empty(len(buf) // 2 + 1, dtype=np.int32)  # a token is a byte and a boundary at least
        lengths = np.zeros(len(lines), dtype=np.int64)
        if insert:
            self._reserve(len(buf) // 24, len(buf) // 4)
        at, token, line = 0, 0, 0
        while True:
            at, token, line = _scan_lines(buf, words, sep, at, ids, token, lengths, line, insert, *self._arrays())
            if at > len(buf):
                return ids[:token].copy(), lengths
            self._grow(_token_end(buf, at, sep, True) - at)


def _line_separator(text: str) -> int:
    """A byte to join lines with: absent from ``text`` and not whitespace (which would split)."""
    for code in range(128):
        if not chr(code).isspace() and chr(code) not in text:
            return code
    return _NO_SEPARATOR

