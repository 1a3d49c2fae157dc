"""The one small interface every textkit classifier shares, and its checkpoint format.

A classifier is configured in ``__init__`` (arguments stored untouched, as in scikit-learn), learns
in :meth:`TextClassifier.fit`, and answers :meth:`~TextClassifier.predict` (labels) and
:meth:`~TextClassifier.predict_proba` (one row of class probabilities per text, columns in the
order of ``labels_``). A trained model is a folder written by :mod:`textkit.artifacts` (kind
``classifier.bow``, ``classifier.fasttext``, ``classifier.rnn`` or ``classifier.ensemble``):
``config.json`` (model name, parameters, labels, tokenizer), ``weights.safetensors`` and, where the
model has one, ``vocab.json``; loading never runs code.

>>> model = make_classifier("fasttext", epochs=5).fit(texts, labels)
>>> model.save("models/reviews"); load_classifier("models/reviews").predict(["great film"])
['pos']
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from textkit.artifacts import CONFIG, VOCAB, load_tokenizer, load_vocab, load_weights, read_config, save_artifact
from textkit.datasets.labelled import sort_labels
from textkit.errors import EmptyCorpusError, ModelFileError, UsageError
from textkit.io import PathLike
from textkit.tokenize import Tokenizer, get_tokenizer


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Base class: subclasses implement ``_check_params``, ``_fit``, ``predict_proba``, ``_state`` and
    ``_restore``.

    It is a scikit-learn estimator: ``get_params(deep=True)``, ``set_params``, ``clone``, ``score``
    (accuracy) and so ``GridSearchCV`` and ``cross_val_score`` work on every classifier. Labels are
    compared as strings, the form in which a classifier keeps them (``labels_``, ``classes_``).
    """

    kind = "?"
    weights_framework = "np"  # how _state's arrays come back to _restore: numpy ("np") or torch ("pt")

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], validation: tuple[Sequence[str], Sequence[str]] | None = None
    ):
        """Learn from ``texts`` and their ``labels`` (strings); ``validation`` (texts, labels) drives
        early stopping where the model has epochs. Returns ``self``."""
        self._check_params()
        texts = check_texts(texts, len(labels))
        self.labels_, y = encode_labels(labels)
        valid = None
        if validation is not None and len(validation[0]):
            index = {label: i for i, label in enumerate(self.labels_)}
            # A validation label the training data never had cannot be predicted; it counts as an error.
            valid = (list(validation[0]), np.array([index.get(str(x), -1) for x in validation[1]], dtype=np.int64))
        self._fit(texts, y, valid)
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The labels in column order of :meth:`predict_proba` (scikit-learn's name for ``labels_``)."""
        return np.asarray(self.labels_, dtype=object)

    def tokenizer_object(self) -> Tokenizer:
        """The tokenizer this classifier reads text with (``tokenizer`` is a spec or a Tokenizer)."""
        return get_tokenizer(self.tokenizer)

    def _check_params(self) -> None:
        """Raise UsageError for a parameter out of range (called by :meth:`fit`, not ``__init__``)."""

    def _fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None) -> None:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)] if len(proba) else []

    def score(self, texts: Sequence[str], labels: Sequence, sample_weight=None) -> float:
        """Accuracy on ``texts`` against ``labels`` (compared as strings)."""
        predicted = np.asarray(self.predict(texts), dtype=object)
        gold = np.asarray([str(x) for x in labels], dtype=object)
        hits = (predicted == gold).astype(float)
        return float(np.average(hits, weights=sample_weight)) if len(hits) else 0.0

    # --- checkpoints -------------------------------------------------------------------------

    def save(self, directory: PathLike, force: bool = False, files=None) -> Path:
        """Write the model folder (see :func:`save_classifier`); an existing folder is replaced only
        with ``force``, and only once the new one is complete. ``files(folder)`` may add files (a
        training report) to the folder before it is put in place, so they land with the model or not at all."""
        if not hasattr(self, "labels_"):
            raise UsageError("cannot save a classifier before fit()")
        return save_classifier(self, directory, force=force, files=files)

    def _state(self) -> tuple[dict, dict]:
        """(arrays for safetensors, extra JSON fields) describing the learned model."""
        raise NotImplementedError

    def _restore(self, tensors: dict, config: dict) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: PathLike, device: str = "cpu") -> TextClassifier:
        """The classifier saved in ``folder`` (any kind; see :func:`load_classifier`)."""
        return load_classifier(folder, device=device)


