"""Recurrent classifiers initialised from word vectors (gensim writes the word2vec files)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clf_planted import planted

from textkit.classify import make_classifier
from textkit.errors import EmptyCorpusError


@pytest.fixture
def keyed_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    words = ["wonderful", "dreadful", "average", "film", "北京"]
    kv.add_vectors(words, np.arange(20, dtype=np.float32).reshape(5, 4) / 10)
    return kv


@pytest.mark.parametrize("freeze, binary", [(True, False), (False, True)])
def test_rnn_starts_from_vectors_frozen_or_tuned(tmp_path, keyed_vectors, freeze, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    keyed_vectors.save_word2vec_format(str(path), binary=binary)
    texts, labels = planted(40, seed=5)
    model = make_classifier(
        "gru", vectors=str(path), freeze_vectors=freeze, hidden_dim=4, epochs=1, threads=1, progress=False
    ).fit(texts, labels)
    row = model.vocab_["film"]
    assert model.module_.embedding.weight.shape[1] == 4  # the vectors' dimension wins
    same = torch.allclose(model.module_.embedding.weight[row], torch.tensor(keyed_vectors["film"]))
    assert same is freeze


def test_vectors_sharing_no_word(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("1 2\nzzz 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match="none of the training words"):
        make_classifier("rnn", vectors=str(p), epochs=1, threads=1, progress=False).fit(*planted(20, seed=6))
