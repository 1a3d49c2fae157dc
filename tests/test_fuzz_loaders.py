"""Fuzzing the loaders: mutated model files give a TextkitError or a sound model, never a traceback.

Every loader of a file a user may hand textkit (word2vec text and binary vectors, ARPA, vocabulary
JSON, model config.json, safetensors) reads thousands of corrupted copies of a good file: bytes
flipped, the file cut short, bytes and tricky tokens (``nan``, ``-inf``, ``1e999``, invalid UTF-8,
brackets) inserted, lines dropped or repeated. A seeded generator makes the same inputs on every run.
The only acceptable outcomes are a :class:`~textkit.errors.TextkitError` (one line for the user) or
a loaded object whose numbers are finite.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from textkit.errors import TextkitError

CASES_PER_LOADER = 1600  # 7.5 loaders' worth: over 10^4 inputs in all
TOKENS = [
    b"nan",
    b"NaN",
    b"-inf",
    b"inf",
    b"1e999",
    b"-1e999",
    b"0",
    b"-0",
    b"1",
    b"-99",
    b"\xff",
    b"\xc3",
    b"\x00",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b",",
    b":",
    b"null",
    b"true",
    b"-",
    b"\\",
    b"\\data\\",
    b"ngram 1=",
    b"\\1-grams:",
    b"\\end\\",
    b"<s>",
    b"</s>",
    b"<unk>",
    b"99999999999999999999",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if kind == 0 and out:  # flip bits of a byte
            at = min(at, len(out) - 1)
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut the file short
            out = out[:at]
        elif kind == 2:  # insert a tricky token
            out[at:at] = rng.choice(TOKENS)
        elif kind == 3:  # insert random bytes
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4 and out:  # delete a span
            del out[at : at + rng.randint(1, 16)]
        elif kind == 5:  # repeat or drop a line
            lines = bytes(out).split(b"\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(i, lines[i])
            else:
                del lines[i]
            out = bytearray(b"\n".join(lines))
        elif kind == 6 and out:  # replace a number-like token
            text = bytes(out).split(b" ")
            i = rng.randrange(len(text))
            text[i] = rng.choice(TOKENS)
            out = bytearray(b" ".join(text))
    return bytes(out)


def fuzz(
    tmp_path: Path,
    name: str,
    good: bytes,
    load,
    check=lambda obj: None,
    seed: int = 0,
    cases: int = CASES_PER_LOADER,
    write=None,
) -> None:
    """Load ``cases`` mutations of ``good``; collect every outcome that is not a TextkitError or a sound object."""
    rng = random.Random(seed)
    path = tmp_path / name
    failures = []
    load(_write(path, good, write))  # the good file loads
    for case in range(cases):
        data = mutate(good, rng)
        _write(path, data, write)
        try:
            check(load(path))
        except TextkitError:
            continue
        except Exception as e:  # noqa: BLE001 - the point of the test
            failures.append((case, f"{type(e).__name__}: {e}"[:300], data[:200]))
    assert not failures, f"{len(failures)} of {cases} inputs crashed {name}'s loader; first: {failures[:3]}"


def _write(path: Path, data: bytes, write) -> Path:
    if write is None:
        path.write_bytes(data)
    else:
        write(path, data)
    return path


def finite(array) -> None:
    assert np.isfinite(np.asarray(array)).all(), "non-finite numbers were loaded"


# ---- vectors -------------------------------------------------------------------------------------
WORDS = ["the", "cat", "sat", "on", "mat", "über", "北京", "dog"]


@pytest.fixture(scope="module")
def vectors():
    return np.random.default_rng(0).normal(size=(len(WORDS), 4)).astype(np.float32)


@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_word2vec_files(tmp_path, vectors, suffix):
    from textkit.embeddings import load_vectors, write_word2vec_format

    good = tmp_path / f"good{suffix}"
    write_word2vec_format(good, WORDS, vectors)
    fuzz(
        tmp_path,
        f"vectors{suffix}",
        good.read_bytes(),
        load_vectors,
        check=lambda kv: finite(kv.vectors),
        seed=1 if suffix == ".bin" else 2,
    )


@pytest.fixture()
def vectors_folder(tmp_path, vectors):
    from textkit.embeddings import KeyedVectorsFolder, keyed_vectors

    folder = tmp_path / "kv"
    KeyedVectorsFolder.save(keyed_vectors(WORDS, vectors, counts=list(range(8, 0, -1))), folder)
    return folder


@pytest.mark.parametrize("name", ["vocab.json", "config.json"])
def test_vectors_folder_json(tmp_path, vectors_folder, name):
    """The JSON files of a word-vectors folder, beside good weights."""
    from textkit.embeddings import load_vectors

    target = vectors_folder / name
    good = target.read_bytes()
    fuzz(
        tmp_path,
        "kv",
        good,
        lambda _: load_vectors(vectors_folder),
        check=lambda kv: finite(kv.vectors),
        seed=3 if name == "vocab.json" else 9,
        write=lambda _, data: target.write_bytes(data),
        cases=CASES_PER_LOADER // 2,
    )


# ---- safetensors ---------------------------------------------------------------------------------
def test_safetensors(tmp_path, vectors, vectors_folder):
    """Weights files, through the one loader every family uses, and inside a word-vectors folder."""
    from textkit.embeddings import load_vectors
    from textkit.io import load_tensors, save_tensors

    save_tensors(tmp_path / "good.safetensors", {"vectors": vectors, "bias": np.arange(3, dtype=np.int64)})
    good = (tmp_path / "good.safetensors").read_bytes()
    fuzz(
        tmp_path, "w.safetensors", good, lambda p: load_tensors(p, framework="np"), seed=4, cases=CASES_PER_LOADER // 2
    )
    weights = vectors_folder / "weights.safetensors"
    good = weights.read_bytes()
    fuzz(
        tmp_path,
        "kv",
        good,
        lambda _: load_vectors(vectors_folder),
        check=lambda kv: finite(kv.vectors),
        seed=5,
        write=lambda _, data: weights.write_bytes(data),
        cases=CASES_PER_LOADER // 2,
    )


# ---- ARPA ----------------------------------------------------------------------------------------
ARPA = b"""\\data\\
ngram 1=6
ngram 2=5

