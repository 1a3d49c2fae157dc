"""Counting n-grams with integer keys in compiled code: no Python object per token or n-gram.

Words become ids through a dictionary (looked up in C, a chunk of lines at a time), and a
corpus one flat int32 array of word ids, every line wrapped as ``<s> w1 ... wk </s>``. The
n-grams of order ``n`` are numbered by their rank in a sorted table of int64 keys::

    key(w1 .. wn) = index_of(w1 .. wn-1 in the order n-1 table) * V + wn

with the order-1 "table" being the word ids themselves. Keys stay below 2**63 even for WikiText-103
(10^8 distinct prefixes times 267k words is about 2.7e13). Counting one order is one radix sort of
the keys of all positions (with the positions) and one pass over the sorted keys; the n-gram ending
at each position is then known by its table index, which builds the keys of the next order.
Scoring looks keys up in the same sorted tables, in key order.

An n-gram "ends at" position ``p`` if its last word is ``seq[p]``; it exists only within one line,
and no n-gram ends at ``<s>`` (the start marker is context, never predicted).

>>> word_ids, lengths, n_unknown = WordIndex.from_vocab(vocab).encode([["a", "b"], ["b"]])
>>> seq = wrap_lines(word_ids, lengths, vocab.stoi["<s>"], vocab.stoi["</s>"])
>>> unigram, tables = count_ngrams(seq, order=3, vocab_size=len(vocab), bos_id=vocab.stoi["<s>"])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat

import numpy as np

from textkit.errors import EmptyCorpusError
from textkit.lm.arpa import BOS, EOS, SPECIALS, UNK
from textkit.lm.compiled import NGRAM
from textkit.vocab import Vocab


@dataclass
class NgramTable:
    """The distinct n-grams of one order n ≥ 2, sorted by key.

    ``keys``: int64 keys (see module docstring); ``counts``: how often each occurred (int32);
    ``suffix``: index of ``w2 .. wn`` in the order n-1 table (a word id when n = 2).
    """

    keys: np.ndarray
    counts: np.ndarray
    suffix: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


class _FirstAppearance(dict):
    """word -> id, a new word getting the next id when first looked up (in C for known words)."""

    def __missing__(self, word: str) -> int:
        self[word] = new_id = len(self)
        return new_id


def collect_ids(
    texts: Iterable, split_lines: bool = False, chunk_lines: int = 2048
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """One streaming pass: provisional word ids (int32, in order of first occurrence), the length of
    each non-empty line (int64), and the words (a dict word -> provisional id, in id order).

    ``texts``: token lists, or (``split_lines``) text lines split on whitespace by ``str.split()``.
    Empty lines are skipped; a corpus with no tokens at all raises EmptyCorpusError. Memory is the
    ids (4 bytes per token), each distinct word once, and one chunk of lines.
    """
    index = _FirstAppearance()
    ids, lengths = _id_chunks(texts, lambda tokens: map(index.__getitem__, tokens), split_lines, chunk_lines)
    if len(lengths) == 0:
        raise EmptyCorpusError("the training corpus has no tokens (is it empty?)")
    return ids, lengths, dict(index)


def _id_chunks(texts: Iterable, word_ids, split_lines: bool, chunk_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """The ids of all tokens of ``texts`` (token lists, or text lines to split), ``word_ids`` (an
    iterable of tokens -> an iterator of ids) applied a chunk of lines at a time; and the length
    of each non-empty line."""
    parts, lengths = [], []
    for chunk in _chunks(texts, chunk_lines):
        token_lists = list(map(str.split, chunk)) if split_lines else chunk
        chunk_lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        n_tokens = int(chunk_lengths.sum())
        parts.append(np.fromiter(word_ids(chain.from_iterable(token_lists)), dtype=np.int32, count=n_tokens))
        lengths.append(chunk_lengths[chunk_lengths > 0])
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    if len(parts) == 1:
        return parts[0], lengths[0]
    return np.concatenate(parts), np.concatenate(lengths)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ngram_vocab(words: dict[str, int], counts: np.ndarray, min_freq: int = 1) -> tuple[Vocab, np.ndarray]:
    """The model vocabulary and each word's id in it (``<unk>`` for rare words and for a literal
    ``<s>``/``</s>``), from ``words`` (word -> provisional id) and their ``counts``.

    The vocabulary is :meth:`Vocab.from_counter`'s: ``<unk> <s> </s>`` first, then words seen
    ``min_freq`` times or more, most frequent first, ties in order of first appearance.
    """
    vocab = Vocab.from_counter(dict(zip(words, counts.tolist())), min_freq=min_freq, specials=SPECIALS)
    return vocab, vocab_ids(words, vocab)


@dataclass
class WordIndex:
    """Text to model word ids: ``ids`` maps every word the model knows to its id. Literal ``<s>``
    and ``</s>`` are not in it (the markers belong to the model, as in KenLM); a literal ``<unk>``
    (as in WikiText) is the vocabulary's own ``<unk>``.
    """

    ids: dict[str, int]
    unk: int

    @classmethod
    def from_vocab(cls, vocab: Vocab) -> WordIndex:
        ids = dict(vocab.stoi)
        for marker in (BOS, EOS):
            ids.pop(marker, None)
        return cls(ids, special_id(vocab, UNK))

    def encode(
        self, texts: Iterable, split_lines: bool = False, chunk_lines: int = 2048
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Word ids of token lists (or, with ``split_lines``, of text lines split on whitespace as
        ``str.split()`` does), the length of each non-empty line, and the number of unknown words."""
        lookup = self.ids.get
        found, lengths = _id_chunks(texts, lambda tokens: map(lookup, tokens, repeat(-1)), split_lines, chunk_lines)
        unknown = found < 0
        found[unknown] = self.unk
        return found, lengths, int(np.count_nonzero(unknown))


