"""Every classifier end to end on planted-signal data; the shared interface, checkpoints and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clf_planted import planted

import textkit
from textkit.classify import (
    classification_report,
    cross_validate,
    evaluate,
    load_classifier,
    make_classifier,
    train_classifier,
)
from textkit.datasets.classification import LabelledTexts
from textkit.errors import EmptyCorpusError, ModelFileError, UsageError

SMALL = {
    "bow": {},
    "fasttext": dict(epochs=10, lr=0.5, buckets=1000, threads=2, progress=False),
    "rnn": dict(epochs=5, lr=0.02, embed_dim=12, hidden_dim=12, batch_size=16, threads=1, progress=False),
    "lstm": dict(
        epochs=5, lr=0.02, embed_dim=12, hidden_dim=12, batch_size=16, pooling="mean", threads=1, progress=False
    ),
    "gru": dict(epochs=5, lr=0.02, embed_dim=12, hidden_dim=12, batch_size=16, threads=1, progress=False),
    "ensemble": dict(
        members=[{"model": "bow", "C": 10.0}, {"model": "fasttext", "epochs": 10, "lr": 0.5, "buckets": 1000}]
    ),
}
TRAIN = planted(180, seed=0)
TEST = planted(60, seed=1)


@pytest.fixture(scope="module", params=sorted(SMALL))
def trained(request, tmp_path_factory):
    kind = request.param
    model = make_classifier(kind, **SMALL[kind]).fit(*TRAIN)
    folder = tmp_path_factory.mktemp(kind) / "model"
    model.save(folder)
    return kind, model, folder


def test_learns_the_planted_signal(trained):
    kind, model, _ = trained
    accuracy = evaluate(model, *TEST)["accuracy"]
    assert accuracy >= 0.8, f"{kind}: accuracy {accuracy} on planted data (chance 0.33)"


def test_probabilities_are_distributions_in_label_order(trained):
    _, model, _ = trained
    proba = model.predict_proba(TEST[0][:10])
    assert proba.shape == (10, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert model.labels_ == ["mid", "neg", "pos"]
    assert model.predict(TEST[0][:10]) == [model.labels_[i] for i in proba.argmax(1)]


def test_checkpoint_round_trip_gives_the_same_probabilities(trained):
    kind, model, folder = trained
    files = sorted(p.name for p in folder.iterdir())
    if kind == "ensemble":  # each member is a whole model folder inside
        assert files == ["config.json", "member-0", "member-1", "weights.safetensors"]
        assert load_classifier(folder / "member-1").kind == "fasttext"
    else:
        assert files == ["config.json"] + (["vocab.json"] if kind != "bow" else []) + ["weights.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert (config["format"], config["model"]) == ("textkit", kind)
    assert config["kind"] == ("classifier.rnn" if kind in ("lstm", "gru") else f"classifier.{kind}")
    loaded = textkit.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(TEST[0]), model.predict_proba(TEST[0]), atol=1e-6)


def test_unknown_words_and_empty_text_still_get_a_prediction(trained):
    _, model, _ = trained
    assert len(model.predict(["zzzz qqqq", ""])) == 2


def test_single_class_is_refused():
    with pytest.raises(UsageError, match="single class"):
        make_classifier("bow").fit(["a b", "c d"], ["x", "x"])


def test_no_examples_is_refused():
    with pytest.raises(EmptyCorpusError):
        make_classifier("fasttext", progress=False).fit([], [])


def test_texts_and_labels_must_match():
    with pytest.raises(UsageError, match="2 texts but 1 labels"):
        make_classifier("bow").fit(["a", "b"], ["x"])


def test_min_freq_that_removes_everything():
    with pytest.raises(EmptyCorpusError, match="lower min_freq"):
        make_classifier("fasttext", min_freq=50, progress=False).fit(["a b", "c d"], ["x", "y"])


def test_unknown_model_and_option():
    with pytest.raises(UsageError, match="unknown model"):
        make_classifier("svm")
    with pytest.raises(UsageError, match="no option"):
        make_classifier("bow", hidden_dim=3)


def test_integer_labels_sort_numerically():
    model = make_classifier("bow").fit(["a", "b", "c"] * 4, ["10", "2", "1"] * 4)
    assert model.labels_ == ["1", "2", "10"]


def test_unseen_test_labels_count_as_errors():
    model = make_classifier("bow").fit(*TRAIN)
    texts = TEST[0][:6]
    gold = TEST[1][:5] + ["brand-new"]
    report = evaluate(model, texts, gold)
    assert report["unseen_labels"] == ["brand-new"]
    assert report["labels"][-1] == "brand-new"
    assert report["per_class"]["brand-new"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["accuracy"] <= 5 / 6


def test_report_matches_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    gold = ["a", "b", "b", "c", "a", "c"]
    pred = ["a", "b", "c", "c", "b", "c"]
    report = classification_report(gold, pred, ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert report["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert report["confusion"] == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]
    assert report["n"] == 6


def test_validation_drives_early_stopping_and_is_reported():
    data = LabelledTexts(*planted(120, seed=2))
    model, info = train_classifier(
        "fasttext", data, validation_fraction=0.25, seed=0, epochs=6, lr=0.5, buckets=500, progress=False
    )
    assert info["n_train"] == 90 and info["n_validation"] == 30
    assert 1 <= len(info["history"]) <= 6 and "valid_accuracy" in info["history"][0]
    assert info["validation"]["n"] == 30


def test_cross_validation_reports_every_fold():
    data = LabelledTexts(*planted(60, seed=3))
    cv = cross_validate("bow", data, folds=3)
    assert len(cv["accuracy"]) == 3 and cv["accuracy_mean"] > 0.6


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_bow_penalties(penalty):
    model = make_classifier("bow", penalty=penalty, C=5.0).fit(*TRAIN)
    assert evaluate(model, *TEST)["accuracy"] >= 0.8


@pytest.mark.parametrize("features", ["nb", "tfidf+nb"])
def test_nb_features_on_two_classes_and_round_trip(tmp_path, features):
    texts, labels = planted(150, seed=7)
    two = [(t, y) for t, y in zip(texts, labels) if y != "mid"]
    model = make_classifier("bow", features=features).fit([t for t, _ in two], [y for _, y in two])
    columns = len(model.features_.vocabulary_) * (2 if features == "tfidf+nb" else 1)
    assert model.regression_.coef_.shape == (1, columns)
    test = [(t, y) for t, y in zip(*TEST) if y != "mid"]
    assert evaluate(model, [t for t, _ in test], [y for _, y in test])["accuracy"] >= 0.9
    assert (
        model.nb_ratio_[model.features_.vocabulary_["wonderful"]]
        > 0
        > model.nb_ratio_[model.features_.vocabulary_["dreadful"]]
    )
    model.save(tmp_path / "m")
    np.testing.assert_allclose(load_classifier(tmp_path / "m").predict_proba(TEST[0]), model.predict_proba(TEST[0]))


@pytest.mark.parametrize("features", ["nb", "tfidf+nb"])
def test_nb_features_refuse_three_classes(features):
    with pytest.raises(UsageError, match="two classes"):
        make_classifier("bow", features=features).fit(*TRAIN)


@pytest.mark.parametrize("features", ["binary", "tfidf"])
def test_bow_naive_bayes_equals_scikit_learns_and_round_trips(tmp_path, features):
    """Oracle: scikit-learn's MultinomialNB on scikit-learn's own vectorizer over the same tokens
    (three classes)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB

    from textkit.tokenize import get_tokenizer

    model = make_classifier("bow", classifier="mnb", features=features, alpha=0.5, min_freq=1).fit(*TRAIN)
    assert model.C_ is None and evaluate(model, *TEST)["accuracy"] >= 0.8
    common = dict(tokenizer=get_tokenizer("en").tokenize, lowercase=False, token_pattern=None, ngram_range=(1, 2))
    if features == "binary":
        vectorizer = CountVectorizer(binary=True, **common)
    else:
        vectorizer = TfidfVectorizer(sublinear_tf=True, **common)
    oracle = MultinomialNB(alpha=0.5).fit(vectorizer.fit_transform(TRAIN[0]), TRAIN[1])
    assert list(oracle.classes_) == model.labels_
    expected = oracle.predict_proba(vectorizer.transform(TEST[0]))
    np.testing.assert_allclose(model.predict_proba(TEST[0]), expected, atol=1e-10)
    model.save(tmp_path / "m")
    again = load_classifier(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(TEST[0]), expected, atol=1e-10)
    assert again.get_params()["classifier"] == "mnb"


