"""textkit.vocab.Vocab: ordering, limits, specials, lookups, exact JSON round trips."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UnknownWordError, UsageError
from textkit.vocab import DEFAULT_SPECIALS, Vocab

SENTENCES = [["b", "a", "c"], ["a", "d", "b"], ["e", "a"], ["c", "f"]]  # a:3, b:2, c:2, d/e/f:1


def test_order_specials_then_frequency_then_first_occurrence():
    v = Vocab.build(SENTENCES)
    assert v.tokens == list(DEFAULT_SPECIALS) + ["a", "b", "c", "d", "e", "f"]
    assert v.freqs == [0, 0, 0, 0, 3, 2, 2, 1, 1, 1]
    assert v.specials == DEFAULT_SPECIALS


def test_ordering_oracle_against_a_sort_written_out():
    tokens = "the cat sat on the mat the dog sat on the log".split()
    first_seen = {t: i for i, t in reversed(list(enumerate(tokens)))}
    counts = Counter(tokens)
    expected = sorted(counts, key=lambda t: (-counts[t], first_seen[t]))
    v = Vocab.build([tokens[:5], tokens[5:]], specials=())
    assert v.tokens == expected
    assert [v.freq(t) for t in expected] == [counts[t] for t in expected]


def test_build_streams_a_single_pass():
    def once():
        yield from SENTENCES

    gen = once()
    v = Vocab.build(gen)
    assert len(v) == 10 and next(gen, None) is None


def test_min_freq_and_max_size_counts_specials():
    assert Vocab.build(SENTENCES, min_freq=2).tokens[4:] == ["a", "b", "c"]
    v = Vocab.build(SENTENCES, max_size=6)
    assert len(v) == 6 and v.tokens[4:] == ["a", "b"]
    assert Vocab.build(SENTENCES, max_size=4).tokens == list(DEFAULT_SPECIALS)
    assert Vocab.build(SENTENCES, min_freq=2, max_size=100).tokens[4:] == ["a", "b", "c"]


def test_option_errors():
    with pytest.raises(UsageError, match="min_freq"):
        Vocab.build(SENTENCES, min_freq=0)
    with pytest.raises(UsageError, match="smaller than the 4 special tokens"):
        Vocab.build(SENTENCES, max_size=3)
    with pytest.raises(UsageError, match="distinct"):
        Vocab.build(SENTENCES, specials=("<unk>", "<unk>"))
    with pytest.raises(EmptyCorpusError, match="no tokens"):
        Vocab.build([[], []])
    with pytest.raises(EmptyCorpusError, match="lower min_freq"):
        Vocab.build(SENTENCES, min_freq=10)


def test_specials_in_the_data_are_not_duplicated():
    v = Vocab.build([["<unk>", "a", "<unk>"], ["<pad>"]])
    assert v.tokens.count("<unk>") == 1 and v.tokens[4:] == ["a"]
    assert v.freq("<unk>") == 2 and v.freq("<pad>") == 1


def test_pad_and_unk_differ_and_missing_special_is_a_clear_error():
    v = Vocab.build(SENTENCES)
    ids = {v.unk_id, v.pad_id, v.bos_id, v.eos_id}
    assert ids == {0, 1, 2, 3}
    small = Vocab.build(SENTENCES, specials=("<pad>",))
    with pytest.raises(TextkitError, match="no '<unk>' token"):
        _ = small.unk_id
    with pytest.raises(TextkitError, match="no '<bos>' token"):
        _ = small.bos_id
    assert small.pad_id == 0


def test_unknown_tokens_with_unk():
    v = Vocab.build(SENTENCES)
    assert v["zzz"] == v.unk_id
    assert v.encode(["a", "zzz", "f"]) == [4, 0, 9]
    assert "zzz" not in v and "a" in v


def test_unknown_tokens_without_unk_raise_keyerror_naming_the_token():
    v = Vocab.build(SENTENCES, specials=("<pad>",))
    with pytest.raises(KeyError, match="'zzz' is not in the vocabulary"):
        v["zzz"]
    with pytest.raises(UnknownWordError, match="'qq'"):
        v.encode(["a", "qq"])


def test_unk_in_the_data_is_not_an_unknown_mapping_unless_reserved():
    v = Vocab.build([["a", "<unk>", "<unk>"]], specials=("<pad>",))
    assert "<unk>" in v and v.unk_token is None
    with pytest.raises(UnknownWordError):
        v["zzz"]


def test_lookups_decode_len_iter():
    v = Vocab.build(SENTENCES)
    assert v.lookup_token(4) == "a" and v["a"] == 4
    assert v.decode(v.encode(["a", "b", "f"])) == ["a", "b", "f"]
    assert list(v) == v.tokens and len(v) == 10
    torch = pytest.importorskip("torch")
    assert v.decode(torch.tensor([4, 5])) == ["a", "b"]
    assert v.decode(i for i in [4, 5]) == ["a", "b"]
    for bad in ([10], [-1], [4, "a"]):
        with pytest.raises(TextkitError, match="out of range"):
            v.decode(bad)
    for bad in (10, -1, "a"):
        with pytest.raises(TextkitError, match="out of range"):
            v.lookup_token(bad)


def test_from_counter_keeps_insertion_order_for_ties():
    v = Vocab.from_counter(Counter({"x": 2, "y": 5, "z": 2, "w": 2}), specials=("<unk>",))
    assert v.tokens == ["<unk>", "y", "x", "z", "w"]
    assert v == Vocab.from_counter({"x": 2, "y": 5, "z": 2, "w": 2}, specials=("<unk>",))
    assert Vocab.from_counter(Counter(a=1, b=3), min_freq=2, specials=()).tokens == ["b"]


def test_save_load_exact(tmp_path):
    v = Vocab.build([["中文", "é", "a b", ""], ["中文"]], specials=("<unk>", "<pad>"))
    path = tmp_path / "vocab.json"
    v.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "textkit.vocab" and data["version"] == 1
    assert "中文" in path.read_text(encoding="utf-8")  # human-readable
    w = Vocab.load(path)
    assert w == v and w.tokens == v.tokens and w.freqs == v.freqs and w["nope"] == 0


tokens_strategy = st.lists(st.lists(st.text(max_size=6), max_size=8), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(token_lists=tokens_strategy, min_freq=st.integers(1, 3), data=st.data())
def test_save_load_round_trip_property(tmp_path_factory, token_lists, min_freq, data):
    specials = data.draw(st.sampled_from([(), ("<unk>",), ("<pad>", "<unk>"), DEFAULT_SPECIALS]))
    try:
        v = Vocab.build(token_lists, min_freq=min_freq, specials=specials)
    except EmptyCorpusError:
        return
    path = tmp_path_factory.mktemp("v") / "v.json"
    v.save(path)
    w = Vocab.load(path)
    assert w == v and w.tokens == v.tokens and w.freqs == v.freqs and w.unk_token == v.unk_token
    for tokens in token_lists:
        known = [t for t in tokens if t in v]
        assert w.decode(w.encode(known)) == known
    counts = Counter(t for tokens in token_lists for t in tokens)
    for t in v.tokens[len(specials) :]:
        assert v.freq(t) == counts[t] >= min_freq
    freqs = v.freqs[len(specials) :]
    assert freqs == sorted(freqs, reverse=True)


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "not a valid vocabulary file"),
        ('["a", "b"]', "not a textkit vocabulary"),
        ('{"format": "gensim.kv", "tokens": []}', "not a textkit vocabulary"),
        ('{"format": "textkit.vocab", "version": 99}', "version 99 is not supported"),
        ('{"format": "textkit.vocab", "version": 1, "tokens": ["a"]}', "incomplete or malformed"),
        ('{"format": "textkit.vocab", "version": 1, "specials": [], "tokens": "abc", "freqs": [1, 1, 1]}', "malformed"),
        ('{"format": "textkit.vocab", "version": 1, "specials": [], "tokens": ["a", 3], "freqs": [1, 1]}', "malformed"),
        ('{"format": "textkit.vocab", "version": 1, "specials": [], "tokens": ["a"], "freqs": ["1"]}', "malformed"),
        (
            '{"format": "textkit.vocab", "version": 1, "specials": [], "tokens": ["a"], "freqs": [1, 2]}',
            "different number",
        ),
        ('{"format": "textkit.vocab", "version": 1, "specials": [], "tokens": ["a", "a"], "freqs": [1, 2]}', "twice"),
        (
            '{"format": "textkit.vocab", "version": 1, "specials": ["<unk>"], '
            '"tokens": ["a", "<unk>"], "freqs": [1, 2]}',
            "start with its special",
        ),
    ],
)
def test_corrupt_or_foreign_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFileError, match=message):
        Vocab.load(path)


def test_binary_or_missing_file(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\x80\x81\x82")
    with pytest.raises(ModelFileError):
        Vocab.load(path)
    with pytest.raises(TextkitError, match="no such file"):
        Vocab.load(tmp_path / "none.json")


def test_build_leaves_the_garbage_collector_as_it_found_it():
    import gc

    assert gc.isenabled()
    Vocab.build(SENTENCES)
    assert gc.isenabled()
    with pytest.raises(EmptyCorpusError):
        Vocab.build(SENTENCES, min_freq=99)
    assert gc.isenabled()
    gc.disable()
    try:
        Vocab.build(SENTENCES)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_min_freq_cut_matches_a_filter():
    counts = Counter({f"w{i}": (i * 7919) % 13 + 1 for i in range(500)})
    for min_freq in range(1, 15):
        try:
            v = Vocab.from_counter(counts, min_freq=min_freq, specials=())
        except EmptyCorpusError:
            assert max(counts.values()) < min_freq
            continue
        assert set(v.tokens) == {t for t, c in counts.items() if c >= min_freq}