def special_id(vocab: Vocab, token: str) -> int:
    """Id of ``<s>``, ``</s>`` or ``<unk>`` in a model vocabulary, which lists its specials first
    (so neither the token list nor the lookup dictionary has to exist yet)."""
    return vocab.specials.index(token) if token in vocab.specials else vocab.stoi[token]


def model_vocab(vocab: Vocab) -> Vocab:
    """A user's Vocab turned into an n-gram vocabulary: our three specials first, its words after.

    Its own specials (``<pad>``, ``<bos>``, ``<eos>``...) are dropped: they are not words of the text.
    """
    n = len(vocab.specials)  # a Vocab lists its specials first
    words, freqs = vocab.tokens[n:], vocab.freqs[n:]
    ours = [i - n for i in map(vocab.stoi.get, SPECIALS) if i is not None and i >= n]
    for i in sorted(ours, reverse=True):  # our markers listed as plain words: ours come first anyway
        del words[i], freqs[i]
    # a Vocab's tokens are distinct, and these start with our specials: no need to check again
    return Vocab._from_distinct(list(SPECIALS) + words, [0, 0, 0] + freqs, SPECIALS, UNK)


def vocab_ids(words: dict[str, int], vocab: Vocab) -> np.ndarray:
    """The id in ``vocab`` of each of ``words`` (word -> provisional id, in id order), ``<unk>``
    for the words it lacks and for literal ``<s>`` / ``</s>``."""
    index = WordIndex.from_vocab(vocab)
    return np.fromiter(map(index.ids.get, words, repeat(index.unk)), dtype=np.int32, count=len(words))


