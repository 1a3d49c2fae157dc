"""Word2Vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax.

The corpus streams: one pass counts words; the first epoch reads it again and cuts it into chunks
of about ``batch_words`` vocabulary ids (spooled to a temporary file that later epochs replay) and
hands them to ``workers`` threads that run the compiled kernel (:mod:`textkit.word2vec.kernels`)
without the GIL. Parameter names follow gensim.

>>> model = Word2Vec([["the", "cat", "sat"], ["the", "dog", "sat"]] * 50, vector_size=16, min_count=1)
>>> model.wv.most_similar("cat", topn=2)  # doctest: +SKIP
"""

from __future__ import annotations

import collections.abc
import contextlib
import os
import queue
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from itertools import chain, repeat
from typing import Iterable, Iterator, Sequence

import numpy as np

from textkit.embeddings import KeyedVectors
from textkit.errors import EmptyCorpusError, UsageError
from textkit.io import PathLike, check_readable, iter_lines
from textkit.word2vec import kernels
from textkit.word2vec.tables import count_words, huffman_tree, keep_probabilities, negative_sampler

MAX_SENTENCE_WORDS = 10_000  # longer lines are cut into pieces this long, as gensim does


class LineCorpus:
    """A text file read as whitespace-separated tokens, one sentence per line (re-iterable).

    >>> corpus = LineCorpus("corpus.txt")  # doctest: +SKIP
    """

    def __init__(self, path: PathLike, errors: str = "strict"):
        self.path = check_readable(path)
        self.errors = errors

    def __iter__(self) -> Iterator[list[str]]:
        for line in iter_lines(self.path, errors=self.errors):
            tokens = line.split()
            for i in range(0, len(tokens), MAX_SENTENCE_WORDS):
                yield tokens[i : i + MAX_SENTENCE_WORDS]


