"""textkit: word embeddings and sequence models in one pipeline.

text → tokenizer → Vocab → (features | samplers | word2vec | n-gram) → model → evaluation.
Import the pieces you need: ``textkit.tokenize``, ``textkit.vocab``, ``textkit.features``,
``textkit.sampling``, ``textkit.corpora``, ``textkit.word2vec``, ``textkit.embeddings``,
``textkit.lm``, ``textkit.classify``.
"""

__version__ = "0.1.0"

from textkit.errors import TextkitError  # noqa: E402

__all__ = ["TextkitError", "__version__"]