def wrap_lines(
    word_ids: np.ndarray, lengths: Sequence[int], bos_id: int, eos_id: int, id_map: np.ndarray | None = None
) -> np.ndarray:
    """Flat int32 array ``<s> w.. </s> <s> w.. </s> ...`` from concatenated word ids and line
    lengths; with ``id_map``, each word id ``i`` becomes ``id_map[i]`` (``id_map[-1]`` for -1)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() != len(word_ids):
        raise ValueError("line lengths do not add up to the number of words")
    return _wrap(word_ids, lengths, bos_id, eos_id, id_map if id_map is not None else _NO_MAP)


_NO_MAP = np.zeros(0, dtype=np.int32)


@NGRAM.kernel("i4[::1](i4[::1], i8[::1], i8, i8, i4[::1])")
def _wrap(word_ids, lengths, bos_id, eos_id, id_map):
    seq = np.empty(len(word_ids) + 2 * len(lengths), dtype=np.int32)
    mapped = len(id_map) > 0
    at, word = 0, 0
    for length in lengths:
        seq[at] = bos_id
        at += 1
        for _ in range(length):
            seq[at] = id_map[word_ids[word]] if mapped else word_ids[word]
            at += 1
            word += 1
        seq[at] = eos_id
        at += 1
    return seq


def count_ngrams(seq: np.ndarray, order: int, vocab_size: int, bos_id: int) -> tuple[np.ndarray, list[NgramTable]]:
    """Count all n-grams of orders 1..``order`` in a wrapped id sequence.

    Returns the unigram counts (dense, length V, ``<s>`` counted 0 because it is never predicted)
    and one :class:`NgramTable` per order 2..``order``.
    """
    if len(seq) == 0:
        raise EmptyCorpusError("the corpus has no tokens")
    unigram = np.bincount(seq, minlength=vocab_size).astype(np.int64)
    unigram[bos_id] = 0
    tables: list[NgramTable] = []
    index = seq  # index of the n-gram ending at each position; order 1: the word id
    for n in range(2, order + 1):
        n_prev = len(tables[-1]) if tables else vocab_size
        table, index = count_order(index, n_prev, seq, bos_id, vocab_size, with_index=n < order)
        tables.append(table)
    return unigram, tables


def count_order(
    prev_index: np.ndarray, n_prev: int, seq: np.ndarray, bos_id: int, vocab_size: int, with_index: bool = True
) -> tuple[NgramTable, np.ndarray | None]:
    """The table of order n from the index of the (n-1)-gram ending at each position (one of
    ``n_prev``), and (if ``with_index``) the index of the n-gram ending at each position (-1
    where none does).

    Keys are as narrow as they can be (uint32 when the largest fits) and sorted by a compiled
    radix sort with the positions they come from; one pass over the sorted keys then gives the
    distinct n-grams, their counts, their suffixes and the new index. Memory at the peak: two key
    and two position arrays (16-24 bytes per n-gram occurrence) besides the sequence and index.
    """
    keys, positions, key_bits = _extension_keys(prev_index, n_prev, seq, bos_id, vocab_size)
    if len(keys) == 0:  # every line is shorter than this order: an empty table
        empty = NgramTable(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))
        return empty, np.full(len(seq), -1, dtype=np.int32) if with_index else None
    keys, positions = radix_sort(keys, positions, key_bits, overwrite=True)
    uniq, counts, suffix, index = _group_sorted(keys, positions, prev_index, with_index)
    return NgramTable(uniq, counts, suffix), index if with_index else None


def _extension_keys(
    prev_index: np.ndarray, n_prev: int, seq: np.ndarray, bos_id: int, vocab_size: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The key and position of every n-gram occurrence, and how many bits the keys can have.

    An n-gram ends at ``p`` when the (n-1)-gram ending at ``p - 1`` is known (index ≥ 0) and ``p``
    is not a line start (else ``p - 1`` belongs to the previous line). Its key is that index × V
    + the word at ``p``; with ``n_prev`` (n-1)-grams, keys stay below ``n_prev`` × V, so they are
    stored as uint32 when that fits.
    """
    key_bits = max(n_prev * vocab_size - 1, 0).bit_length()
    keys = np.empty(max(len(seq) - 1, 0), dtype=np.uint32 if key_bits <= 32 else np.uint64)
    positions = np.empty(len(keys), dtype=np.int32 if len(seq) < 2**31 else np.int64)
    n_keys = _fill_extension(prev_index, seq, bos_id, vocab_size, keys, positions)
    return keys[:n_keys], positions[:n_keys], key_bits


