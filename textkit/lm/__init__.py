"""Language models: n-gram (``textkit.lm.ngram``) and RNN/LSTM/GRU (``textkit.lm.neural``).

Every language model class provides the same small interface, so that ``textkit eval-ppl`` and
``textkit generate`` have one code path for all of them:

* ``save(folder, force=False)`` writes a model folder (:mod:`textkit.artifacts`, kind ``lm.*``);
  ``load(folder)`` (a classmethod) reads it back.
* ``score_lines(lines) -> (logprob_nats, predicted_tokens, oov_tokens)`` tokenizes with the model's
  own tokenizer and scores under the boundary convention of :mod:`textkit.lm.perplexity`.
* ``generate(prefix, length, temperature=1.0, top_k=None, seed=None) -> str``.
"""

from __future__ import annotations

from pathlib import Path

from textkit.errors import ModelFileError, UsageError
from textkit.io import PathLike


def load_language_model(path: PathLike, tokenizer=None):
    """Load any saved textkit language model (a model folder), or a bare ARPA file: through the
    one kind registry, :func:`textkit.artifacts.load`; another family's folder is a clear error.

    An ARPA file inside a textkit model folder is that model (same tokenizer, same figures); other
    ARPA files split text with ``tokenizer`` (default: whitespace, as KenLM). A model folder has
    its own tokenizer, so ``tokenizer`` only applies to bare ARPA files.

    >>> model = load_language_model("models/wt2-kn5")
    """
    from textkit.artifacts import load, read_config

    p = Path(path)
    if p.is_dir():
        read_config(p, family="lm")
        if tokenizer is not None:
            raise UsageError(f"{p} is a model folder with its own tokenizer; only an ARPA file takes a tokenizer")
        return load(p)
    if p.exists() and not p.name.lower().endswith((".arpa", ".arpa.gz")):
        raise ModelFileError(f"{p}: not a language model folder or ARPA file")
    if tokenizer is None and _folder_model_file(p):
        return load(p.parent)
    if tokenizer is None or not p.exists():
        return load(p)
    from textkit.lm.ngram import NgramLM

    return NgramLM.from_arpa(p, tokenizer=tokenizer)


def _folder_model_file(path: Path) -> bool:
    """Whether ``path`` is the model file named by the textkit model folder that holds it."""
    from textkit.artifacts import read_config

    if not (path.parent / "config.json").is_file():
        return False
    try:
        config = read_config(path.parent, family="lm")
    except ModelFileError:
        return False
    return config.get("file") == path.name


def check_generation_options(length: int, temperature: float, top_k: int | None) -> None:
    """Validate ``generate`` arguments the same way for every model family."""
    if length < 0:
        raise UsageError(f"length must be non-negative, not {length}")
    if not temperature > 0:
        raise UsageError(f"temperature must be positive, not {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be at least 1, not {top_k}")


def evaluate(model, lines):
    """Perplexity of ``model`` on ``lines`` (an iterable of text lines): a PerplexityResult."""
    from textkit.lm.perplexity import perplexity_from_logprob

    return perplexity_from_logprob(*model.score_lines(lines))
