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


def load_language_model(path: PathLike, tokenizer=None):
    """Load any saved textkit language model (a model folder), or a bare ARPA file.

    An ARPA file inside a textkit model folder is that model (same tokenizer, same figures); other
    ARPA files split text with ``tokenizer`` (default: whitespace, as KenLM). A model folder has
    its own tokenizer, so ``tokenizer`` only applies to bare ARPA files.

    >>> model = load_language_model("models/wt2-kn5")
    """
    p = Path(path)
    if p.is_file() and (p.suffix == ".arpa" or p.name.endswith(".arpa.gz")):
        if tokenizer is None and _folder_model_file(p):
            return _model_class("ngram").load(p.parent)
        return _model_class("ngram").from_arpa(p, tokenizer="whitespace" if tokenizer is None else tokenizer)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model")
    if tokenizer is not None:
        raise UsageError(f"{p} is a model folder with its own tokenizer; a tokenizer can only be chosen for an ARPA file")
    config_path = p / "config.json" if p.is_dir() else p
    config = read_json(config_path, "model config")
    if not isinstance(config, dict) or config.get("format") != "textkit.lm":
        raise ModelFileError(f"{config_path}: not a textkit language model config")
    kind = config.get("kind")
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{config_path}: unknown model kind {kind!r}")
    return _model_class(kind).load(p if p.is_dir() else p.parent)


def _folder_model_file(path: Path) -> bool:
    """Whether ``path`` is the model file named by the textkit model folder that holds it."""
    config_path = path.parent / "config.json"
    if not config_path.is_file():
        return False
    try:
        config = read_json(config_path, "model config")
    except ModelFileError:
        return False
    return isinstance(config, dict) and config.get("format") == "textkit.lm" and config.get("file") == path.name


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
