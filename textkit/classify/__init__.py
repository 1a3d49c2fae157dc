"""Text classifiers: ``bow`` (TF-IDF + logistic regression), ``fasttext``, and ``rnn``/``lstm``/``gru``.

All share one interface (:class:`~textkit.classify.base.TextClassifier`: fit / predict /
predict_proba / save / load) and one checkpoint format (config.json + weights.safetensors).

>>> from textkit.classify import make_classifier, load_classifier, evaluate
>>> model = make_classifier("fasttext", ngrams=2).fit(train.texts, train.labels)
>>> evaluate(model, test.texts, test.labels)["accuracy"]
"""

from textkit.classify.base import MODEL_KINDS, TextClassifier, load_classifier, make_classifier
from textkit.classify.metrics import classification_report, evaluate, format_report, plot_confusion
from textkit.classify.train import cross_validate, train_classifier

__all__ = [
    "MODEL_KINDS",
    "TextClassifier",
    "classification_report",
    "cross_validate",
    "evaluate",
    "format_report",
    "load_classifier",
    "make_classifier",
    "plot_confusion",
    "train_classifier",
]
