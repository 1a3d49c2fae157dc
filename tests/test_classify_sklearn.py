"""Classifiers as scikit-learn estimators (clone, GridSearchCV, get/set_params) and their tokenizers
saved in the model folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clf_planted import planted
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from textkit.artifacts import read_config
from textkit.classify import load_classifier, make_classifier
from textkit.classify.base import MODEL_KINDS, classifier_class
from textkit.errors import UsageError
from textkit.tokenize import ChineseTokenizer, get_tokenizer

TRAIN = planted(150, seed=0)
FAST = dict(epochs=10, lr=0.5, buckets=1000, threads=1, progress=False)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_params_are_stored_untouched_and_round_trip(kind):
    model = make_classifier(kind)
    params = model.get_params(deep=True)
    assert params == model.get_params(deep=False)
    assert params["tokenizer"] == "en"
    model.set_params(seed=3)
    assert model.get_params()["seed"] == 3
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(no_such_option=1)


def test_invalid_parameters_fail_in_fit_not_in_init():
    model = make_classifier("bow", C=-1.0, ngrams=0)  # scikit-learn convention: __init__ only stores
    with pytest.raises(UsageError, match="must be"):
        model.fit(*TRAIN)
    model = make_classifier("fasttext", epochs=0, progress=False)
    with pytest.raises(UsageError, match="epochs must be at least 1"):
        model.fit(*TRAIN)


def test_fitted_attributes_end_in_underscore():
    model = make_classifier("fasttext", **FAST)
    before = set(vars(model))
    model.fit(*TRAIN)
    learned = set(vars(model)) - before
    assert learned and all(name.endswith("_") for name in learned)
    assert list(model.classes_) == model.labels_ == ["mid", "neg", "pos"]


@pytest.mark.parametrize("kind, grid", [("bow", {"C": [0.01, 10.0]}), ("fasttext", {"lr": [0.001, 0.5]})])
def test_grid_search_picks_the_setting_that_learns(kind, grid):
    params = FAST if kind == "fasttext" else {}
    search = GridSearchCV(make_classifier(kind, **params), grid, cv=3).fit(*TRAIN)
    best = list(grid.values())[0][1]
    assert search.best_params_ == {list(grid)[0]: best}
    assert search.best_score_ > 0.6  # chance: 1/3
    assert search.best_estimator_.get_params()[list(grid)[0]] == best


def test_cross_val_score_with_integer_labels():
    texts, labels = TRAIN
    numbers = [{"neg": 0, "mid": 1, "pos": 2}[x] for x in labels]
    scores = cross_val_score(make_classifier("bow"), texts, numbers, cv=3)
    assert scores.mean() > 0.8  # labels are compared as strings on both sides


def test_chinese_tokenizer_config_travels_with_the_model(tmp_path):
    user_dict = tmp_path / "dict.txt"
    user_dict.write_text("南京市长 100 n\n", encoding="utf-8")
    tokenizer = get_tokenizer("zh", mode="search", hmm=False, user_dict=str(user_dict))
    texts = ["南京市长江大桥很好", "这部电影很无聊", "非常好的书", "质量太差了"] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    model = make_classifier("fasttext", tokenizer=tokenizer, **FAST).fit(texts, labels)
    model.save(tmp_path / "m")
    user_dict.unlink()  # the folder must not depend on the user's file
    config = read_config(tmp_path / "m", family="classifier")
    assert config["tokenizer"]["name"] == "zh" and config["tokenizer"]["hmm"] is False
    loaded = load_classifier(tmp_path / "m")
    restored = loaded.tokenizer_object()
    assert isinstance(restored, ChineseTokenizer)
    assert restored.tokenize("南京市长江大桥") == tokenizer.tokenize("南京市长江大桥")
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-6)


def test_textkit_load_and_the_protocol(tmp_path):
    import textkit
    from textkit.protocols import Classifier

    model = make_classifier("bow").fit(*TRAIN)
    model.save(tmp_path / "m")
    loaded = textkit.load(tmp_path / "m")
    assert isinstance(loaded, Classifier) and isinstance(loaded, classifier_class("bow"))
    assert loaded.predict(TRAIN[0][:5]) == model.predict(TRAIN[0][:5])


def test_legacy_folder_still_loads(tmp_path):
    """A textkit 0.1 folder (format textkit.classifier, params with lang) loads."""
    model = make_classifier("bow", tokenizer="whitespace").fit(*TRAIN)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    legacy = {
        "format": "textkit.classifier",
        "version": 1,
        "kind": "bow",
        "labels": config["labels"],
        "params": {**config["params"], "lang": "whitespace"},
        "ngrams": config["ngrams"],
    }
    (tmp_path / "m" / "config.json").write_text(json.dumps(legacy), encoding="utf-8")
    loaded = load_classifier(tmp_path / "m")
    assert loaded.tokenizer_object().spec == "whitespace"
    assert loaded.predict(TRAIN[0][:20]) == model.predict(TRAIN[0][:20])


def test_classifiers_do_not_import_the_dataset_loaders():
    import subprocess
    import sys

    code = (
        "import sys, textkit.classify.bow, textkit.classify.fasttext, textkit.classify.train, "
        "textkit.classify.autotune; "
        "print('textkit.datasets.classification' in sys.modules, 'textkit.datasets.hub' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_autotune_is_reproducible_and_refits_the_best():
    from textkit.classify.autotune import autotune

    texts, labels = TRAIN
    lines: list[str] = []
    runs = [autotune(texts, labels, duration=1e6, max_trials=8, seed=5, threads=1, log=lines.append) for _ in range(2)]
    (model, report), (_, again) = runs
    strip = lambda trials: [{k: v for k, v in t.items() if k != "seconds"} for t in trials]  # noqa: E731
    assert strip(report["trials"]) == strip(again["trials"])
    assert len(report["trials"]) == 8 and report["protocol"].startswith("5-fold")  # 150 examples: small data
    assert {t["kind"] for t in report["trials"]} == {"bow", "fasttext"}
    assert report["best"]["score"] == max(t["score"] for t in report["trials"] if t["score"] is not None)
    assert model.kind == report["best"]["kind"] and model.get_params()["tokenizer"] == "en"
    assert len(model.predict(texts)) == len(texts) and any("trial" in line for line in lines)


def test_autotune_ensemble_pool_averages_settings_that_err_differently():
    from textkit.classify.autotune import EnsemblePool

    classes = ["neg", "pos"]
    gold = ["pos"] * 6 + ["neg"] * 4
    pool = EnsemblePool([gold], classes, "accuracy")

    def proba(p_pos):
        p = np.asarray(p_pos, dtype=float)
        return [np.stack([1 - p, p], axis=1)]

    # Trial 1 misses example 0 narrowly, trial 2 misses example 1 narrowly; each is right, and sure,
    # where the other errs, so their average is right everywhere.
    pool.add(1, proba([0.45, 0.9, 0.8, 0.8, 0.8, 0.8, 0.2, 0.2, 0.2, 0.2]), family=(1,))
    assert pool.best_ensemble() is None  # one trial: nothing to average
    pool.add(2, proba([0.9, 0.45, 0.8, 0.8, 0.8, 0.8, 0.2, 0.2, 0.2, 0.2]), family=(2,))
    assert sorted(pool.best_ensemble()[0]) == [1, 2]  # the whole pool joined
    pool.add(3, proba([0.1] * 10), family=(3,))  # always neg: adds nothing
    members, weights, score = pool.best_ensemble()
    assert sorted(members) == [1, 2] and weights == [1, 1] and score == 1.0 and pool.scores[1] == pool.scores[2] == 0.9


def test_autotune_ensemble_weights_repeat_a_member_when_that_scores_best():
    from textkit.classify.autotune import EnsemblePool

    classes = ["neg", "pos"]
    pool = EnsemblePool([["pos"] * 4 + ["neg"] * 4], classes, "accuracy")

    def proba(p_pos):
        p = np.asarray(p_pos, dtype=float)
        return [np.stack([1 - p, p], axis=1)]

    # A (7/8) is right on examples 0-6, B (5/8) only on 0-3 and 7, where A errs narrowly. The plain
    # mean of A and B errs on examples 4-6, where B is surer than A; A counted twice and B once is
    # right everywhere: the greedy search with repeats finds those weights, a plain average cannot.
    a = [0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.55]
    b = [0.9, 0.9, 0.9, 0.9, 0.95, 0.95, 0.95, 0.05]
    pool.add(1, proba(a), family=("a",))
    pool.add(2, proba(b), family=("b",))
    assert pool.score(proba(a)[0] + proba(b)[0], 0) == 5 / 8
    members, weights, score = pool.best_ensemble()
    assert members == [1, 2] and weights == [2, 1] and score == 1.0


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_autotune_fast_scores_equal_the_classification_report(metric):
    from textkit.classify.autotune import score_indices
    from textkit.classify.metrics import classification_report

    rng = np.random.default_rng(3)
    classes = ["a", "b", "c", "d"]  # "d" is never gold and never predicted: it counts 0 in macro-F1
    for _ in range(20):
        gold, predicted = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
        report = classification_report([classes[i] for i in gold], [classes[i] for i in predicted], classes)
        assert score_indices(gold, predicted, len(classes), metric) == pytest.approx(report[metric], abs=1e-12)


def test_autotune_can_return_an_ensemble_that_saves_and_loads(tmp_path):
    from textkit.classify.autotune import autotune

    texts, labels = planted(400, seed=9)
    rng = np.random.default_rng(1)
    labels = [y if rng.random() > 0.25 else str(rng.choice(["neg", "mid", "pos"])) for y in labels]
    model, report = autotune(texts, labels, duration=1e6, max_trials=14, seed=0, threads=1, log=lambda s: None)
    kinds = [t["kind"] for t in report["trials"]]
    assert report["best"]["score"] == max(t["score"] for t in report["trials"] if t["score"] is not None)
    if "ensemble" in kinds:  # scored from held-out probabilities: its members are earlier trials
        for t in report["trials"]:
            if t["kind"] == "ensemble":
                assert all(m < t["trial"] for m in t["members"]) and len(t["members"]) >= 2
    assert model.kind == report["best"]["kind"]
    model.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_classifier(tmp_path / "m").predict_proba(texts[:20]), model.predict_proba(texts[:20])
    )


def test_autotune_refuses_bad_arguments():
    from textkit.classify.autotune import autotune

    with pytest.raises(UsageError, match="metric"):
        autotune(*TRAIN, metric="auc")
    with pytest.raises(UsageError, match="kinds"):
        autotune(*TRAIN, kinds=["svm"])


def test_a_model_of_another_family_is_refused_by_name(tmp_path):
    from textkit.artifacts import save_artifact
    from textkit.errors import ModelFileError

    save_artifact(tmp_path / "lm", "lm.ngram", {"order": 3})
    with pytest.raises(ModelFileError, match="not a classifier"):
        load_classifier(tmp_path / "lm")


@pytest.mark.parametrize(
    "analyzer, ngrams, features, min_freq",
    [
        ("word", 2, "tfidf", 2),
        ("char", 4, "tfidf", 1),
        ("char", 3, "nb", 1),
        ("word", 3, "tfidf+nb", 3),
        ("word", 2, "binary", 1),
    ],
)
def test_autotune_split_matrices_from_counts_equal_the_models_own(analyzer, ngrams, features, min_freq):
    """A fold's matrices derived from counts over all the texts are the classifier's own features
    fitted on the fold (same values up to column order), so scikit-learn's regression on them gives
    the same probabilities."""
    from textkit.classify.autotune import CountCache
    from textkit.classify.base import encode_labels
    from textkit.classify.bow import BagOfWordsClassifier

    texts, labels = planted(300, seed=4)
    binary = [i for i, label in enumerate(labels) if label != "mid"]  # NB features need two classes
    texts, labels = [texts[i] for i in binary], [labels[i] for i in binary]
    train, held_out = list(range(0, len(texts), 3)) + list(range(1, len(texts), 3)), list(range(2, len(texts), 3))
    tokenizer = get_tokenizer("en")
    params = dict(tokenizer=tokenizer, analyzer=analyzer, ngrams=ngrams, features=features, min_freq=min_freq, C=10.0)
    model = BagOfWordsClassifier(**params)
    X, X_held, y, classes = CountCache(texts, tokenizer).matrices(model, 0, (train, held_out), labels)
    own = BagOfWordsClassifier(**params)
    own.labels_, y_own = encode_labels([labels[i] for i in train])
    R, R_held = own._fit_features([texts[i] for i in train], y_own), own._matrix([texts[i] for i in held_out])
    assert classes == own.labels_ and list(y) == list(y_own) and X.shape == R.shape
    for A, B in ((X, R), (X_held, R_held)):
        np.testing.assert_allclose(np.sort(A.toarray(), axis=1), np.sort(B.toarray(), axis=1), atol=1e-12)
    model.labels_ = classes
    model._fit_regression(X, y)
    own._fit_regression(R, y_own)
    np.testing.assert_allclose(
        model.regression_.predict_proba(X_held), own.regression_.predict_proba(R_held), atol=1e-8
    )


@pytest.mark.parametrize(
    "params",
    [
        dict(analyzer="word", ngrams=2, features="tfidf", min_freq=2, C=10.0),
        dict(analyzer="char", ngrams=3, features="tfidf+nb", min_freq=1, C=1.0),
        dict(analyzer="word", ngrams=3, features="nb", min_freq=1, C=1.0),
        dict(analyzer="word", ngrams=2, features="binary", min_freq=1, classifier="mnb", alpha=0.3),
    ],
)
def test_autotune_refit_from_the_counts_is_the_plain_fit(tmp_path, params):
    """The refit on all the data reads the trials' counts instead of counting again: same probabilities
    as fitting the classifier on the texts, before and after a save and load."""
    from textkit.classify.autotune import CountCache
    from textkit.classify.bow import BagOfWordsClassifier

    texts, labels = planted(240, seed=11)
    binary = [i for i, label in enumerate(labels) if label != "mid"]  # NB features need two classes
    texts, labels = [texts[i] for i in binary], [labels[i] for i in binary]
    new_texts = planted(40, seed=12)[0] + ["", "words never seen anywhere"]
    tokenizer = get_tokenizer("en")
    cache = CountCache(texts, tokenizer)
    refit = cache.fit_all(BagOfWordsClassifier(tokenizer=tokenizer, **params), labels)
    plain = BagOfWordsClassifier(tokenizer=tokenizer, **params).fit(texts, labels)
    assert refit.labels_ == plain.labels_ and refit.features_.vocabulary_.keys() == plain.features_.vocabulary_.keys()
    np.testing.assert_allclose(refit.predict_proba(new_texts), plain.predict_proba(new_texts), atol=1e-8)
    refit.set_params(tokenizer="en")
    refit.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_classifier(tmp_path / "m").predict_proba(new_texts), plain.predict_proba(new_texts), atol=1e-8
    )


def test_autotune_scores_medium_data_on_three_folds():
    from textkit.classify.autotune import autotune

    texts, labels = planted(2100, seed=2)
    model, report = autotune(texts, labels, duration=1e6, max_trials=3, kinds=["bow"], seed=0, log=lambda s: None)
    assert report["protocol"] == "3-fold cross-validation"
    assert all(len(t["split_scores"]) == 3 for t in report["trials"] if t["kind"] == "bow")
    assert report["best"]["score"] == pytest.approx(np.mean(report["best"]["split_scores"]))
    _, split = autotune(texts, labels, duration=1e6, max_trials=1, kinds=["bow"], folds=0, log=lambda s: None)
    assert split["protocol"] == "validation split (0.2)" and "split_scores" not in split["trials"][0]


@pytest.mark.parametrize("duration, stops", [(400.0, True), (1000.0, False)])
def test_autotune_keeps_to_its_budget_when_a_trial_is_slower_than_expected(monkeypatch, duration, stops):
    """On a stand-in clock where the machine slows down after the first trial (a fastText fit takes
    20 s, then 60 s), a trial that runs slower than its estimate stops between splits once the rest
    would not fit, and the search and the refit end within the budget."""
    from textkit.classify import autotune as module
    from textkit.classify.fasttext import FastTextClassifier

    clock, fits = [0.0], [0]
    fit = FastTextClassifier.fit

    def timed_fit(self, *args, **kwargs):
        fits[0] += 1
        clock[0] += 20.0 if fits[0] <= 5 else 60.0
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(module, "_clock", lambda: clock[0])
    monkeypatch.setattr(FastTextClassifier, "fit", timed_fit)
    monkeypatch.setattr(module, "RACE_MARGIN", 1.0)  # no trial stops for its score
    model, report = module.autotune(*TRAIN, kinds=["fasttext"], duration=duration, seed=0, threads=1, log=print)
    assert report["total_seconds"] <= duration
    # 400 s: the first trial (5 folds) takes 100 s; the second (30 epochs, dim 10, trigrams: 900 units
    # against the first's 400) is expected to take 225 s, and with the refit (30 s) it starts; after its
    # first split (at 160 s) four more (240 s) and the refit would end past the budget.
    assert bool([t for t in report["trials"] if t.get("stopped") == "out of time"]) == stops


def test_autotune_stops_a_trial_far_behind_on_the_first_fold(monkeypatch):
    from textkit.classify import autotune as module

    monkeypatch.setattr(module, "RACE_MARGIN", -1.0)  # every trial after the first counts as far behind
    lines: list[str] = []
    model, report = module.autotune(*TRAIN, duration=1e6, max_trials=4, seed=0, threads=1, log=lines.append)
    first, *rest = report["trials"]
    assert first["score"] is not None and len(first["split_scores"]) == 5
    assert all(t["score"] is None and len(t["split_scores"]) == 1 and "stopped" in t for t in rest)
    assert report["best"]["trial"] == 1 and model.kind == first["kind"]
    assert sum("stopped" in line for line in lines) == 3
