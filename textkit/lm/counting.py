"""Counting n-grams with integer keys and vectorised numpy: no Python object per n-gram.

A corpus becomes one flat int32 array of word ids, every line wrapped as ``<s> w1 ... wk </s>``.
The n-grams of order ``n`` are numbered by their rank in a sorted table of int64 keys::

    key(w1 .. wn) = index_of(w1 .. wn-1 in the order n-1 table) * V + wn

with the order-1 "table" being the word ids themselves. Keys stay below 2**63 even for WikiText-103
(10^8 distinct prefixes times 267k words is about 2.7e13). Counting one order is a single
``np.unique`` over the keys of all positions; the n-gram ending at each position is then known by
its table index, which builds the keys of the next order. Scoring looks keys up with
``np.searchsorted`` over the same sorted tables.

An n-gram "ends at" position ``p`` if its last word is ``seq[p]``; it exists only within one line,
and no n-gram ends at ``<s>`` (the start marker is context, never predicted).

>>> seq, n_lines, oov = encode_lines([["a", "b"], ["b"]], vocab)
>>> tables = count_ngrams(seq, order=3, vocab_size=len(vocab), bos_id=vocab["<s>"])
"""

from __future__ import annotations

from array import array
from itertools import chain, count, islice, repeat
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from textkit.errors import EmptyCorpusError, UsageError
from textkit.vocab import Vocab

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIALS = (UNK, BOS, EOS)


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


def collect_ids(token_lists: Iterable[Sequence[str]], chunk_lines: int = 50_000) -> tuple[array, array, list[str]]:
    """One streaming pass: provisional ids in first-occurrence order, line lengths, and the words.

    Empty lines are skipped. Memory is 4 bytes per token (a compact ``array``), not a list of
    strings. Each chunk of lines costs one dictionary operation per token, run in C:
    ``index.setdefault(word, position)`` returns the id of a word seen in an earlier chunk, or the
    chunk position of the word's first occurrence here; the words new in this chunk are then the
    last keys of ``index``, and numpy turns their positions into ids.
    """
    index: dict[str, int] = {}
    known = 0  # words with their id as value in index; the rest have a position
    ids = array("i")
    lengths = array("q")
    offset = 0  # tokens before this chunk: every id of an earlier word is below it
    for chunk in _chunks(token_lists, chunk_lines):
        # the previous chunk's new words get their ids only now: the last chunk's never need them
        index.update(zip(list(islice(index, known, None)), count(known)))
        known = len(index)
        n_tokens = sum(map(len, chunk))
        found = np.fromiter(map(index.setdefault, chain.from_iterable(chunk), count(offset)), dtype=np.int64, count=n_tokens)
        first_at = np.fromiter(islice(index.values(), known, None), dtype=np.int64, count=len(index) - known)
        new_id = np.empty(n_tokens, dtype=np.int64)  # id of the word first seen at each position
        new_id[first_at - offset] = np.arange(known, len(index))
        is_new = found >= offset
        found[is_new] = new_id[found[is_new] - offset]
        ids.frombytes(found.astype(np.int32).tobytes())
        lengths.extend(filter(None, map(len, chunk)))
        offset += n_tokens
    return ids, lengths, list(index)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def build_vocab(words: list[str], counts: np.ndarray, min_freq: int = 1) -> tuple[Vocab, np.ndarray]:
    """The model vocabulary: ``<unk> <s> </s>`` first, then words seen ``min_freq`` times or more,
    most frequent first, ties in order of first appearance (as :meth:`Vocab.from_counter`).

    Also returns each word's id in it, as :func:`vocab_ids` would (``<unk>`` for rare words and
    for literal markers), known here from the sort without a dictionary lookup per word.
    """
    if min_freq < 1:
        raise UsageError(f"min_freq must be at least 1, not {min_freq}")
    keep = counts >= min_freq
    special_freqs = []
    for special in SPECIALS:  # a literal <unk> in the text (WikiText has them) keeps its count
        at = _find(words, special)
        special_freqs.append(int(counts[at]) if at >= 0 else 0)
        if at >= 0:
            keep[at] = False
    if not keep.any():
        raise EmptyCorpusError(f"no word occurs at least {min_freq} times (the most frequent occurs {counts.max()} times); lower min_freq")
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(-counts[kept], kind="stable")]
    tokens = list(SPECIALS) + list(map(words.__getitem__, kept.tolist()))
    vocab = Vocab(tokens, special_freqs + counts[kept].tolist(), SPECIALS, unk_token=UNK)
    ids = np.full(len(words), SPECIALS.index(UNK), dtype=np.int32)
    ids[kept] = np.arange(len(SPECIALS), len(tokens), dtype=np.int32)
    return vocab, ids


