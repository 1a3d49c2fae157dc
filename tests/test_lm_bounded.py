"""The bounded-memory n-gram build (textkit.lm.bounded): the same model as the in-memory build,
byte for byte, however many partitions and buckets it is cut into; clean failures."""

from __future__ import annotations

import errno
import gzip
import os

import numpy as np
import pytest
from gensim.test.utils import datapath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkit.errors import OutputError, UsageError
from textkit.lm import bounded
from textkit.lm.native import map_safetensors
from textkit.lm.ngram import NgramLM
from textkit.vocab import Vocab


@pytest.fixture(scope="module")
def lee_lines():
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        return f.read().split("\n")[:120]


def in_memory(lines, folder, native=False, gzip=False, **params):
    lm = NgramLM(**params).fit_lines(lines)
    lm.save(folder, native=native, gzip=gzip)
    return folder


def partitioned(lines, folder, partitions, buckets, chunk_tokens=500, native=False, gzip=False, workers=None, **params):
    lm = NgramLM(**params)
    lm._pieces = {"partitions": partitions, "buckets": buckets, "chunk_tokens": chunk_tokens, "workers": workers}
    summary = lm.build_lines(lines, folder, memory="256M", native=native, gzip=gzip)
    assert summary["spilled"]
    return folder


@pytest.mark.parametrize("order", [2, 3, 5])
@pytest.mark.parametrize("smoothing", ["mkn", "kn"])
@pytest.mark.parametrize("pieces", [(1, 1), (4, 1), (1, 3), (9, 6), (3, 12)])  # 12: file names b1_ and b11_
def test_same_arpa_bytes_as_in_memory(tmp_path, lee_lines, order, smoothing, pieces):
    a = in_memory(lee_lines, tmp_path / "a", order=order, smoothing=smoothing)
    b = partitioned(lee_lines, tmp_path / "b", *pieces, order=order, smoothing=smoothing)
    assert (a / "model.arpa").read_bytes() == (b / "model.arpa").read_bytes()
    assert (a / "vocab.json").read_bytes() == (b / "vocab.json").read_bytes()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_threads_over_partitions_give_the_same_model(tmp_path, lee_lines, workers):
    a = in_memory(lee_lines, tmp_path / "a", order=5)
    b = partitioned(lee_lines, tmp_path / "b", 7, 4, workers=workers, order=5)
    assert (a / "model.arpa").read_bytes() == (b / "model.arpa").read_bytes()


@pytest.mark.parametrize(
    "params",
    [
        {"order": 4, "min_freq": 2},  # rare words become <unk>, counted as one word
        {"order": 3, "discounts": (0.5, 1.0, 1.5)},  # fixed discounts
        {"order": 4, "vocab": Vocab.from_counter({"the": 5, "a": 3, "of": 2, "<s>": 1}, specials=("<unk>",))},
        {"order": 1},
    ],
)
def test_same_arpa_with_vocabulary_options(tmp_path, lee_lines, params):
    a = in_memory(lee_lines, tmp_path / "a", **params)
    b = partitioned(lee_lines, tmp_path / "b", 5, 4, **params) if params["order"] > 1 else None
    if b is None:  # order 1 has no partitions: the budget path is the in-memory one
        lm = NgramLM(**params)
        lm.build_lines(lee_lines, tmp_path / "b", memory="256M")
        b = tmp_path / "b"
    assert (a / "model.arpa").read_bytes() == (b / "model.arpa").read_bytes()


def test_gzip_and_native_match(tmp_path, lee_lines):
    a = in_memory(lee_lines, tmp_path / "a", gzip=True, order=4)
    b = partitioned(lee_lines, tmp_path / "b", 3, 3, gzip=True, order=4)
    assert gzip.decompress((a / "model.arpa.gz").read_bytes()) == gzip.decompress((b / "model.arpa.gz").read_bytes())
    a = in_memory(lee_lines, tmp_path / "na", native=True, order=4)
    b = partitioned(lee_lines, tmp_path / "nb", 4, 5, native=True, order=4)
    want, got = map_safetensors(a / "weights.safetensors"), map_safetensors(b / "weights.safetensors")
    assert sorted(want) == sorted(got)
    for name in want:
        assert np.array_equal(want[name], got[name]), name
    text = ["the government said on monday", "police said the man was"]
    assert NgramLM.load(a).perplexity(text).perplexity == NgramLM.load(b).perplexity(text).perplexity


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.lists(st.sampled_from("abcde"), max_size=9).map(" ".join), min_size=1, max_size=25),
    order=st.integers(2, 5),
    partitions=st.integers(1, 6),
    buckets=st.integers(1, 6),
)
def test_any_cut_gives_the_same_model(tmp_path_factory, lines, order, partitions, buckets):
    if not any(line.split() for line in lines):
        return
    tmp = tmp_path_factory.mktemp("cut")
    params = {"order": order, "discounts": (0.5, 1.0, 1.5)}  # tiny corpora cannot estimate them
    a = in_memory(lines, tmp / "a", **params)
    b = partitioned(lines, tmp / "b", partitions, buckets, chunk_tokens=7, **params)
    assert (a / "model.arpa").read_bytes() == (b / "model.arpa").read_bytes()


def test_memory_sizes():
    assert bounded.parse_memory("1G") == 1 << 30
    assert bounded.parse_memory("500M") == 500 << 20
    assert bounded.parse_memory("2g") == 2 << 30
    assert 0 < bounded.parse_memory("80%") <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for bad in ("lots", "0%", "150%", "-1G", ""):
        with pytest.raises(UsageError):
            bounded.parse_memory(bad)
    with pytest.raises(UsageError, match="too small"):
        bounded.parse_memory("100M")


