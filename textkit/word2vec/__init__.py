"""word2vec from scratch: skip-gram and CBOW, negative sampling and hierarchical softmax.

>>> from textkit.word2vec import Word2Vec
>>> model = Word2Vec(corpus_file="corpus.txt", vector_size=100, sg=1)  # doctest: +SKIP
>>> model.wv.most_similar("france")  # doctest: +SKIP
"""

from textkit.word2vec.model import LineCorpus, TrainingDivergedError, TrainingReport, Word2Vec

__all__ = ["LineCorpus", "TrainingDivergedError", "TrainingReport", "Word2Vec"]