def _find(words: list[str], word: str) -> int:
    """Position of ``word`` in ``words`` (one C-speed scan), or -1."""
    try:
        return words.index(word)
    except ValueError:
        return -1


def model_vocab(vocab: Vocab) -> Vocab:
    """A user's Vocab turned into an n-gram vocabulary: our three specials first, its words after.

    Its own specials (``<pad>``, ``<bos>``, ``<eos>``...) are dropped: they are not words of the text.
    """
    n = len(vocab.specials)  # a Vocab lists its specials first
    words, freqs = vocab.tokens[n:], vocab.freqs[n:]
    ours = [i - n for i in map(vocab.stoi.get, SPECIALS) if i is not None and i >= n]
    for i in sorted(ours, reverse=True):  # our markers listed as plain words: ours come first anyway
        del words[i], freqs[i]
    return Vocab(list(SPECIALS) + words, [0, 0, 0] + freqs, SPECIALS, unk_token=UNK)


def vocab_ids(words: list[str], vocab: Vocab) -> np.ndarray:
    """The id of each of ``words`` in ``vocab``, ``<unk>`` for the words it lacks.

    A literal ``<s>`` or ``</s>`` in the text is treated as an unknown word: the markers belong to
    the model (KenLM refuses them in training text for the same reason). A literal ``<unk>`` (as in
    WikiText) is the vocabulary's own ``<unk>``.
    """
    unk = vocab.stoi[UNK]
    ids = np.fromiter(map(vocab.stoi.get, words, repeat(unk, len(words))), dtype=np.int32, count=len(words))
    for marker in (BOS, EOS):
        ids[ids == vocab.stoi[marker]] = unk
    return ids


def wrap_lines(word_ids: np.ndarray, lengths: Sequence[int], bos_id: int, eos_id: int) -> np.ndarray:
    """Flat array ``<s> w.. </s> <s> w.. </s> ...`` from concatenated word ids and line lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() != len(word_ids):
        raise ValueError("line lengths do not add up to the number of words")
    spans = lengths + 2
    starts = np.cumsum(spans) - spans
    seq = np.empty(int(spans.sum()), dtype=np.int32)
    is_word = np.ones(len(seq), dtype=bool)
    is_word[starts] = False
    is_word[starts + lengths + 1] = False
    seq[starts] = bos_id
    seq[starts + lengths + 1] = eos_id
    seq[is_word] = word_ids
    return seq


def extension_keys(prev_index: np.ndarray, seq: np.ndarray, bos_id: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions where an n-gram can end, and its key, given the (n-1)-gram index at every position.

    An n-gram ends at ``p`` when the (n-1)-gram ending at ``p - 1`` is known (index ≥ 0) and ``p``
    is not a line start (else ``p - 1`` belongs to the previous line).
    """
    positions = np.flatnonzero((prev_index[:-1] >= 0) & (seq[1:] != bos_id))
    positions += 1
    keys = prev_index[positions - 1].astype(np.int64)
    keys *= vocab_size
    keys += seq[positions]
    return positions, keys


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
        positions, keys = extension_keys(index, seq, bos_id, vocab_size)
        if len(keys) == 0:  # every line is shorter than this order: an empty table
            tables.append(NgramTable(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)))
            index = np.full(len(seq), -1, dtype=np.int32)
            continue
        uniq, one_position, inverse, counts = group_keys(keys, with_inverse=n < order)
        del keys
        suffix = index[positions[one_position]].astype(np.int32)  # the (n-1)-gram ending there too
        if n < order:  # the next order is built from where each n-gram ends
            index = np.full(len(seq), -1, dtype=np.int32)
            index[positions] = inverse
        del positions, inverse, one_position
        tables.append(NgramTable(uniq, counts, suffix))
    return unigram, tables


