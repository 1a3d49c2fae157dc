"""StringTable: the compiled string interning, checked against Python's dict and str.split()."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.interning import StringTable

# any text, including NUL (the usual separator), whitespace of every kind and lone surrogates
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
WORDS = st.lists(st.lists(TEXT, max_size=6), max_size=12)


def first_occurrence_ids(token_lists, seen=None):
    seen = {} if seen is None else seen
    return [seen.setdefault(t, len(seen)) for line in token_lists for t in line], seen


@given(WORDS, WORDS)
@settings(max_examples=200, deadline=None)
def test_add_tokens_gives_first_occurrence_ids_like_a_dict(first, second):
    table = StringTable()
    expected, seen = first_occurrence_ids(first)
    assert table.add_tokens(first).tolist() == expected
    expected, seen = first_occurrence_ids(second, seen)  # a second chunk continues the numbering
    assert table.add_tokens(second).tolist() == expected
    assert table.words() == list(seen)
    assert len(table) == len(seen)


@given(WORDS, st.lists(TEXT, max_size=10))
@settings(max_examples=150, deadline=None)
def test_lookup_tokens_finds_known_and_only_known(known, queries):
    table = StringTable()
    table.add_tokens(known)
    _, seen = first_occurrence_ids(known)
    assert table.lookup_tokens([queries]).tolist() == [seen.get(q, -1) for q in queries]
    assert len(table) == len(seen)  # lookups insert nothing


@given(st.lists(st.text(max_size=30), max_size=10))
@settings(max_examples=200, deadline=None)
def test_add_lines_splits_exactly_as_str_split(lines):
    table = StringTable()
    ids, lengths = table.add_lines(lines)
    token_lists = [line.split() for line in lines]
    assert lengths.tolist() == [len(tokens) for tokens in token_lists]
    expected, seen = first_occurrence_ids(token_lists)
    assert ids.tolist() == expected
    assert table.words() == list(seen)
    again, _ = table.lookup_lines(lines)
    assert again.tolist() == expected


def test_every_whitespace_character_splits_and_no_other_does():
    # str.isspace() is the definition str.split() uses: check every code point, in one batch
    chars = [chr(c) for c in range(1, 0x110000)]  # NUL aside: it would make the table pick another separator
    lines = ["x" + ch + "y" for ch in chars]
    _, lengths = StringTable().lookup_lines(lines)
    splits = dict(zip(chars, lengths.tolist()))
    assert {ch for ch, n in splits.items() if n == 2} == {ch for ch in chars if ch.isspace()}
    assert all(n in (1, 2) for n in splits.values())


def test_tokens_holding_every_ascii_character_still_intern_correctly():
    # no single byte is free to separate these tokens: the table falls back to one at a time
    every = "".join(map(chr, range(128)))
    tokens = [every, every[::-1], "a\x00b", every]
    table = StringTable()
    assert table.add_tokens([tokens]).tolist() == [0, 1, 2, 0]
    assert table.words() == [every, every[::-1], "a\x00b"]
    ids, lengths = table.add_lines(["p\x00q r", every])  # a NUL inside a line: another separator
    assert lengths.tolist() == [2, len(every.split())]
    assert table.words()[3:5] == ["p\x00q", "r"]


def test_growth_keeps_every_id():
    words = [f"w{i}" * (i % 7 + 1) for i in range(50_000)]  # beyond the initial capacity, some > 8 bytes
    table = StringTable()
    for start in range(0, len(words), 7_000):
        assert table.add_tokens([words[start : start + 7_000]]).tolist() == list(range(start, min(start + 7_000, len(words))))
    assert table.lookup_tokens([words[::-1]]).tolist() == list(range(len(words)))[::-1]
    assert table.words() == words


def test_lookup_table_maps_one_table_into_another():
    vocab = StringTable(["<unk>", "the", "a-much-longer-word", "cat"])
    text = StringTable()
    text.add_tokens([["cat", "dog", "the", "a-much-longer-word", "a-much-longer-wort"]])
    np.testing.assert_array_equal(vocab.lookup_table(text), [3, -1, 1, 2, -1])


def test_distinct_words_are_required_up_front():
    import pytest

    with pytest.raises(ValueError):
        StringTable(["a", "b", "a"])