@NGRAM.kernel("i8(i4[::1], i4[::1], i8, i8, u4[::1], i4[::1])", "i8(i4[::1], i4[::1], i8, i8, u8[::1], i4[::1])")
def _fill_extension(prev_index, seq, bos_id, vocab_size, keys, positions):
    """Write the keys and positions of :func:`_extension_keys`; return how many there are."""
    k = 0
    for p in range(1, len(seq)):
        if prev_index[p - 1] >= 0 and seq[p] != bos_id:
            keys[k] = prev_index[p - 1] * vocab_size + seq[p]
            positions[k] = p
            k += 1
    return k


@NGRAM.kernel(
    "Tuple((i8[::1], i4[::1], i4[::1], i4[::1]))(u4[::1], i4[::1], i4[::1], b1)",
    "Tuple((i8[::1], i4[::1], i4[::1], i4[::1]))(u8[::1], i4[::1], i4[::1], b1)",
)
def _group_sorted(keys, positions, prev_index, with_index):
    """One pass over sorted keys: the distinct keys (int64), their counts, the suffix of each
    (the (n-1)-gram ending where it ends) and, if asked, the group of every position."""
    n = len(keys)
    n_groups = 0
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            n_groups += 1
    uniq = np.empty(n_groups, dtype=np.int64)
    counts = np.zeros(n_groups, dtype=np.int32)
    suffix = np.empty(n_groups, dtype=np.int32)
    index = np.full(len(prev_index) if with_index else 0, -1, dtype=np.int32)
    group = -1
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            group += 1
            uniq[group] = keys[i]
            suffix[group] = prev_index[positions[i]]
        counts[group] += 1
        if with_index:
            index[positions[i]] = group
    return uniq, counts, suffix, index


