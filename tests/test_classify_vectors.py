"""word2vec vector files (gensim writes them, as the format oracle) and RNN initialisation from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clf_planted import planted
from textkit.classify import make_classifier
from textkit.classify.vectors import read_word2vec
from textkit.errors import EmptyCorpusError, ModelFileError


@pytest.fixture
def keyed_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    words = ["wonderful", "dreadful", "average", "film", "北京"]
    kv.add_vectors(words, np.arange(20, dtype=np.float32).reshape(5, 4) / 10)
    return kv


@pytest.mark.parametrize("binary", [False, True])
def test_reads_gensim_written_files(tmp_path, keyed_vectors, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    keyed_vectors.save_word2vec_format(str(path), binary=binary)
    dim, vectors = read_word2vec(path)
    assert dim == 4 and set(vectors) == set(keyed_vectors.index_to_key)
    for word in vectors:
        np.testing.assert_allclose(vectors[word], keyed_vectors[word], rtol=1e-6)
    dim, some = read_word2vec(path, wanted={"film", "nope"})
    assert list(some) == ["film"]


def test_bad_header_is_a_model_file_error(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ModelFileError, match="COUNT DIM"):
        read_word2vec(p)


def test_truncated_binary(tmp_path, keyed_vectors):
    p = tmp_path / "v.bin"
    keyed_vectors.save_word2vec_format(str(p), binary=True)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="truncated"):
        read_word2vec(p)


@pytest.mark.parametrize("freeze", [True, False])
def test_rnn_starts_from_vectors_frozen_or_tuned(tmp_path, keyed_vectors, freeze):
    path = tmp_path / "v.txt"
    keyed_vectors.save_word2vec_format(str(path))
    texts, labels = planted(40, seed=5)
    model = make_classifier("gru", vectors=str(path), freeze_vectors=freeze, hidden_dim=4, epochs=1, threads=1, progress=False).fit(texts, labels)
    row = model.vocab_["film"]
    assert model.module_.embedding.weight.shape[1] == 4  # the vectors' dimension wins
    same = torch.allclose(model.module_.embedding.weight[row], torch.tensor(keyed_vectors["film"]))
    assert same is freeze


def test_vectors_sharing_no_word(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("1 2\nzzz 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match="none of the training words"):
        make_classifier("rnn", vectors=str(p), epochs=1, threads=1, progress=False).fit(*planted(20, seed=6))