@pytest.mark.parametrize("options", [dict(features="nb"), dict(features="tfidf+nb"), dict(alpha=0.0)])
def test_bow_naive_bayes_refuses_signed_features_and_no_smoothing(options):
    with pytest.raises(UsageError, match="naive Bayes|alpha"):
        make_classifier("bow", classifier="mnb", **options).fit(*TRAIN)


@pytest.mark.parametrize("C", [1.0, 30.0, 1000.0])
def test_bow_regression_is_the_optimum_not_where_a_solver_stopped(C):
    """Oracle: scikit-learn's liblinear, run to a far tighter tolerance, on the same features (two
    classes, intercept nearly unpenalised)."""
    from sklearn.linear_model import LogisticRegression

    texts, labels = planted(300, seed=3)
    two = [(t, y) for t, y in zip(texts, labels) if y != "mid"]
    model = make_classifier("bow", C=C, min_freq=1).fit([t for t, _ in two], [y for _, y in two])
    X = model._matrix([t for t, _ in two])
    y = np.array([model.labels_.index(label) for _, label in two])
    oracle = LogisticRegression(C=C, solver="liblinear", tol=1e-12, intercept_scaling=1e4, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(model.regression_.coef_, oracle.coef_, atol=1e-3 * max(1.0, np.abs(oracle.coef_).max()))


def test_bow_default_c_is_cross_validated_and_explicit_c_is_kept():
    from sklearn.linear_model import LogisticRegression

    from textkit.classify.bow import C_GRID

    model = make_classifier("bow").fit(*TRAIN)
    assert model.C_ in C_GRID and model.get_params()["C"] is None
    X = model._matrix(TRAIN[0])
    y = np.array([model.labels_.index(label) for label in TRAIN[1]])
    same = LogisticRegression(C=model.C_, solver="newton-cg", tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(model.regression_.coef_, same.coef_, atol=1e-3 * np.abs(same.coef_).max())
    assert make_classifier("bow", C=7.0).fit(*TRAIN).C_ == 7.0
    nb = make_classifier("bow", features="nb", min_freq=1).fit(["good", "fine", "bad", "awful"], ["p", "p", "n", "n"])
    assert nb.C_ == 1.0


def test_bow_default_c_follows_the_data():
    """Oracle: the held-out accuracy of each grid C, computed here with plain scikit-learn on the
    model's own matrix and folds; the model must pick the largest C within one standard error."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from textkit.classify.bow import C_GRID

    rng = np.random.default_rng(0)
    texts, labels = planted(240, seed=4)
    labels = [y if rng.random() > 0.3 else str(rng.choice(["neg", "mid", "pos"])) for y in labels]  # label noise
    model = make_classifier("bow", min_freq=1).fit(texts, labels)
    X = model._matrix(texts)
    y = np.array([model.labels_.index(label) for label in labels])
    correct = np.zeros((len(C_GRID), len(y)))
    for train, held in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        for i, C in enumerate(C_GRID):
            fit = LogisticRegression(C=C, solver="newton-cg", tol=1e-8, max_iter=1000).fit(X[train], y[train])
            correct[i, held] = fit.predict(X[held]) == y[held]
    best = correct.mean(1).argmax()
    ok = [
        i
        for i in range(len(C_GRID))
        if correct[best].mean() - correct[i].mean() <= np.std(correct[best] - correct[i]) / np.sqrt(len(y))
    ]
    assert model.C_ == C_GRID[max(ok)]


def test_ensemble_averages_its_members_and_checks_its_parameters():
    model = make_classifier("ensemble", members=[{"model": "bow", "C": 10.0}, {"model": "bow", "C": 0.1}]).fit(*TRAIN)
    expected = (model.members_[0].predict_proba(TEST[0]) + model.members_[1].predict_proba(TEST[0])) / 2
    np.testing.assert_allclose(model.predict_proba(TEST[0]), expected)
    weighted = make_classifier("ensemble", members=model.members, weights=[3, 1]).fit(*TRAIN)
    np.testing.assert_allclose(weighted.weights_, [0.75, 0.25])
    for bad in ([], [{"model": "svm"}], [{"model": "bow", "tokenizer": "zh"}]):
        with pytest.raises(UsageError, match="member"):
            make_classifier("ensemble", members=bad).fit(*TRAIN)
    with pytest.raises(UsageError, match="weights"):
        make_classifier("ensemble", members=model.members, weights=[1, -1]).fit(*TRAIN)


def test_ensemble_folder_with_a_broken_member_is_a_model_file_error(tmp_path):
    model = make_classifier("ensemble", members=[{"model": "bow", "C": 10.0}, {"model": "bow", "C": 0.1}]).fit(*TRAIN)
    model.save(tmp_path / "m")
    (tmp_path / "m" / "member-1" / "config.json").unlink()
    with pytest.raises(ModelFileError, match="member-1"):
        load_classifier(tmp_path / "m")


def test_l1_gives_sparser_coefficients_than_l2():
    l1 = make_classifier("bow", penalty="l1", C=1.0).fit(*TRAIN)
    l2 = make_classifier("bow", penalty="l2", C=1.0).fit(*TRAIN)
    assert np.count_nonzero(l1.regression_.coef_) < np.count_nonzero(l2.regression_.coef_)


def test_load_refuses_missing_foreign_and_corrupt_folders(tmp_path):
    with pytest.raises(ModelFileError, match="no such model"):
        load_classifier(tmp_path / "absent")
    (tmp_path / "config.json").write_text('{"format": "something.else"}', encoding="utf-8")
    with pytest.raises(ModelFileError, match="not a textkit model"):
        load_classifier(tmp_path)
    model = make_classifier("bow").fit(*TRAIN)
    model.save(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="safetensors"):
        load_classifier(tmp_path / "m")


def test_mismatched_weights_are_a_model_file_error(tmp_path):
    a = make_classifier("fasttext", buckets=100, progress=False).fit(*TRAIN)
    a.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["params"]["embed_dim"] = 7
    (tmp_path / "m" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelFileError, match="do not match"):
        load_classifier(tmp_path / "m")


def test_save_before_fit():
    with pytest.raises(UsageError, match="before fit"):
        make_classifier("bow").save("/tmp/never")


def test_fasttext_validation_report_equals_a_fresh_evaluation():
    """train_classifier reuses the probabilities fastText kept for its best epoch."""
    data = LabelledTexts(*planted(200, seed=3))
    model, info = train_classifier("fasttext", data, validation_fraction=0.25, **SMALL["fasttext"])
    from textkit.datasets.labelled import train_validation_split

    _, valid = train_validation_split(data, 0.25, seed=0)
    fresh = evaluate(model, valid.texts, valid.labels)
    assert info["validation"] == {k: fresh[k] for k in ("accuracy", "macro_f1", "n")}
