"""Language models: n-gram (``textkit.lm.ngram``) and RNN/LSTM/GRU (``textkit.lm.neural``).

Every language model class provides the same small interface, so that ``textkit eval-ppl`` and
``textkit generate`` have one code path for all of them:

* ``save(directory)`` writes ``directory/config.json`` with ``{"format": "textkit.lm", "version": 1,
  "kind": KIND, ...}`` plus its own files; ``load(directory)`` (a classmethod) reads them back.
* ``score_lines(lines) -> (logprob_nats, predicted_tokens, oov_tokens)`` tokenizes with the model's
  own tokenizer and scores under the boundary convention of :mod:`textkit.lm.perplexity`.
* ``generate(prefix, length, temperature=1.0, top_k=None, seed=None) -> str``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from textkit.errors import ModelFileError, UsageError
from textkit.io import PathLike, read_json

# kind in config.json -> (module, class)
MODEL_KINDS = {
    "ngram": ("textkit.lm.ngram", "NgramLM"),
    "rnn": ("textkit.lm.neural", "NeuralLM"),
}


def load_language_model(path: PathLike):
    """Load any saved textkit language model (a model folder), or a bare ARPA file.

    >>> model = load_language_model("models/wt2-kn5")
    """
    p = Path(path)
    if p.is_file() and (p.suffix == ".arpa" or p.name.endswith(".arpa.gz")):
        return _model_class("ngram").load(p)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model")
    config_path = p / "config.json" if p.is_dir() else p
    config = read_json(config_path, "model config")
    if not isinstance(config, dict) or config.get("format") != "textkit.lm":
        raise ModelFileError(f"{config_path}: not a textkit language model config")
    kind = config.get("kind")
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{config_path}: unknown model kind {kind!r}")
    return _model_class(kind).load(p if p.is_dir() else p.parent)


def check_generation_options(length: int, temperature: float, top_k: int | None) -> None:
    """Validate ``generate`` arguments the same way for every model family."""
    if length < 0:
        raise UsageError(f"length must be non-negative, not {length}")
    if not temperature > 0:
        raise UsageError(f"temperature must be positive, not {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be at least 1, not {top_k}")


def _model_class(kind: str):
    module, name = MODEL_KINDS[kind]
    return getattr(importlib.import_module(module), name)


def evaluate(model, lines):
    """Perplexity of ``model`` on ``lines`` (an iterable of text lines): a PerplexityResult."""
    from textkit.lm.perplexity import perplexity_from_logprob

    return perplexity_from_logprob(*model.score_lines(lines))
