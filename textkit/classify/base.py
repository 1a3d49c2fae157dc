"""The one small interface every textkit classifier shares, and its checkpoint format.

A classifier is configured in ``__init__`` (arguments stored untouched, as in scikit-learn), learns
in :meth:`TextClassifier.fit`, and answers :meth:`~TextClassifier.predict` (labels) and
:meth:`~TextClassifier.predict_proba` (one row of class probabilities per text, columns in the
order of ``labels_``). A trained model is a folder: ``config.json`` (kind, parameters, labels,
anything else the model needs as JSON) and ``weights.safetensors``; loading never runs code.

>>> model = make_classifier("fasttext", epochs=5).fit(texts, labels)
>>> model.save("models/reviews"); load_classifier("models/reviews").predict(["great film"])
['pos']
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from textkit.errors import EmptyCorpusError, ModelFileError, UsageError
from textkit.io import PathLike, load_tensors, read_json, save_tensors, write_json

FORMAT = "textkit.classifier"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"


class TextClassifier:
    """Base class: subclasses implement ``_fit``, ``predict_proba``, ``_state`` and ``_restore``."""

    kind = "?"

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as stored (JSON-serialisable)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def fit(self, texts: Sequence[str], labels: Sequence[str], validation: tuple[Sequence[str], Sequence[str]] | None = None):
        """Learn from ``texts`` and their ``labels`` (strings); ``validation`` (texts, labels) drives
        early stopping where the model has epochs. Returns ``self``."""
        texts = check_texts(texts, len(labels))
        self.labels_, y = encode_labels(labels)
        valid = None
        if validation is not None and len(validation[0]):
            index = {label: i for i, label in enumerate(self.labels_)}
            # A validation label the training data never had cannot be predicted; it counts as an error.
            valid = (list(validation[0]), np.array([index.get(str(x), -1) for x in validation[1]], dtype=np.int64))
        self._fit(texts, y, valid)
        return self

    def _fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None) -> None:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)] if len(proba) else []

    # --- checkpoints -------------------------------------------------------------------------

    def save(self, directory: PathLike) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into ``directory`` (created if needed)."""
        if not hasattr(self, "labels_"):
            raise UsageError("cannot save a classifier before fit()")
        d = Path(directory)
        if d.exists() and not d.is_dir():
            raise UsageError(f"{d}: exists and is not a folder")
        tensors, extra = self._state()
        save_tensors(d / WEIGHTS, tensors)
        config = {"format": FORMAT, "version": VERSION, "kind": self.kind, "params": self.get_params(), "labels": self.labels_, **extra}
        write_json(d / CONFIG, config)
        return d

    def _state(self) -> tuple[dict, dict]:
        """(tensors for safetensors, extra JSON fields) describing the learned model."""
        raise NotImplementedError

    def _restore(self, tensors: dict, config: dict) -> None:
        raise NotImplementedError


def validation_scores(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and mean log-loss of predicted ``proba`` on validation labels ``y`` (-1: unseen label).

    Early stopping follows the loss: on small validation sets accuracy plateaus for whole epochs
    while the loss still says whether the model is improving.
    """
    seen = y >= 0
    picked = proba[np.flatnonzero(seen), y[seen]] if seen.any() else np.ones(1)
    return {"valid_accuracy": float(np.mean(proba.argmax(1) == y)), "valid_loss": float(-np.mean(np.log(np.maximum(picked, 1e-12))))}


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
    from textkit.datasets.classification import sort_labels

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
}


def classifier_class(kind: str) -> type:
    """The class behind a model kind, imported on first use (so ``bow`` never imports numba)."""
    import importlib

    module, name = _CLASSES[kind]
    return getattr(importlib.import_module(module), name)


MODEL_KINDS = ("bow", "fasttext", "rnn", "lstm", "gru")


def make_classifier(kind: str, **params) -> TextClassifier:
    """A fresh classifier of ``kind`` (bow, fasttext, rnn, lstm, gru) with keyword parameters.

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


def load_classifier(directory: PathLike, device: str = "cpu") -> TextClassifier:
    """Load a classifier saved by :meth:`TextClassifier.save`; foreign or corrupt folders raise ModelFileError."""
    d = Path(directory)
    if not d.is_dir():
        raise ModelFileError(f"{d}: no such model folder (expected {CONFIG} and {WEIGHTS} inside)")
    config = read_json(d / CONFIG, "classifier config")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{d / CONFIG}: not a textkit classifier (format is not {FORMAT!r})")
    if config.get("version") != VERSION:
        raise ModelFileError(f"{d / CONFIG}: classifier format version {config.get('version')!r}, this textkit reads {VERSION}")
    kind = config.get("kind")
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{d / CONFIG}: unknown model kind {kind!r}")
    try:
        model = classifier_class(kind)(**config["params"])
        model.labels_ = [str(x) for x in config["labels"]]
        tensors = load_tensors(d / WEIGHTS)
        if hasattr(model, "device"):  # where it runs now, not where it was trained
            model.device = device
        model._restore(tensors, config)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{d}: config and weights do not match a {kind} classifier ({type(e).__name__}: {e})") from None
    return model
