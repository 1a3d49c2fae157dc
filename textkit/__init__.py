"""textkit: word embeddings and sequence models in one pipeline.

text → tokenizer → Vocab → (features | samplers | word2vec | n-gram) → model → evaluation.
Import the pieces you need: ``textkit.tokenize``, ``textkit.vocab``, ``textkit.features``,
``textkit.sampling``, ``textkit.corpora``, ``textkit.word2vec``, ``textkit.embeddings``,
``textkit.lm``, ``textkit.classify``.
"""

__version__ = "0.1.0"

from textkit.errors import TextkitError  # noqa: E402


def load(path, **options):
    """Load any saved textkit model (a model folder of any kind, an ARPA file or a word2vec file).

    >>> lm = textkit.load("models/kn3")            # an NgramLM
    >>> clf = textkit.load("models/reviews_ft")    # a FastTextClassifier
    """
    from textkit.artifacts import load as load_artifact

    return load_artifact(path, **options)


__all__ = ["TextkitError", "__version__", "load"]