def radix_sort(
    keys: np.ndarray, values: np.ndarray, key_bits: int | None = None, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sort unsigned ``keys`` (uint32 or uint64) and carry ``values`` along, stably.

    A least-significant-digit radix sort, compiled: linear in the number of keys, a third of
    np.sort's time on 100k keys. ``key_bits``: how many low bits can be non-zero (found if not
    given). With ``overwrite`` the inputs serve as scratch space (one pair of arrays less memory).
    """
    if key_bits is None:
        key_bits = int(keys.max()).bit_length() if len(keys) else 0
    # digits of up to 16 bits (fewer passes) when there are enough keys to fill the buckets,
    # else up to 11 (the histogram and scatter targets stay in cache)
    widest = 16 if len(keys) >= 1 << 14 else 11
    return _radix_sort_digits(keys, values, key_bits, widest, overwrite)


def _radix_sort_digits(keys, values, key_bits: int, widest: int, overwrite: bool):
    passes = max(1, -(-key_bits // widest))
    return _radix_sort(keys, values, passes, max(1, -(-key_bits // passes)), overwrite)


@NGRAM.kernel(
    "Tuple((u4[::1], i4[::1]))(u4[::1], i4[::1], i8, i8, b1)",
    "Tuple((u4[::1], i8[::1]))(u4[::1], i8[::1], i8, i8, b1)",
    "Tuple((u8[::1], i4[::1]))(u8[::1], i4[::1], i8, i8, b1)",
    "Tuple((u8[::1], i8[::1]))(u8[::1], i8[::1], i8, i8, b1)",
)
def _radix_sort(keys, values, passes, digit_bits, overwrite):
    n = len(keys)
    n_buckets = 1 << digit_bits
    mask = n_buckets - 1
    starts = np.zeros((passes, n_buckets), dtype=np.int64)
    for i in range(n):  # the histograms of all passes in one read
        key = keys[i]
        for p in range(passes):
            starts[p, (key >> (p * digit_bits)) & mask] += 1
    for p in range(passes):
        total = 0
        for b in range(n_buckets):
            size = starts[p, b]
            starts[p, b] = total
            total += size
    source, source_values = keys, values
    target, target_values = np.empty_like(keys), np.empty_like(values)
    for p in range(passes):
        shift = p * digit_bits
        for i in range(n):
            key = source[i]
            digit = (key >> shift) & mask
            at = starts[p, digit]
            starts[p, digit] = at + 1
            target[at] = key
            target_values[at] = source_values[i]
        if p == 0 and passes > 1 and not overwrite:  # keep the caller's arrays intact
            source, source_values = target, target_values
            target, target_values = np.empty_like(keys), np.empty_like(values)
        else:
            source, target = target, source
            source_values, target_values = target_values, source_values
    return source, source_values


def lookup_indices(seq: np.ndarray, tables_keys: list[np.ndarray], vocab_size: int, bos_id: int) -> list[np.ndarray]:
    """For each order n (1..len(tables_keys)+1): the table index of the n-gram ending at each
    position of ``seq``, or -1 where it is not in the model (or crosses the line start)."""
    indices = [seq.astype(np.int32)]
    for n, keys_n in enumerate(tables_keys):
        n_prev = len(tables_keys[n - 1]) if n else vocab_size
        indices.append(lookup_order(indices[-1], n_prev, seq, bos_id, vocab_size, keys_n))
    return indices


def lookup_order(
    prev_index: np.ndarray,
    n_prev: int,
    seq: np.ndarray,
    bos_id: int,
    vocab_size: int,
    table_keys: np.ndarray,
    digit_bits: int | None = None,
) -> np.ndarray:
    """The index in ``table_keys`` (the sorted keys of order n) of the n-gram ending at each
    position, -1 where it is not in the table, given the (n-1)-gram index at every position (one
    of ``n_prev``).

    Large batches are looked up in key order (sorted by :func:`radix_sort`): each search then starts
    where the last one ended and the table is walked forward through the cache, instead of
    sending every binary search to random places of a large table.
    """
    index = np.full(len(seq), -1, dtype=np.int32)
    keys, positions, key_bits = _extension_keys(prev_index, n_prev, seq, bos_id, vocab_size)
    if len(keys) == 0 or len(table_keys) == 0:
        return index
    in_order = len(keys) >= 1024
    if in_order and digit_bits:
        keys, positions = _radix_sort_digits(keys, positions, key_bits, digit_bits, True)
    elif in_order:
        keys, positions = radix_sort(keys, positions, key_bits, overwrite=True)
    _search(table_keys, keys, positions, index, in_order)
    return index


@NGRAM.kernel(
    "void(i8[::1], u4[::1], i4[::1], i4[::1], b1)",
    "void(i8[::1], u8[::1], i4[::1], i4[::1], b1)",
    "void(i8[::1], u8[::1], i8[::1], i8[::1], b1)",
)
def _search(table, keys, positions, index, in_order):
    """``index[positions[i]]`` = where ``keys[i]`` is in the sorted ``table`` (if it is). With
    ``in_order`` (keys ascending) each search gallops forward from the previous result."""
    n = len(table)
    lo = 0
    for i in range(len(keys)):
        key = np.int64(keys[i])
        if not in_order:
            lo = 0
        # gallop: find hi with table[hi] >= key, doubling the step from lo
        step = 1
        hi = lo
        while hi < n and table[hi] < key:
            lo = hi + 1
            hi += step
            step *= 2
        hi = min(hi, n)
        while lo < hi:  # binary search in [lo, hi): first entry >= key
            mid = (lo + hi) >> 1
            if table[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and table[lo] == key:
            index[positions[i]] = lo


def backoff_log10(
    seq: np.ndarray, keys: list, log10_prob: list, log10_backoff: list, vocab_size: int, bos_id: int
) -> np.ndarray:
    """log10 p at every position of ``seq`` by the ARPA rule (0 at ``<s>``): p*(hw) if the n-gram
    ``hw`` is listed, else bow(h) · p(w|h'), as KenLM scores. The tables: sorted keys of orders
    2..N, log10 probabilities of orders 1..N, log10 back-offs of orders 1..N-1."""
    order = len(log10_prob)
    # 8-bit digits: a scoring batch is too small to fill wider buckets, and they stay in cache
    indices = [seq.astype(np.int32)]
    for n, table in enumerate(keys):
        n_prev = len(keys[n - 1]) if n else vocab_size
        indices.append(lookup_order(indices[-1], n_prev, seq, bos_id, vocab_size, table, digit_bits=8))
    result = np.zeros(len(seq))
    done = np.zeros(len(seq), dtype=np.bool_)
    no_backoff = np.zeros(0)
    for n in range(order, 0, -1):
        _add_order(
            result,
            done,
            indices[n - 1],
            indices[n - 2] if n >= 2 else indices[0],
            np.ascontiguousarray(log10_prob[n - 1]),
            np.ascontiguousarray(log10_backoff[n - 2]) if n >= 2 else no_backoff,
            seq,
            bos_id,
        )
    return result


@NGRAM.kernel("void(f8[::1], b1[::1], i4[::1], i4[::1], f8[::1], f8[::1], i4[::1], i8)")
def _add_order(result, done, index, context_index, probs, backoffs, seq, bos_id):
    """One order n of :func:`backoff_log10`, from the highest down: where the n-gram ending at p
    is listed (``index``) and no longer one was, its probability; else, if its context (the
    (n-1)-gram ending at p - 1, ``context_index``) is listed, that context's back-off weight."""
    with_backoff = len(backoffs) > 0
    for p in range(len(seq)):
        if done[p]:
            continue
        if index[p] >= 0:
            result[p] += probs[index[p]]
            done[p] = True
        elif with_backoff and p > 0 and seq[p] != bos_id and context_index[p - 1] >= 0:
            result[p] += backoffs[context_index[p - 1]]


@NGRAM.kernel("f8[::1](i8[::1], i4[::1], i8, i8)")
def context_totals(keys, counts, vocab_size, n_contexts):
    """c(h•) = Σ_w c(hw) for every context h (float64, length ``n_contexts``), from the sorted keys
    of order n (prefix index × V + word) and their counts. Keys sharing a prefix are adjacent, so
    the prefix is recomputed (a division) only where it changes."""
    totals = np.zeros(n_contexts)
    prefix, next_start = -1, 0
    for i in range(len(keys)):
        if keys[i] >= next_start:
            prefix = keys[i] // vocab_size
            next_start = (prefix + 1) * vocab_size
        totals[prefix] += counts[i]
    return totals


@NGRAM.kernel(
    "void(i4[::1], i8, i8, i8, i4[::1], i4[::1], i8[::1], f8[::1], f8[::1], f8[::1])",
    "void(i4[::1], i8, i8, i8, i4[::1], i4[::1], i4[::1], f8[::1], f8[::1], f8[::1])",
)
def gather_counts(seq, bos_id, length, max_length, index, context_index, counts, totals, count_out, total_out):
    """For the positions whose context has ``length`` words (the longest the line allows, at
    most ``max_length``): c(hw) into ``count_out`` and c(h•) into ``total_out``, 0 when unseen.

    ``index``: the table index of the n-gram (n = length + 1) ending at each position;
    ``context_index``: that of the (n-1)-gram ending at each position (the context ends one
    position earlier); ``counts`` and ``totals`` of orders n and n-1.
    """
    line_start = 0
    for p in range(len(seq)):
        if seq[p] == bos_id:
            line_start = p
            continue
        if min(p - line_start, max_length) != length:
            continue
        if index[p] >= 0:
            count_out[p] = counts[index[p]]
        if length == 0:
            total_out[p] = totals[0]
        elif context_index[p - 1] >= 0:
            total_out[p] = totals[context_index[p - 1]]