\\1-grams:
-1.2\t<unk>\t-0.3
-99\t<s>\t-0.5
-0.8\t</s>
-0.9\tthe\t-0.2
-1.1\tcat\t-0.25
-1.3\tsat

\\2-grams:
-0.4\t<s> the
-0.6\tthe cat
-0.5\tcat sat
-0.3\tsat </s>
-0.7\tthe </s>

\\end\\
"""


def test_arpa(tmp_path):
    from textkit.lm.arpa import read_arpa

    def check(tables):
        for p in tables.log10_prob:
            assert not np.isnan(p).any() and (p <= 1e-6).all()
        for b in tables.log10_backoff:
            finite(b)

    fuzz(tmp_path, "lm.arpa", ARPA, read_arpa, check=check, seed=6)


def test_gzipped_arpa_and_vectors(tmp_path, vectors):
    """Damage inside a compressed stream (CRC errors, truncated members) is a file error too."""
    import gzip

    from textkit.embeddings import load_vectors, write_word2vec_format
    from textkit.lm.arpa import read_arpa

    fuzz(tmp_path, "lm.arpa.gz", gzip.compress(ARPA, mtime=0), read_arpa, seed=11, cases=CASES_PER_LOADER // 4)
    write_word2vec_format(tmp_path / "v.txt", WORDS, vectors)
    good = gzip.compress((tmp_path / "v.txt").read_bytes(), mtime=0)
    fuzz(
        tmp_path,
        "v.txt.gz",
        good,
        load_vectors,
        check=lambda kv: finite(kv.vectors),
        seed=12,
        cases=CASES_PER_LOADER // 4,
    )


# ---- vocabulary and config JSON -------------------------------------------------------------------
def test_vocab_json(tmp_path):
    from textkit.vocab import Vocab

    good = tmp_path / "good.json"
    Vocab.build([["the", "cat", "sat"], ["the", "mat"]], specials=("<unk>", "<pad>")).save(good)
    fuzz(tmp_path, "vocab.json", good.read_bytes(), Vocab.load, seed=7)


@pytest.fixture(scope="module")
def ngram_folder(tmp_path_factory):
    from textkit.lm.ngram import NgramLM

    folder = tmp_path_factory.mktemp("ngram") / "lm"
    lm = NgramLM(order=2, smoothing="kn", tokenizer="whitespace")
    lm.fit([["the", "cat", "sat"], ["the", "mat"], ["a", "cat"]])
    lm.save(folder)
    return folder


def test_model_config_json(tmp_path, ngram_folder):
    """config.json of a model folder, read by the loader of any language model."""
    import shutil

    from textkit.lm import load_language_model

    folder = tmp_path / "lm"
    shutil.copytree(ngram_folder, folder)
    config = folder / "config.json"
    good = config.read_bytes()
    assert json.loads(good)

    def write(_, data):
        config.write_bytes(data)

    fuzz(tmp_path, "lm", good, load_language_model, seed=8, write=write, cases=CASES_PER_LOADER // 2)


def test_classifier_config_json(tmp_path):
    """config.json of a classifier folder (parameters, labels, tokenizer), beside good weights."""
    from textkit.classify import load_classifier
    from textkit.classify.base import classifier_class

    folder = tmp_path / "clf"
    texts = ["good fine great", "bad awful poor", "great good", "awful bad"] * 3
    classifier_class("fasttext")(epochs=1, embed_dim=4, buckets=100).fit(texts, ["pos", "neg", "pos", "neg"] * 3).save(
        folder
    )
    config = folder / "config.json"
    good = config.read_bytes()
    fuzz(
        tmp_path,
        "clf",
        good,
        lambda _: load_classifier(folder),
        seed=10,
        write=lambda _, data: config.write_bytes(data),
        cases=CASES_PER_LOADER // 8,
    )
