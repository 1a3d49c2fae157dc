"""``ensemble``: several classifiers trained on the same data, their class probabilities averaged.

Models that read text differently make different mistakes: TF-IDF word n-grams, NB-weighted
n-grams, character n-grams and fastText's learned embeddings each get some examples right that the
others miss, and the average of their probabilities is right more often than any one of them.
``--autotune`` builds ensembles from the settings it has scored (their held-out probabilities are
already at hand, so scoring a combination costs no training).

A saved ensemble is one model folder: ``config.json`` (the member settings and labels),
``weights.safetensors`` (the averaging weights) and one complete classifier folder per member,
``member-0/``, ``member-1/``, ... Each member folder also loads on its own.

>>> model = EnsembleClassifier(members=[{"model": "bow", "features": "nb", "C": 1.0}, {"model": "fasttext"}])
>>> model.fit(texts, labels).predict(["great film"])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textkit.classify.base import TextClassifier, load_classifier, make_classifier
from textkit.errors import ModelFileError, UsageError
from textkit.tokenize import Tokenizer

DEFAULT_MEMBERS = ({"model": "bow"}, {"model": "fasttext"})
MEMBER_KINDS = ("bow", "fasttext", "rnn", "lstm", "gru")


def member_folder(index: int) -> str:
    return f"member-{index}"


class EnsembleClassifier(TextClassifier):
    """The mean of its members' class probabilities (weighted by ``weights`` if given).

    * ``members`` — one dict per member: ``{"model": kind, **parameters}`` (kinds bow, fasttext,
      rnn, lstm, gru); every member reads text with the ensemble's ``tokenizer``
    * ``weights`` — one non-negative weight per member (default: equal)
    * ``seed`` — passed to every member
    """

    kind = "ensemble"

    def __init__(
        self,
        members: list[dict] | tuple[dict, ...] = DEFAULT_MEMBERS,
        tokenizer: str | Tokenizer = "en",
        weights: list[float] | None = None,
        seed: int = 0,
    ):
        self.members = members
        self.tokenizer = tokenizer
        self.weights = weights
        self.seed = seed

    def _check_params(self) -> None:
        if not isinstance(self.members, (list, tuple)) or not self.members:
            raise UsageError("an ensemble needs at least one member")
        for spec in self.members:
            if not isinstance(spec, dict) or spec.get("model") not in MEMBER_KINDS:
                raise UsageError(f"each ensemble member is a dict with 'model' one of {', '.join(MEMBER_KINDS)}")
            if "tokenizer" in spec:
                raise UsageError("ensemble members share the ensemble's tokenizer; give it to the ensemble")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if w.shape != (len(self.members),) or not np.all(w >= 0) or not w.sum() > 0:
                raise UsageError(f"weights must be {len(self.members)} non-negative numbers, not all zero")

    def _member(self, spec: dict) -> TextClassifier:
        params = {k: v for k, v in spec.items() if k != "model"}
        params.setdefault("seed", self.seed)
        if spec["model"] != "bow":
            params.setdefault("progress", False)
        return make_classifier(spec["model"], tokenizer=self.tokenizer, **params)

    def _fit(self, texts, y, validation) -> None:
        labels = [self.labels_[i] for i in y]
        valid = None
        if validation is not None:
            valid = (validation[0], [self.labels_[i] if i >= 0 else "\0unseen" for i in validation[1]])
        self._set_members([self._member(spec).fit(texts, labels, validation=valid) for spec in self.members])

    def _set_members(self, fitted: list[TextClassifier]) -> None:
        """Take ``fitted`` (one fitted classifier per member spec, in order) as the members."""
        self.members_ = fitted
        w = np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        self.weights_ = w / w.sum()

    def predict_proba(self, texts) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), len(self.labels_)))
        if not texts:
            return out
        for weight, member in zip(self.weights_, self.members_):
            columns = [member.labels_.index(label) for label in self.labels_]
            out += weight * member.predict_proba(texts)[:, columns]
        return out

    # --- checkpoints: the members are whole model folders inside this one -------------------------

    def _state(self) -> tuple[dict, dict]:
        return {"weights": np.asarray(self.weights_, dtype=np.float64)}, {
            "member_folders": [member_folder(i) for i in range(len(self.members_))]
        }

    def _save_parts(self, folder: Path) -> None:
        for i, member in enumerate(self.members_):
            member.save(folder / member_folder(i))

    def _restore(self, tensors: dict, config: dict) -> None:
        self.weights_ = np.asarray(tensors["weights"], dtype=np.float64)
        if len(self.weights_) != len(self.members) or len(config["member_folders"]) != len(self.members):
            raise ValueError(f"{len(self.members)} members but {len(self.weights_)} weights")

    def _load_parts(self, folder: Path, config: dict, device: str) -> None:
        members = []
        for name, spec in zip(config["member_folders"], self.members):
            member = load_classifier(folder / name, device=device)
            if member.kind != ("rnn" if spec["model"] in ("lstm", "gru") else spec["model"]):
                raise ModelFileError(f"{folder / name}: is a {member.kind} classifier, the config says {spec['model']}")
            if sorted(member.labels_) != sorted(self.labels_):
                raise ModelFileError(f"{folder / name}: labels differ from the ensemble's")
            members.append(member)
        self.members_ = members