def group_keys(keys: np.ndarray, with_inverse: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Distinct sorted keys, one position of each, each key's group (int32, if asked), group sizes.

    ``np.unique(return_index=True)`` would sort stably to find *first* positions; any position
    will do here (every occurrence of an n-gram has the same suffix), so a plain sort is enough.
    """
    order, sorted_keys = _sort_with_order(keys)
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    start_at = np.flatnonzero(starts)
    uniq = sorted_keys[start_at]
    del sorted_keys
    inverse = None
    if with_inverse:
        inverse = np.empty(len(keys), dtype=np.int32)
        inverse[order] = np.cumsum(starts, dtype=np.int32) - 1
    counts = np.diff(np.append(start_at, len(keys))).astype(np.int32)
    return uniq, order[start_at], inverse, counts


def _sort_with_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(argsort(keys), sorted keys), by whichever method is fastest for these keys.

    Keys of at most 32 bits (a vocabulary of a few tens of thousands of words, or tables of that
    size): a least-significant-digit radix sort, two numpy stable argsorts of 16-bit digits
    (numpy sorts 16-bit integers by radix, in linear time); on 100k keys that takes half the time
    of one np.sort. Wider keys: when key and position fit in 63 bits together, one np.sort of
    ``key << bits | position`` gives both, about twice as fast as np.argsort (vectorised sorting
    kernels exist for sort, not for argsort); otherwise (WikiText-103-sized input) argsort, whose
    extra memory is smaller than radix passes would need.
    """
    position_bits = max(int(len(keys) - 1).bit_length(), 1)
    key_bits = int(keys.max()).bit_length() if len(keys) else 0
    if key_bits <= 32:
        return _radix_sort_with_order(keys, key_bits)
    if key_bits + position_bits > 63:
        order = np.argsort(keys)
        return order, keys[order]
    packed = keys << position_bits
    packed |= np.arange(len(keys), dtype=np.int64)
    packed.sort()
    order = packed & ((1 << position_bits) - 1)
    packed >>= position_bits
    return order, packed


def _radix_sort_with_order(keys: np.ndarray, key_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """LSD radix sort of non-negative keys: each pass stably sorts by the next 16 bits."""
    order = np.argsort(keys.astype(np.uint16), kind="stable")  # astype keeps the low 16 bits
    for shift in range(16, key_bits, 16):
        digit = (keys[order] >> shift).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
    return order, keys[order]


def sorted_search(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``np.searchsorted(table, queries)`` for non-negative keys, about three times as fast for
    large batches: queries are put in order (by the radix sort of :func:`_sort_with_order`) and
    looked up in that order, so consecutive binary searches touch the same cache lines."""
    if len(queries) < 1024:
        return np.searchsorted(table, queries)
    order, sorted_queries = _sort_with_order(queries)
    found = np.empty(len(queries), dtype=np.int64)
    found[order] = np.searchsorted(table, sorted_queries)
    return found


def encode_with_vocab(token_lists: Iterable[Sequence[str]], vocab: Vocab, chunk_lines: int = 50_000) -> tuple[np.ndarray, np.ndarray, int]:
    """Word ids under a fixed vocabulary (for scoring), line lengths, and the number of unknown words.

    A literal ``<unk>`` is a known word; literal ``<s>``/``</s>`` are unknown (see :func:`vocab_ids`).
    """
    stoi = vocab.stoi
    unk = stoi[UNK]
    markers = (stoi[BOS], stoi[EOS])
    parts, lengths, unknown = [], [], 0
    for chunk in _chunks(token_lists, chunk_lines):
        n_tokens = sum(map(len, chunk))
        ids = np.fromiter(map(stoi.get, chain.from_iterable(chunk), repeat(-1)), dtype=np.int32, count=n_tokens)
        is_unknown = (ids < 0) | (ids == markers[0]) | (ids == markers[1])
        ids[is_unknown] = unk
        unknown += int(is_unknown.sum())
        parts.append(ids)
        lengths.extend(filter(None, map(len, chunk)))
    word_ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    return word_ids, np.array(lengths, dtype=np.int64), unknown


def lookup_indices(seq: np.ndarray, tables_keys: list[np.ndarray], vocab_size: int, bos_id: int) -> list[np.ndarray]:
    """For each order n (1..len(tables_keys)+1): the table index of the n-gram ending at each
    position of ``seq``, or -1 where it is not in the model (or crosses the line start)."""
    indices = [seq.astype(np.int32)]
    for keys_n in tables_keys:
        positions, keys = extension_keys(indices[-1], seq, bos_id, vocab_size)
        found_at = sorted_search(keys_n, keys)
        found_at_clipped = np.minimum(found_at, max(len(keys_n) - 1, 0))
        hit = (found_at < len(keys_n)) & (keys_n[found_at_clipped] == keys) if len(keys_n) else np.zeros(len(keys), bool)
        index = np.full(len(seq), -1, dtype=np.int32)
        index[positions[hit]] = found_at[hit]
        indices.append(index)
    return indices