@contextlib.contextmanager
def pretokenized(source: PathLike, tokenizer, errors: str = "strict") -> Iterator[LineCorpus]:
    """Tokenize a corpus once into a temporary file and yield it as a :class:`LineCorpus`.

    Training reads the corpus twice (count, first epoch); this pays for tokenization (slow for
    Chinese) once, and keeps memory flat. The temporary file is removed afterwards.

    >>> with pretokenized("wiki", get_tokenizer("en")) as corpus:  # doctest: +SKIP
    ...     model = Word2Vec(corpus)
    """
    from textkit.corpora import TokenizedCorpus, cache_dir

    from textkit.io import signals_deferred

    folder = cache_dir() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    name = None
    try:
        with signals_deferred():  # a Ctrl-C between making the file and naming it would orphan it
            fd, name = tempfile.mkstemp(prefix="w2v-tokens-", suffix=".txt", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for tokens in TokenizedCorpus(source, tokenizer, errors=errors):
                out.write(" ".join(tokens) + "\n")
        yield LineCorpus(name)
    finally:
        if name is not None:
            with contextlib.suppress(OSError):
                os.unlink(name)


@dataclass
class TrainingReport:
    """What one :meth:`Word2Vec.train` call did; ``epoch_loss[e]`` sums ``-log σ`` over epoch e."""

    epochs: int
    words: int  # raw corpus words read, all epochs (the words/s numerator, as gensim reports)
    words_trained: int  # words left after min_count and subsampling
    examples: int  # (input, target) training examples
    train_seconds: float
    words_per_sec: float
    epoch_loss: list[float] = field(default_factory=list)
    epoch_mean_loss: list[float] = field(default_factory=list)  # per example: comparable across corpora

    def to_dict(self) -> dict:
        return asdict(self)


class Word2Vec:
    """Train word vectors; the result is ``model.wv``, a :class:`~textkit.embeddings.KeyedVectors`.

    ``sentences`` is a re-iterable of token lists and ``corpus_file`` a text file of
    whitespace-separated tokens. Neither is held in memory: one pass counts words, the first epoch
    reads the corpus again and spools its vocabulary ids to a temporary file (4 bytes a word) that
    later epochs replay. Given either, the model trains at once; otherwise call
    :meth:`build_vocab` and :meth:`train`.
    ``sg=1`` is skip-gram (default CBOW); ``hs=1`` adds hierarchical softmax; ``negative=K`` uses K
    negative samples (0 turns it off). ``workers=1`` with a fixed ``seed`` is reproducible.
    ``compute_loss`` (on by default, unlike gensim; it costs a few percent) fills
    ``report.epoch_loss``: the sum of ``-log σ`` over every positive and negative unit of an epoch.
    ``progress=None`` draws a tqdm bar on stderr only when it is a terminal.

    >>> model = Word2Vec(corpus_file="corpus.txt", vector_size=100, sg=1, epochs=5)  # doctest: +SKIP
    >>> model.wv.most_similar("king")  # doctest: +SKIP
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        vector_size: int = 100,
        alpha: float = 0.025,
        window: int = 5,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        sample: float = 1e-3,
        seed: int = 1,
        workers: int = 3,
        min_alpha: float = 0.0001,
        sg: int = 0,
        hs: int = 0,
        negative: int = 5,
        ns_exponent: float = 0.75,
        epochs: int = 5,
        batch_words: int = 10_000,
        compute_loss: bool = True,
        progress: bool | None = None,
    ):
        self.vector_size, self.alpha, self.window, self.min_count = vector_size, alpha, window, min_count
        self.max_vocab_size, self.sample, self.seed, self.workers = max_vocab_size, sample, seed, workers
        self.min_alpha, self.sg, self.hs, self.negative = min_alpha, int(bool(sg)), int(bool(hs)), negative
        self.ns_exponent, self.epochs, self.batch_words = ns_exponent, epochs, batch_words
        self.compute_loss, self.progress = compute_loss, progress
        self._check_parameters()
        self.wv: KeyedVectors | None = None
        self.report: TrainingReport | None = None
        self.corpus_total_words = 0
        if sentences is not None and corpus_file is not None:
            raise UsageError("give either sentences or corpus_file, not both")
        corpus = LineCorpus(corpus_file) if corpus_file is not None else sentences
        if corpus is not None:
            self.build_vocab(corpus)
            self.train(corpus)

    def _check_parameters(self) -> None:
        checks = [
            (self.vector_size >= 1, "vector_size must be at least 1"),
            (self.window >= 1, "window must be at least 1"),
            (self.min_count >= 1, "min_count must be at least 1"),
            (self.workers >= 1, "workers must be at least 1"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.negative >= 0, "negative must be 0 (off) or a positive number of samples"),
            (self.hs or self.negative > 0, "choose hierarchical softmax (hs=1) or negative sampling (negative>0)"),
            (self.alpha > 0 and self.min_alpha >= 0, "alpha must be positive and min_alpha non-negative"),
            (self.sample >= 0, "sample must be non-negative (0 disables subsampling)"),
            (self.max_vocab_size is None or self.max_vocab_size >= 1, "max_vocab_size must be at least 1"),
            (self.batch_words >= 1, "batch_words must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)

    # ---- vocabulary -------------------------------------------------------------------------
    def build_vocab(self, corpus: Iterable[Sequence[str]]) -> None:
        """Count the corpus (one pass) and set up the vocabulary, tables and initial weights."""
        _check_reiterable(corpus)
        counts, total = count_words(corpus, self.max_vocab_size)
        if total == 0:
            raise EmptyCorpusError("the corpus has no words (is it empty?)")
        kept = sorted(((w, c) for w, c in counts.items() if c >= self.min_count), key=lambda wc: -wc[1])
        if not kept:
            raise EmptyCorpusError(
                f"no word occurs at least min_count={self.min_count} times "
                f"(the most frequent occurs {max(counts.values())} times); lower min_count"
            )
        words = [w for w, _ in kept]
        freq = np.array([c for _, c in kept], dtype=np.int64)
        self.corpus_total_words = total
        self.wv = KeyedVectors(words, self._initial_vectors(len(words)), counts=freq)
        self._keep_prob = keep_probabilities(freq, self.sample)
        self._set_up_output_layers(freq)

    def _set_up_output_layers(self, freq: np.ndarray) -> None:
        """Negative-sampling tables and ``syn1neg``; Huffman paths and ``syn1`` (zeros, as word2vec).

        A disabled method gets 1-row placeholders so the kernel always sees arrays of one type.
        """
        n = len(freq)
        if self.negative:
            self._neg_accept, self._neg_alias = negative_sampler(freq, self.ns_exponent)
        else:
            self._neg_accept, self._neg_alias = np.ones(1, np.float32), np.zeros(1, np.int32)
        if self.hs and n > 1:
            self._codes, self._points, self._lengths = huffman_tree(freq)
        else:  # a one-word vocabulary has nothing to tell apart
            self._codes, self._points, self._lengths = np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int32), np.zeros(n, np.int32)
        self._syn1 = np.zeros((n if self.hs else 1, self.vector_size), dtype=np.float32)
        self._syn1neg = np.zeros((n if self.negative else 1, self.vector_size), dtype=np.float32)

    def _initial_vectors(self, n: int) -> np.ndarray:
        """Uniform in ±1/vector_size (gensim 4; the C tool ±0.5/vector_size): small, so updates dominate."""
        rng = np.random.default_rng(self.seed)
        return ((rng.random((n, self.vector_size), dtype=np.float32) * 2 - 1) / self.vector_size).astype(np.float32)

    # ---- training ---------------------------------------------------------------------------
    def train(self, corpus: Iterable[Sequence[str]] | None = None, corpus_file: PathLike | None = None) -> TrainingReport:
        """Run ``epochs`` passes over the corpus; return (and keep in ``self.report``) the figures."""
        if self.wv is None:
            raise UsageError("call build_vocab(corpus) before train(corpus)")
        corpus = LineCorpus(corpus_file) if corpus_file is not None else corpus
        if corpus is None:
            raise UsageError("train() needs the corpus again (sentences or corpus_file)")
        _check_reiterable(corpus)
        total_words = self.corpus_total_words * self.epochs
        stats = _Stats(self.epochs)
        jobs: queue.Queue = queue.Queue(maxsize=2 * self.workers)
        bar = _progress_bar(total_words, self.progress)
        threads = [threading.Thread(target=self._worker, args=(jobs, stats, bar), daemon=True) for _ in range(self.workers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        try:
            self._produce_jobs(corpus, jobs, total_words, stats)
        finally:
            for _ in threads:
                jobs.put(None)
            for t in threads:
                t.join()
            bar.close()
        if stats.error is not None:
            raise stats.error
        seconds = time.perf_counter() - start
        self.report = TrainingReport(
            epochs=self.epochs,
            words=stats.words,
            words_trained=stats.trained,
            examples=int(stats.examples.sum()),
            train_seconds=seconds,
            words_per_sec=stats.words / max(seconds, 1e-9),
            epoch_loss=[float(x) for x in stats.loss],
            epoch_mean_loss=[float(l / max(e, 1)) for l, e in zip(stats.loss, stats.examples)],
        )
        self.wv.clear_cache()
        return self.report

    def _produce_jobs(self, corpus, jobs: queue.Queue, total_words: int, stats: "_Stats") -> None:
        """Cut each epoch into chunks of ids, each with its slice of the learning-rate schedule.

        The first epoch reads the corpus and looks words up; it also spools the ids to a temporary
        file (4 bytes a word) that later epochs replay, so they cost no Python work per word and
        memory stays flat whatever the corpus size.
        """
        lookup = self.wv.key_to_index.get
        done = 0  # raw words queued so far, all epochs: drives the linear learning-rate decay
        job_index = 0
        with _IdSpool() as spool:
            for epoch in range(self.epochs):
                chunks = _chunks(corpus, lookup, self.batch_words) if epoch == 0 else spool.replay()
                for ids, ends, n_words in chunks:
                    if stats.error is not None:
                        return
                    if epoch == 0 and self.epochs > 1:
                        spool.append(ids, ends, n_words)
                    alpha_start = self._alpha_at(done / max(total_words, 1))
                    done += n_words
                    alpha_end = self._alpha_at(done / max(total_words, 1))
                    jobs.put((epoch, ids, ends, n_words, alpha_start, alpha_end, (self.seed * 1_000_003 + job_index) % 2**63))
                    job_index += 1

    def _alpha_at(self, progress: float) -> float:
        return self.alpha - (self.alpha - self.min_alpha) * min(progress, 1.0)

    def _worker(self, jobs: queue.Queue, stats: "_Stats", bar) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            epoch, ids, ends, n_words, alpha_start, alpha_end, seed = job
            if stats.error is not None:
                continue
            try:
                loss, examples, trained = kernels.train_chunk(
                    self.wv.vectors, self._syn1, self._syn1neg, ids, ends, self._keep_prob, self._neg_accept, self._neg_alias,
                    self._codes, self._points, self._lengths, self.sg, self.hs, self.negative, self.window,
                    alpha_start, alpha_end, seed, self.compute_loss,
                )
            except BaseException as e:  # surface a kernel failure in the caller's thread
                stats.error = e
                continue
            stats.add(epoch, loss, examples, trained, n_words)
            bar.update(n_words)


def _chunks(corpus, lookup, batch_words: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Yield ``(ids, sentence_ends, raw_words)`` chunks of about ``batch_words`` words."""
    pieces: list[Sequence[str]] = []
    n_words = 0
    for sentence in corpus:
        if isinstance(sentence, str):
            raise UsageError("sentences must be lists of tokens, got a string; split it first (e.g. line.split())")
        if len(sentence) <= MAX_SENTENCE_WORDS:
            pieces.append(sentence)
        else:
            pieces.extend(sentence[i : i + MAX_SENTENCE_WORDS] for i in range(0, len(sentence), MAX_SENTENCE_WORDS))
        n_words += len(sentence)
        if n_words >= batch_words:
            yield _encode(pieces, lookup, n_words)
            pieces, n_words = [], 0
    if n_words:
        yield _encode(pieces, lookup, n_words)


def _encode(pieces: list[Sequence[str]], lookup, n_words: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Vocabulary ids of all words (-1 when unknown) and where each sentence ends."""
    ids = np.fromiter(map(lookup, chain.from_iterable(pieces), repeat(-1)), dtype=np.int32, count=n_words)
    ends = np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)))
    return ids, ends, n_words


class _IdSpool:
    """Chunks of vocabulary ids written to a temporary file once and read back every later epoch."""

    def __enter__(self) -> "_IdSpool":
        self._file = tempfile.TemporaryFile(prefix="textkit-w2v-ids-")
        self._index: list[tuple[int, int, int, int]] = []  # (offset, n_ids, n_sentences, raw words)
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def append(self, ids: np.ndarray, ends: np.ndarray, n_words: int) -> None:
        self._file.seek(0, os.SEEK_END)
        self._index.append((self._file.tell(), len(ids), len(ends), n_words))
        self._file.write(ids.tobytes())
        self._file.write(ends.tobytes())

    def replay(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        for offset, n_ids, n_sentences, n_words in self._index:
            self._file.seek(offset)
            ids = np.frombuffer(bytearray(self._file.read(4 * n_ids)), dtype=np.int32)  # writable: one kernel type
            ends = np.frombuffer(bytearray(self._file.read(8 * n_sentences)), dtype=np.int64)
            yield ids, ends, n_words


def _check_reiterable(corpus) -> None:
    if isinstance(corpus, collections.abc.Iterator):
        raise UsageError(
            "the corpus is a one-shot iterator (e.g. a generator); word2vec reads it more than once, "
            "so pass a list, a LineCorpus/TokenizedCorpus, or corpus_file"
        )


class _Stats:
    """Per-epoch totals that worker threads add to."""

    def __init__(self, epochs: int):
        self.lock = threading.Lock()
        self.loss = np.zeros(epochs)
        self.examples = np.zeros(epochs, dtype=np.int64)
        self.trained = 0
        self.words = 0
        self.error: BaseException | None = None

    def add(self, epoch: int, loss: float, examples: int, trained: int, words: int) -> None:
        with self.lock:
            self.loss[epoch] += loss
            self.examples[epoch] += examples
            self.trained += trained
            self.words += words


def _progress_bar(total: int, enabled: bool | None):
    """tqdm on stderr with words/s and ETA; ``enabled=None`` shows it only on a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit="w", unit_scale=True, desc="word2vec", disable=None if enabled is None else not enabled,
                smoothing=0.1, mininterval=0.5)
