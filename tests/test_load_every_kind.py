"""textkit.load: one loader for every kind of model folder (and the bare ARPA / word2vec files),
each through the one registry, each with a wrong-family error that names the family."""

from __future__ import annotations

import numpy as np
import pytest

import textkit
from textkit.artifacts import KINDS, read_config
from textkit.errors import ModelFileError

LINES = [
    f"the {a} {v} the {b} near the {c}"
    for a in ("cat", "dog", "fox", "owl")
    for v in ("saw", "met", "fed")
    for b in ("hen", "cow")
    for c in ("barn", "road", "tree")
]
TEXTS = [f"{w} film, truly {w}" for w in ("good", "great", "fine")] * 8 + [
    f"{w} film, truly {w}" for w in ("bad", "awful", "dull")
] * 8
LABELS = ["pos"] * 24 + ["neg"] * 24


def build_every_kind(tmp_path) -> dict[str, object]:
    from textkit.classify import make_classifier
    from textkit.embeddings import save_vectors
    from textkit.lm.neural import NeuralLM, build_lm_vocab
    from textkit.lm.ngram import NgramLM
    from textkit.lm.train import TrainConfig
    from textkit.tokenize import get_tokenizer
    from textkit.word2vec import Word2Vec

    out: dict[str, object] = {}
    ngram = NgramLM(order=2, smoothing="kn").fit_lines(LINES)
    ngram.save(tmp_path / "ngram")
    out["lm.ngram"] = tmp_path / "ngram"

    tok = get_tokenizer("whitespace")
    neural = NeuralLM(build_lm_vocab(tok.tokenize_lines(LINES)), tok, model="gru", embed_dim=8, hidden_dim=8)
    neural.fit(LINES, config=TrainConfig(epochs=1, batch_size=2, bptt=4, progress=False))
    neural.save(tmp_path / "neural")
    out["lm.neural"] = tmp_path / "neural"

    w2v = Word2Vec([line.split() for line in LINES], vector_size=8, min_count=1, epochs=1, workers=1, seed=1)
    w2v.save(tmp_path / "w2v")
    out["vectors.word2vec"] = tmp_path / "w2v"
    save_vectors(w2v.wv, tmp_path / "keyed")
    out["vectors.keyed"] = tmp_path / "keyed"

    for kind, params in [
        ("bow", {}),
        ("fasttext", {"epochs": 2, "progress": False}),
        ("gru", {"epochs": 1, "embed_dim": 8, "hidden_dim": 8, "progress": False}),
        ("ensemble", {"members": [{"model": "bow"}, {"model": "fasttext", "epochs": 2}]}),
    ]:
        make_classifier(kind, **params).fit(TEXTS, LABELS).save(tmp_path / kind)
        out[f"classifier.{'rnn' if kind == 'gru' else kind}"] = tmp_path / kind
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return build_every_kind(tmp_path_factory.mktemp("kinds"))


def test_every_registered_kind_is_built_here(folders):
    assert set(folders) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_textkit_load_returns_a_working_model_of_each_kind(folders, kind):
    from textkit.protocols import Classifier, LanguageModel, WordVectors

    folder = folders[kind]
    assert read_config(folder)["kind"] == kind
    model = textkit.load(folder)
    family = kind.split(".")[0]
    if family == "lm":
        assert isinstance(model, LanguageModel)
        logprob, predicted, oov = model.score_lines(["the cat saw the hen near the barn"])
        assert np.isfinite(logprob) and logprob < 0 and predicted == 9 and oov == 0
        assert isinstance(model.generate("the cat", length=3, seed=0), str)
    elif family == "classifier":
        assert isinstance(model, Classifier)
        assert set(model.predict(["good film, truly great", "awful film"])) <= {"pos", "neg"}
        assert model.predict_proba(["fine"]).shape == (1, 2)
    else:
        wv = model.wv if kind == "vectors.word2vec" else model
        assert isinstance(wv, WordVectors)
        import gensim

        assert isinstance(wv, gensim.models.KeyedVectors)
        assert wv.most_similar("cat", topn=1)[0][0] in wv.index_to_key


def test_a_model_of_another_family_is_named_in_the_error(folders):
    from textkit.classify import load_classifier
    from textkit.embeddings import load_vectors
    from textkit.lm import load_language_model

    with pytest.raises(ModelFileError, match=r"is a classifier \(bow\), not a language model"):
        load_language_model(folders["classifier.bow"])
    with pytest.raises(ModelFileError, match=r"is a language model \(ngram\), not a classifier"):
        load_classifier(folders["lm.ngram"])
    with pytest.raises(ModelFileError, match=r"is a language model \(neural\), not word vectors"):
        load_vectors(folders["lm.neural"])


def test_bare_files_load_too(folders, tmp_path):
    from textkit.embeddings import save_vectors

    arpa = next(folders["lm.ngram"].glob("model.arpa*"))
    assert textkit.load(arpa).score_lines(["the cat"])[1] == 3
    kv = textkit.load(folders["vectors.keyed"])
    save_vectors(kv, tmp_path / "v.bin")
    assert textkit.load(tmp_path / "v.bin").index_to_key == kv.index_to_key