def validation_scores(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and mean log-loss of predicted ``proba`` on validation labels ``y`` (-1: unseen label).

    Early stopping follows the loss: on small validation sets accuracy plateaus for whole epochs
    while the loss still says whether the model is improving.
    """
    seen = y >= 0
    picked = proba[np.flatnonzero(seen), y[seen]] if seen.any() else np.ones(1)
    return {
        "valid_accuracy": float(np.mean(proba.argmax(1) == y)),
        "valid_loss": float(-np.mean(np.log(np.maximum(picked, 1e-12)))),
    }


def check_texts(texts: Sequence[str], n_labels: int | None = None) -> list[str]:
    """Texts as a list of strings, with a clear error for empty input or a length mismatch."""
    if isinstance(texts, str):
        raise UsageError("texts must be a list of strings, not one string")
    texts = list(texts)
    if n_labels is not None and len(texts) != n_labels:
        raise UsageError(f"{len(texts)} texts but {n_labels} labels")
    if not texts:
        raise EmptyCorpusError("no training examples")
    return texts


def encode_labels(labels: Sequence) -> tuple[list[str], np.ndarray]:
    """Distinct labels (sorted; numerically when all are integers) and each example's index.

    A single class is an error: there is nothing to tell apart.
    """
    labels = [str(x) for x in labels]
    classes = sort_labels(set(labels))
    if len(classes) < 2:
        raise UsageError(f"training data has a single class ({classes[0]!r}); a classifier needs at least two")
    index = {label: i for i, label in enumerate(classes)}
    return classes, np.array([index[x] for x in labels], dtype=np.int64)


_CLASSES = {
    "bow": ("textkit.classify.bow", "BagOfWordsClassifier"),
    "fasttext": ("textkit.classify.fasttext", "FastTextClassifier"),
    "rnn": ("textkit.classify.rnn", "RecurrentClassifier"),
    "lstm": ("textkit.classify.rnn", "RecurrentClassifier"),
    "gru": ("textkit.classify.rnn", "RecurrentClassifier"),
    "ensemble": ("textkit.classify.ensemble", "EnsembleClassifier"),
}


def classifier_class(kind: str) -> type:
    """The class behind a model kind, imported on first use (so ``bow`` never imports numba)."""
    import importlib

    module, name = _CLASSES[kind]
    return getattr(importlib.import_module(module), name)


MODEL_KINDS = ("bow", "fasttext", "rnn", "lstm", "gru", "ensemble")


def make_classifier(kind: str, **params) -> TextClassifier:
    """A fresh classifier of ``kind`` (bow, fasttext, rnn, lstm, gru, ensemble) with keyword parameters.

    >>> make_classifier("lstm", hidden_dim=64, pooling="max")
    """
    if kind not in MODEL_KINDS:
        raise UsageError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    cls = classifier_class(kind)
    if kind in ("rnn", "lstm", "gru"):
        params["cell"] = kind
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise UsageError(f"model {kind} takes no option(s) {', '.join(unknown)}")
    return cls(**params)


def model_params(model: TextClassifier) -> dict:
    """The constructor arguments as JSON: everything but the tokenizer, which saves itself."""
    params = model.get_params(deep=False)
    params.pop("tokenizer", None)
    return params


def artifact_kind(kind: str) -> str:
    """The model-folder kind of a classifier kind: ``lstm`` -> ``classifier.rnn``."""
    return "classifier." + ("rnn" if kind in ("rnn", "lstm", "gru") else kind)


def save_classifier(model: TextClassifier, directory: PathLike, force: bool = False, files=None) -> Path:
    """Write ``model`` as a model folder (:mod:`textkit.artifacts`): config.json holds the model
    name, constructor parameters, labels, tokenizer and ``_state``'s JSON; weights.safetensors the
    arrays; vocab.json the model's :class:`~textkit.vocab.Vocab`, if it has one. A model made of
    other models (an ensemble) writes them as model folders inside this one (``_save_parts``)."""
    tensors, extra = model._state()
    parts = getattr(model, "_save_parts", None)
    if parts is not None:
        extra_files = files

        def files(folder):
            parts(folder)
            if extra_files is not None:
                extra_files(folder)

    config = {"model": model.kind, "params": model_params(model), "labels": list(model.labels_), **extra}
    return save_artifact(
        directory,
        artifact_kind(model.kind),
        config,
        tensors=tensors,
        vocab=getattr(model, "vocab_", None),
        tokenizer=model.tokenizer_object(),
        files=files,
        force=force,
    )


def load_classifier(directory: PathLike, device: str = "cpu") -> TextClassifier:
    """Load a classifier saved by :meth:`TextClassifier.save` (or by textkit 0.1); a folder of
    another kind, or a corrupt one, raises ModelFileError."""
    d = Path(directory)
    config = read_config(d, family="classifier")
    kind = config.get("model", config.get("legacy_kind"))
    if kind not in MODEL_KINDS or artifact_kind(kind) != config["kind"]:
        raise ModelFileError(f"{d / CONFIG}: unknown classifier {kind!r}")
    try:
        params = dict(config["params"])
        lang = params.pop("lang", None)  # textkit 0.1 kept only the tokenizer's name
        tokenizer = load_tokenizer(d, config) if "tokenizer" in config else get_tokenizer(lang or "en")
        cls = classifier_class(kind)
        model = cls(**params, tokenizer=tokenizer)
        model.labels_ = [str(x) for x in config["labels"]]
        if (d / VOCAB).exists():
            model.vocab_ = load_vocab(d)
        tensors = load_weights(d, framework=cls.weights_framework)
        if hasattr(model, "device"):  # where it runs now, not where it was trained
            model.device = device
        model._restore(tensors, config)
        if hasattr(model, "_load_parts"):
            model._load_parts(d, config, device)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelFileError(
            f"{d}: config and weights do not match a {kind} classifier ({type(e).__name__}: {e})"
        ) from None
    return model
