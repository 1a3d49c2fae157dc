"""The ahead-of-time kernel machinery (textkit.compiled): variants picked by dtype, a build keyed by the
sources, numba's JIT when the build fails or the file is damaged, and no numba in a fresh n-gram process."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import textkit.compiled as compiled
from textkit.compiled import KernelSet, _arg_specs, _matches, jit, load_or_build, module_name
from textkit.lm.counting import WordIndex, wrap_lines
from textkit.lm.encoding import WordTable, _encode
from textkit.vocab import Vocab


def test_signatures_are_read_into_dtype_checks():
    specs = _arg_specs("Tuple((u4[::1], i4[::1]))(u4[::1], i4[:, ::1], i8, f8, b1)")
    assert specs == ((np.dtype("u4"), 1), (np.dtype("i4"), 2), None, None, None)
    good = (np.zeros(3, np.uint32), np.zeros((2, 2), np.int32), 1, 2.0, True)
    assert _matches(specs, good)
    assert not _matches(specs, (np.zeros(3, np.uint64),) + good[1:])  # another dtype: numba would not check
    assert not _matches(specs, (np.zeros(6, np.uint32)[::2],) + good[1:])  # not contiguous
    assert not _matches(specs, good[:1] + (np.zeros((2, 2), np.int32).T,) + good[2:])  # Fortran order
    assert not _matches(specs, good[:2] + (np.zeros(1),) + good[3:])  # an array for a scalar
    assert not _matches(specs, good[:-1])
    with pytest.raises(ValueError, match="contiguous"):
        _arg_specs("i8(i4[:])")


def _total_kernel(kernels: KernelSet):
    @kernels.kernel("i8(i8[::1])", "f8(f8[::1])")
    def total(a):
        s = a[0] - a[0]
        for x in a:
            s += x
        return s

    return total


def test_a_failed_build_falls_back_to_numbas_jit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEXTKIT_CACHE", str(tmp_path))

    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C compiler here")

    monkeypatch.setattr(compiled, "_build", no_compiler)
    total = _total_kernel(KernelSet("test_fallback", []))
    assert total(np.arange(5)) == 10 and total(np.array([0.5, 0.25])) == 0.75
    assert "failed (no C compiler here); using numba's JIT" in capsys.readouterr().err
    assert total.dispatcher is not None and not list((tmp_path / "kernels").glob("*"))


def test_the_module_is_built_once_keyed_by_the_sources_and_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKIT_CACHE", str(tmp_path))
    kernels = KernelSet("test_build", [])
    total = _total_kernel(kernels)
    folder = tmp_path / "kernels"
    folder.mkdir()
    stale = [folder / f"_textkit_test_build_{i:020d}.so" for i in range(compiled.KEEP_MODULES + 2)]
    for age, old in enumerate(stale):  # earlier builds, the first the most recently used
        old.write_bytes(b"")
        os.utime(old, (1e9 - age, 1e9 - age))
    (folder / "_textkit_other_0.so").write_bytes(b"")
    assert kernels.module() is not None
    # the new module and the most recently used others are kept, the rest deleted; other kinds untouched
    kept = sorted(p.name for p in folder.glob("_textkit_test_build_*") if p not in stale)
    assert [p.exists() for p in stale] == [True] * (compiled.KEEP_MODULES - 1) + [False] * 3
    assert len(kept) == 1 and (folder / "_textkit_other_0.so").exists()
    for old in stale:
        old.unlink(missing_ok=True)
    real_jit = compiled.jit

    def no_jit(kernel):
        raise AssertionError("the JIT was asked")

    monkeypatch.setattr(compiled, "jit", no_jit)
    assert total(np.arange(4)) == 6 and total(np.array([1.5])) == 1.5  # the compiled variants ran
    with pytest.raises(AssertionError, match="JIT"):
        total(np.arange(4, dtype=np.int32))
    monkeypatch.setattr(compiled, "jit", real_jit)
    assert total(np.arange(4, dtype=np.int32)) == 6  # int32: no compiled variant, the JIT's turn
    built = list((tmp_path / "kernels").glob("_textkit_test_build_*"))
    assert len(built) == 1 and built[0].name.endswith(sysconfig.get_config_var("EXT_SUFFIX"))
    # the name changes with the kernel sources and with the signatures
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("x = 2\n")
    exports = kernels.exports()
    assert module_name("p_", [a], exports) != module_name("p_", [b], exports)
    assert module_name("p_", [a], exports) != module_name("p_", [a], {**exports, "more": "i8(i8)"})
    assert module_name("p_", [a], exports) == module_name("p_", [a], dict(reversed(exports.items())))


def test_a_damaged_module_is_removed_and_the_jit_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEXTKIT_CACHE", str(tmp_path))
    source = tmp_path / "k.py"
    source.write_text("# kernels\n")
    exports = {"f": "i8(i8)"}
    path = tmp_path / "kernels" / (module_name("_t_", [source], exports) + sysconfig.get_config_var("EXT_SUFFIX"))
    path.parent.mkdir()
    path.write_bytes(b"not a shared object")

    def must_not_build():
        raise AssertionError("a file is there: nothing to build")

    assert load_or_build("_t_", "test", [source], exports, must_not_build) is None
    assert "cannot load the compiled test kernels" in capsys.readouterr().err
    assert not path.exists()  # the next process builds it again


def test_the_ngram_kernels_give_the_jits_results():
    vocab = Vocab.from_counter({"a": 3, "bé": 2, "c": 1}, specials=("<unk>", "<s>", "</s>"))
    table = WordTable.from_vocab(vocab)
    buf = np.frombuffer("a bé zz\n\nc\u3000a <s> </s>".encode(), dtype=np.uint8)
    args = (buf, table.slots, table.token_bytes, table.unk, table.bos, table.eos)
    out_aot, out_jit = np.zeros(20, np.int32), np.zeros(20, np.int32)
    assert _encode(*args, out_aot) == jit(_encode)(*args, out_jit)
    np.testing.assert_array_equal(out_aot, out_jit)


WORDS = ["a", "b", "bé", "日本", "<unk>", "<s>", "</s>", "zz", "a\u00a0b"]
SPACES = [" ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2003", "\u2028", "\u3000", "\n"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SPACES)), max_size=6).map(
            lambda pairs: "".join(w + s for w, s in pairs)
        ),
        max_size=8,
    )
)
def test_compiled_split_and_lookup_equal_str_split_and_the_dict(lines):
    vocab = Vocab.from_counter({"a": 3, "b": 2, "bé": 2, "日本": 1}, specials=("<unk>", "<s>", "</s>"))
    seq, n_lines, n_words, n_unknown = WordTable.from_vocab(vocab).encode(lines)
    ids, lengths, unknown = WordIndex.from_vocab(vocab).encode([line.split() for line in lines])
    bos, eos = vocab.stoi["<s>"], vocab.stoi["</s>"]
    np.testing.assert_array_equal(seq, wrap_lines(ids, lengths, bos, eos))
    assert (n_lines, n_words, n_unknown) == (len(lengths), len(ids), unknown)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.text(min_size=1, max_size=3).filter(lambda w: not w.isspace()), st.sampled_from(SPACES)),
            max_size=8,
        ).map(lambda pairs: "".join(w + s for w, s in pairs)),
        max_size=10,
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_compiled_numbering_equals_str_split_and_first_appearance(lines, block_lines, tiny):
    """NewWords numbers the words of str.split() in order of first appearance, block after block,
    also when its table and byte store start tiny and grow in the middle of a line."""
    from textkit.lm.counting import collect_ids
    from textkit.lm.encoding import NewWords

    words = NewWords()
    if tiny:
        words.slots = np.full((2, 2), -1, dtype=np.int64)
        words.store = np.empty(1, dtype=np.uint8)
    seqs, n_lines = [], 0
    for lo in range(0, len(lines), block_lines):
        seq, n = words.encode(lines[lo : lo + block_lines])
        seqs.append(seq)
        n_lines += n
    split = [line.split() for line in lines]
    if not any(split):
        assert len(words) == 0 and n_lines == 0 and sum(map(len, seqs)) == 0
        return
    ids, lengths, index = collect_ids(split)
    assert words.words() == list(index)
    np.testing.assert_array_equal(np.concatenate(seqs), wrap_lines(ids + 2, lengths, 0, 1))
    assert n_lines == len(lengths)


def test_a_fresh_ngram_process_builds_and_scores_without_numba_or_scipy(tmp_path):
    from textkit.lm.compiled import NGRAM

    NGRAM.module()  # built (or found) here, so the child only loads it
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\nthe dog sat\na cat\n" * 50)
    code = (  # the ARPA file holds 7 digits, the native one float64: perplexities agree closely
        "import sys; from textkit.lm.ngram import NgramLM; "
        f"lines = open({str(text)!r}).read().splitlines(); "
        f"NgramLM(order=4).build_lines(lines, {str(tmp_path / 'arpa')!r}, memory='200M'); "
        f"NgramLM(order=4).build_lines(lines, {str(tmp_path / 'native')!r}, memory='200M', native=True); "
        "lm = NgramLM(order=4); lm._pieces = {'partitions': 3, 'buckets': 2}; "  # the partitioned build's kernels
        f"lm.build_lines(lines, {str(tmp_path / 'parts')!r}, memory='200M'); "
        f"ppl = [NgramLM.load({str(tmp_path)!r} + m).perplexity(lines).perplexity for m in ('/arpa', '/native')]; "
        "loaded = sorted(n for n in ('numba', 'scipy', 'llvmlite') if n in sys.modules); "
        "print(loaded, abs(ppl[0] - ppl[1]) < 1e-5 * ppl[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True", out.stderr