def test_budget_too_small_for_the_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setattr(bounded, "_BASE", 1 << 20)
    monkeypatch.setattr(bounded, "MIN_MEMORY", 1 << 20)
    lines = [" ".join(f"w{i}" for i in range(j, j + 50)) for j in range(0, 40_000, 50)]
    with pytest.raises(UsageError, match="too small for a vocabulary"):
        NgramLM(order=2).build_lines(lines, tmp_path / "m", memory="8M", temp_dir=tmp_path)
    assert not (tmp_path / "m").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the temporary folder went too


def test_unwritable_temp_dir(tmp_path):
    with pytest.raises(OutputError, match="temporary files"):
        NgramLM(order=2).build_lines(["a b c"], tmp_path / "m", memory="256M", temp_dir=tmp_path / "missing")
    assert not (tmp_path / "m").exists()


def _leftovers(folder):
    return [p.name for p in folder.iterdir()]


def test_full_temp_dir_leaves_nothing(tmp_path, lee_lines, monkeypatch):
    temp = tmp_path / "temp"
    temp.mkdir()
    calls = []

    def full(f, data):
        calls.append(f.name)
        if len(calls) > 30:
            raise OSError(errno.ENOSPC, "No space left on device")
        f.write(data)

    monkeypatch.setattr(bounded, "_write_bytes", full)
    lm = NgramLM(order=3)
    lm._pieces = {"partitions": 3, "buckets": 2, "chunk_tokens": 500}
    with pytest.raises(OutputError, match="no space left"):
        lm.build_lines(lee_lines, tmp_path / "m", memory="256M", temp_dir=temp)
    assert _leftovers(temp) == [] and not (tmp_path / "m").exists()


def test_interrupt_removes_temporary_files(tmp_path, lee_lines, monkeypatch):
    temp = tmp_path / "temp"
    temp.mkdir()

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(bounded._Partitioned, "estimate", interrupted)
    lm = NgramLM(order=3)
    lm._pieces = {"partitions": 2, "buckets": 2}
    with pytest.raises(KeyboardInterrupt):
        lm.build_lines(lee_lines, tmp_path / "m", memory="256M", temp_dir=temp)
    assert _leftovers(temp) == [] and not (tmp_path / "m").exists()


def test_budget_applies_to_kneser_ney_only(tmp_path):
    with pytest.raises(UsageError, match="kn and mkn"):
        NgramLM(order=2, smoothing="mle").build_lines(["a b"], tmp_path / "m", memory="1G")


def test_cli_memory_options(tmp_path, lee_lines):
    from click.testing import CliRunner
    from textkit_cli.main import cli

    corpus = tmp_path / "train.txt"
    corpus.write_text("\n".join(lee_lines) + "\n")

    def run(*args):
        return CliRunner().invoke(cli, ["train-lm", str(corpus), "--lang", "whitespace", *map(str, args)])

    plain = run("--order", 3, "-o", tmp_path / "plain")
    budget = run("--order", 3, "-o", tmp_path / "budget", "--memory", "300M", "--temp-dir", tmp_path)
    assert plain.exit_code == 0 and budget.exit_code == 0, budget.output
    assert (tmp_path / "plain/model.arpa").read_bytes() == (tmp_path / "budget/model.arpa").read_bytes()
    small = run("--order", 3, "-o", tmp_path / "small", "--memory", "10M")
    assert small.exit_code == 2 and "--memory" in small.output and "too small" in small.output
    mle = run("--order", 3, "--smoothing", "mle", "-o", tmp_path / "mle", "--memory", "1G")
    assert mle.exit_code == 2 and "kn and mkn" in mle.output
    gone = run("--order", 3, "-o", tmp_path / "gone", "--temp-dir", tmp_path / "no" / "such")
    assert gone.exit_code == 1 and "temporary files" in str(gone.exception or gone.output)
    assert not (tmp_path / "small").exists() and not (tmp_path / "gone").exists()


def test_one_sort_numbers_contexts_and_ngrams_as_two_sorts_do():
    """Keys of 54 bits (past float64's exact integers): contexts and n-grams from one sort by
    (context, word) are those of a sort by context then one by (context id, word)."""

    rng = np.random.default_rng(1)
    V, m, n_context = 1_000_000, 50_000, 10_000
    context = rng.integers(0, n_context, m).astype(np.int64)
    left = rng.integers(0, V, m).astype(np.int32)
    word = rng.integers(0, V, m).astype(np.int64)
    context[:500], left[:500], word[:500] = context[500:1000], left[500:1000], word[500:1000]  # repeats
    valid = rng.random(m) < 0.9
    rows = np.arange(m, dtype=np.int32)
    got = bounded._count_with_contexts(context, left, word, valid, rows, V, n_context)
    bits = (n_context * V - 1).bit_length()
    _, _, _, want_context = bounded._group_rows(context[valid] * V + left[valid], rows[valid], m, bits)
    n = int(want_context.max()) + 1
    keys = want_context[valid].astype(np.int64) * V + word[valid]
    want = bounded._group_rows(keys, rows[valid], m, (n * V - 1).bit_length())
    assert (n_context * V * V - 1).bit_length() == 54 and got[5] == n
    for g, w in zip(got[:4], want):
        assert np.array_equal(g, w)
    assert np.array_equal(got[4], want_context)
