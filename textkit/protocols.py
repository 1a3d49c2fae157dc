"""What each kind of model offers, as small protocols rather than a class tree.

Any object with these methods works wherever textkit expects that kind of model (``eval-ppl`` and
``generate`` take any :class:`LanguageModel`, ``eval-clf`` and ``predict`` any :class:`Classifier`).
A model that can be saved also offers ``save(folder, force=False)`` and a ``load(folder)`` class
method, registered in :data:`textkit.artifacts.KINDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class LanguageModel(Protocol):
    """A model of text that scores lines and samples continuations."""

    def score_lines(self, lines: Iterable[str]) -> tuple[float, int, int]:
        """Tokenize each line with the model's tokenizer and score it: (total log-probability in
        nats, tokens predicted, of which out of vocabulary), under the boundary convention of
        :mod:`textkit.lm.perplexity`."""
        ...

    def generate(
        self, prefix: str, length: int, temperature: float = 1.0, top_k: int | None = None, seed: int | None = None
    ) -> str:
        """Continue ``prefix`` by up to ``length`` tokens."""
        ...


@runtime_checkable
class Classifier(Protocol):
    """A text classifier with scikit-learn's estimator methods."""

    def fit(self, texts: Sequence[str], labels: Sequence[Any]) -> Classifier: ...

    def predict(self, texts: Sequence[str]) -> list: ...

    def predict_proba(self, texts: Sequence[str]) -> Any: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def set_params(self, **params: Any) -> Classifier: ...


@runtime_checkable
class WordVectors(Protocol):
    """Word vectors: gensim's ``KeyedVectors`` interface (``index_to_key``, ``vectors``,
    ``most_similar``, ...); trained models expose one as ``.wv``."""

    index_to_key: list[str]

    def most_similar(self, *args: Any, **kwargs: Any) -> list[tuple[str, float]]: ...

    def get_vector(self, key: str, norm: bool = False) -> Any: ...
