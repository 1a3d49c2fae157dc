"""Word vectors: queries, file formats and evaluation (a KeyedVectors like gensim's).

* queries — :meth:`KeyedVectors.most_similar` (cosine over unit vectors, one matrix product),
  :meth:`~KeyedVectors.similarity`, :meth:`~KeyedVectors.analogy` (3CosAdd or 3CosMul),
  :meth:`~KeyedVectors.doesnt_match`, all restrictable to the ``restrict_vocab`` most frequent words;
* formats — the word2vec text and binary formats (gensim and the C tool read textkit's files and
  vice versa) and a native pair ``NAME.safetensors`` + ``NAME.json`` that keeps the frequencies;
* evaluation — word analogies (Google ``questions-words.txt`` format) and word-pair similarity
  (WordSim353 / SimLex-999 format), computed as gensim computes them.

>>> kv = KeyedVectors(["king", "queen"], np.eye(2, dtype=np.float32))
>>> kv.similarity("king", "queen")
0.0
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Sequence

import numpy as np

from textkit.errors import InputFileError, ModelFileError, UnknownWordError, UsageError
from textkit.io import PathLike, atomic_write, iter_lines, load_tensors, open_binary, read_json, save_tensors, write_json

FORMAT = "textkit.keyedvectors"
VERSION = 1
NAMED_EVALUATIONS = {"google": "questions-words.txt", "ws353": "wordsim353.tsv", "simlex": "simlex999.txt"}
_SUGGEST_FROM = 100_000  # close-match suggestions look at this many most frequent words (fast enough)


class KeyedVectors:
    """Words and their vectors, most frequent first.

    ``vectors[i]`` is the vector of ``index_to_key[i]``; ``counts[i]`` its corpus frequency (or
    None for files that carry none, such as the word2vec formats).

    >>> kv = KeyedVectors.load_word2vec_format("vectors.bin")  # doctest: +SKIP
    >>> kv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)  # doctest: +SKIP
    """

    def __init__(self, keys: Sequence[str], vectors: np.ndarray, counts: Sequence[int] | None = None):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise ModelFileError(f"{len(keys)} words but vectors of shape {vectors.shape}")
        self.index_to_key = list(keys)
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise ModelFileError("the same word appears twice in the vocabulary")
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self._unit: np.ndarray | None = None

    # ---- lookups ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.get_index(word)]

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def get_index(self, word: str) -> int:
        """Row of ``word``; an unknown word raises UnknownWordError naming close words."""
        i = self.key_to_index.get(word)
        if i is None:
            raise UnknownWordError(self._unknown_message(word))
        return i

    def _unknown_message(self, word: str) -> str:
        close = difflib.get_close_matches(str(word), self.index_to_key[:_SUGGEST_FROM], n=3, cutoff=0.75)
        hint = f"; close words: {', '.join(close)}" if close else ""
        return f"{word!r} is not in the vocabulary ({len(self)} words){hint}"

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The vector of ``word`` (unit length with ``norm=True``)."""
        i = self.get_index(word)
        return self.unit_vectors[i] if norm else self.vectors[i]

    @property
    def unit_vectors(self) -> np.ndarray:
        """All vectors scaled to unit length (zero vectors stay zero); cached."""
        if self._unit is None or self._unit.shape != self.vectors.shape:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = (self.vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        return self._unit

    def clear_cache(self) -> None:
        """Forget the unit vectors (call after changing ``vectors`` in place)."""
        self._unit = None

    # ---- queries ----------------------------------------------------------------------------
    def most_similar(
        self,
        positive: str | Sequence[str | np.ndarray] | None = None,
        negative: Sequence[str | np.ndarray] | None = None,
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words closest by cosine to the mean of the unit ``positive`` minus ``negative`` vectors.

        The query words themselves are left out. ``restrict_vocab=N`` searches the N most frequent.

        >>> kv.most_similar(positive=["paris", "germany"], negative=["france"], topn=3)  # doctest: +SKIP
        """
        positive = [positive] if isinstance(positive, (str, np.ndarray)) else list(positive or [])
        negative = [negative] if isinstance(negative, (str, np.ndarray)) else list(negative or [])
        if not positive and not negative:
            raise UsageError("most_similar needs at least one positive or negative word")
        terms = [(w, 1.0) for w in positive] + [(w, -1.0) for w in negative]
        query, exclude = [], set()
        for word, weight in terms:
            if isinstance(word, np.ndarray):
                query.append(weight * word)
            else:
                exclude.add(self.get_index(word))
                query.append(weight * self.get_vector(word, norm=True))
        mean = np.asarray(query, dtype=np.float32).mean(axis=0)
        return self._nearest(_unit(mean), topn, restrict_vocab, exclude)

    def similar_by_vector(self, vector: np.ndarray, topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words closest by cosine to ``vector``."""
        return self._nearest(_unit(np.asarray(vector, dtype=np.float32)), topn, restrict_vocab, set())

    def _nearest(self, unit_query: np.ndarray, topn: int, restrict_vocab: int | None, exclude: set) -> list[tuple[str, float]]:
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        scores = self.unit_vectors[:limit] @ unit_query
        return self._top(scores, topn, exclude)

    def _top(self, scores: np.ndarray, topn: int, exclude: set) -> list[tuple[str, float]]:
        k = min(topn + len(exclude), len(scores))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best if i not in exclude][:topn]

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words.

        >>> kv.similarity("cat", "dog")  # doctest: +SKIP
        0.83
        """
        return float(self.get_vector(word1, norm=True) @ self.get_vector(word2, norm=True))

    def analogy(self, a: str, b: str, c: str, method: str = "3cosadd", topn: int = 1,
                restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ?: ``analogy("man", "king", "woman")`` → queen.

        ``3cosadd`` ranks by cos(d, b) - cos(d, a) + cos(d, c); ``3cosmul`` (Levy and Goldberg,
        2014) by cos'(d, b) · cos'(d, c) / (cos'(d, a) + ε) with cos' = (1 + cos) / 2 and ε = 1e-6
        (gensim's ``most_similar_cosmul``; the paper's 1e-3 changes scores, rarely the ranking).
        """
        if method == "3cosadd":
            return self.most_similar(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
        if method != "3cosmul":
            raise UsageError(f"analogy method must be 3cosadd or 3cosmul, not {method!r}")
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        unit = self.unit_vectors[:limit]
        cos = {w: (1 + unit @ self.get_vector(w, norm=True)) / 2 for w in (a, b, c)}
        scores = cos[b] * cos[c] / (cos[a] + 1e-6)
        return self._top(scores, topn, {self.get_index(w) for w in (a, b, c)})

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' unit vectors.

        >>> kv.doesnt_match(["breakfast", "cereal", "dinner", "lunch"])  # doctest: +SKIP
        'cereal'
        """
        words = list(words)
        if len(words) < 2:
            raise UsageError("doesnt_match needs at least two words")
        unit = np.vstack([self.get_vector(w, norm=True) for w in words])
        scores = unit @ _unit(unit.mean(axis=0))
        return words[int(np.argmin(scores))]

    # ---- word2vec formats -------------------------------------------------------------------
    def save_word2vec_format(self, path: PathLike, binary: bool | None = None) -> None:
        """Write the word2vec format: text (``V D`` then ``word v1 .. vD`` per line) or binary
        (``word `` then D little-endian float32, then a newline, as the C tool writes).

        ``binary=None`` chooses binary for a ``.bin`` suffix. Text keeps every float32 exactly.
        """
        binary = _is_binary_name(path) if binary is None else binary
        with atomic_write(path, "wb") as f:
            f.write(f"{len(self)} {self.vector_size}\n".encode())
            if binary:
                rows = self.vectors.astype("<f4")
                for word, row in zip(self.index_to_key, rows):
                    f.write(_check_word(word).encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                for start in range(0, len(self), 4096):
                    block = self.vectors[start : start + 4096].astype(str)
                    words = self.index_to_key[start : start + 4096]
                    f.write("".join(f"{_check_word(w)} {' '.join(r)}\n" for w, r in zip(words, block)).encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls, path: PathLike, binary: bool | None = None, limit: int | None = None,
                             unicode_errors: str = "strict") -> "KeyedVectors":
        """Read a word2vec text or binary file (``.gz``/``.bz2``/``.xz`` too); ``limit`` keeps the
        first N words. ``binary=None`` chooses binary for a ``.bin`` suffix.

        >>> kv = KeyedVectors.load_word2vec_format("GoogleNews-vectors-negative300.bin", limit=100000)  # doctest: +SKIP
        """
        binary = _is_binary_name(path) if binary is None else binary
        with open_binary(path) as f:
            header = f.readline()
            try:
                n, dim = (int(x) for x in header.split())
                assert n >= 0 and dim >= 1
            except (ValueError, AssertionError):
                raise ModelFileError(f"{path}: not a word2vec file (the first line should be 'WORDS DIMENSIONS')") from None
            if limit is not None:
                n = min(n, limit)
            read = _read_binary_rows if binary else _read_text_rows
            words, vectors = read(f, n, dim, path, unicode_errors)
        return cls._without_duplicates(words, vectors)

    @classmethod
    def _without_duplicates(cls, words: list[str], vectors: np.ndarray) -> "KeyedVectors":
        """Keep the first of repeated words (some published files repeat a few), as gensim does."""
        seen: dict[str, int] = {}
        rows = [i for i, w in enumerate(words) if seen.setdefault(w, i) == i]
        if len(rows) < len(words):
            return cls([words[i] for i in rows], vectors[rows])
        return cls(words, vectors)

    # ---- native format ----------------------------------------------------------------------
    def save(self, path: PathLike) -> Path:
        """Write ``NAME.safetensors`` (the matrix) and ``NAME.json`` (words, counts).

        ``path`` is ``NAME.safetensors`` or a folder (then ``folder/vectors.*``). Returns the
        safetensors path.
        """
        tensors_path, json_path = native_paths(path)
        meta = {"format": FORMAT, "version": VERSION, "vector_size": self.vector_size,
                "words": self.index_to_key, "counts": None if self.counts is None else self.counts.tolist()}
        save_tensors(tensors_path, {"vectors": self.vectors})
        write_json(json_path, meta)
        return tensors_path

    @classmethod
    def load(cls, path: PathLike) -> "KeyedVectors":
        """Read what :meth:`save` wrote; a foreign or mismatched pair raises ModelFileError."""
        tensors_path, json_path = native_paths(path)
        meta = read_json(json_path, what="textkit vectors file")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{json_path}: not a textkit vectors file (format {FORMAT!r} expected)")
        tensors = load_tensors(tensors_path, framework="np")
        vectors = tensors.get("vectors")
        words = meta.get("words")
        if vectors is None or not isinstance(words, list) or vectors.shape != (len(words), meta.get("vector_size")):
            raise ModelFileError(f"{tensors_path}: the vectors do not match the words in {json_path}")
        if not np.issubdtype(vectors.dtype, np.floating) or not np.isfinite(vectors).all():
            raise ModelFileError(f"{tensors_path}: the vectors hold values that are not finite numbers")
        return cls(words, vectors, counts=meta.get("counts"))

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate_word_analogies(self, analogies: PathLike = "google", restrict_vocab: int = 300_000,
                                case_insensitive: bool = True) -> "AnalogyResult":
        """Analogy accuracy on a ``questions-words.txt``-format file (or the name ``google``).

        As gensim: only the ``restrict_vocab`` most frequent words count, questions with any word
        outside them are skipped (``oov``), and the answer is the best 3CosAdd word other than the
        three question words.
        """
        return evaluate_word_analogies(self, analogies, restrict_vocab, case_insensitive)

    def evaluate_word_pairs(self, pairs: PathLike = "ws353", restrict_vocab: int = 300_000,
                            case_insensitive: bool = True, delimiter: str = "\t") -> "PairResult":
        """Spearman and Pearson correlation with human similarity scores (``ws353``, ``simlex`` or
        a path with ``word1<TAB>word2<TAB>score`` lines; ``#`` starts a comment)."""
        return evaluate_word_pairs(self, pairs, restrict_vocab, case_insensitive, delimiter)


def load_vectors(path: PathLike) -> KeyedVectors:
    """Load vectors in any format textkit writes: ``.txt``/``.vec`` (text), ``.bin`` (binary),
    ``.safetensors`` or a folder (native).

    >>> kv = load_vectors("models/w2v.bin")  # doctest: +SKIP
    """
    p = Path(path)
    if p.suffix == ".safetensors" or p.is_dir():
        return KeyedVectors.load(p)
    if not p.exists():
        raise InputFileError(f"{p}: no such file")
    return KeyedVectors.load_word2vec_format(p)


def save_vectors(kv: KeyedVectors, path: PathLike) -> Path:
    """Write ``kv`` in the format ``path`` names: ``.bin`` binary, ``.safetensors`` or no suffix
    native, anything else (``.txt``, ``.vec``) word2vec text. Returns the main file written."""
    p = Path(path)
    if p.suffix == ".safetensors" or p.suffix == "" or p.is_dir():
        return kv.save(p)
    kv.save_word2vec_format(p)
    return p


def native_paths(path: PathLike) -> tuple[Path, Path]:
    """``(NAME.safetensors, NAME.json)`` for ``NAME.safetensors`` or a folder (``folder/vectors``)."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix == ".safetensors" else p / "vectors"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _is_binary_name(path: PathLike) -> bool:
    return ".bin" in Path(path).suffixes


def _check_word(word: str) -> str:
    if not word or any(ch in word for ch in " \n"):
        raise UsageError(f"{word!r} cannot be written in the word2vec format (empty or containing a space/newline)")
    return word


def _decode(raw: bytes, path: PathLike, index: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors)
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: word {index + 1} is not valid UTF-8 (pass unicode_errors='replace')") from None


def _row_buffer(n: int, dim: int, path: PathLike) -> np.ndarray:
    """Rows for the first vectors; :func:`_grow` adds more as they come, so a header that promises
    more than the file holds costs no memory."""
    try:
        return np.empty((max(1, min(n, 65536, (1 << 24) // dim)), dim), dtype=np.float32)
    except (MemoryError, ValueError):
        raise ModelFileError(f"{path}: the header promises vectors of dimension {dim}, too large for a word2vec file") from None


def _grow(vectors: np.ndarray, i: int, n: int) -> np.ndarray:
    if i < len(vectors):
        return vectors
    grown = np.empty((min(n, 2 * len(vectors)), vectors.shape[1]), dtype=np.float32)
    grown[:i] = vectors[:i]
    return grown


def _check_finite(vectors: np.ndarray, words: list[str], path: PathLike, binary: bool) -> None:
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        i = int(bad[0])
        where = f"the vector of word {i + 1} ({words[i]!r})" if binary else f"line {i + 2} ({words[i]!r})"
        raise ModelFileError(f"{path}: {where} has a value that is not a finite number (NaN or infinity)")


def _read_text_rows(f, n: int, dim: int, path: PathLike, errors: str) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    vectors = _row_buffer(n, dim, path)
    for i in range(n):
        vectors = _grow(vectors, i, n)
        line = f.readline()
        if not line:
            raise ModelFileError(f"{path}: the header promises {n} vectors but the file ends after {i}")
        parts = line.rstrip().split(b" ")
        if len(parts) != dim + 1:
            raise ModelFileError(f"{path}: line {i + 2} has {len(parts) - 1} values, expected {dim}")
        words.append(_decode(parts[0], path, i, errors))
        try:
            vectors[i] = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise ModelFileError(f"{path}: line {i + 2} has a value that is not a number") from None
    vectors = vectors[:n]
    _check_finite(vectors, words, path, binary=False)
    return words, vectors


def _read_binary_rows(f, n: int, dim: int, path: PathLike, errors: str) -> tuple[list[str], np.ndarray]:
    row_bytes = 4 * dim
    words: list[str] = []
    vectors = _row_buffer(n, dim, path)
    buf, pos = b"", 0
    for i in range(n):
        vectors = _grow(vectors, i, n)
        while True:  # make sure the buffer holds the next word, its space and its whole vector
            space = buf.find(b" ", pos)
            if space != -1 and len(buf) - space - 1 >= row_bytes:
                break
            more = f.read(1 << 20)
            if not more:
                raise ModelFileError(f"{path}: the header promises {n} vectors but the file ends after {i}")
            buf, pos = buf[pos:] + more, 0
        words.append(_decode(buf[pos:space].lstrip(b"\r\n"), path, i, errors))
        vectors[i] = np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + row_bytes
    if any(not w for w in words):
        raise ModelFileError(f"{path}: an empty word; is this a word2vec binary file with dimension {dim}?")
    vectors = vectors[:n]
    _check_finite(vectors, words, path, binary=True)
    return words, vectors


# ---- evaluation -------------------------------------------------------------------------------
@dataclass
class AnalogyResult:
    """Accuracy over the covered questions, overall and per section (gensim's figures)."""

    accuracy: float
    correct: int
    covered: int  # questions whose four words are all in the restricted vocabulary
    total: int  # well-formed questions in the file
    sections: list[dict] = field(default_factory=list)  # {"section", "correct", "covered", "accuracy"}

    @property
    def oov_ratio(self) -> float:
        return 1 - self.covered / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "correct": self.correct, "covered": self.covered, "total": self.total,
                "oov_ratio": self.oov_ratio, "sections": self.sections}


@dataclass
class PairResult:
    """Correlation of model cosine with human scores over the pairs both words of which are known."""

    spearman: float
    spearman_pvalue: float
    pearson: float
    pearson_pvalue: float
    pairs: int  # pairs scored
    oov: int  # pairs skipped for an unknown word

    @property
    def oov_ratio(self) -> float:
        return self.oov / (self.pairs + self.oov) if self.pairs + self.oov else 0.0

    def to_dict(self) -> dict:
        return {"spearman": self.spearman, "spearman_pvalue": self.spearman_pvalue, "pearson": self.pearson,
                "pearson_pvalue": self.pearson_pvalue, "pairs": self.pairs, "oov": self.oov, "oov_ratio": self.oov_ratio}


def resolve_evaluation(name_or_path: PathLike) -> Path:
    """``google``, ``ws353``, ``simlex`` → gensim's bundled copies; anything else is a path."""
    from textkit.corpora import gensim_datapath

    name = str(name_or_path)
    if name in NAMED_EVALUATIONS:
        return gensim_datapath(NAMED_EVALUATIONS[name])
    p = Path(name)
    if not p.exists():
        raise InputFileError(f"{p}: no such file (named evaluation sets: {', '.join(NAMED_EVALUATIONS)})")
    return p


def _restricted_index(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """Word → row over the most frequent words; upper-cased keys map to the most frequent casing."""
    keys = kv.index_to_key[:restrict_vocab]
    fold = str.upper if case_insensitive else (lambda w: w)
    return {fold(k): i for i, k in reversed(list(enumerate(keys)))}


def evaluate_word_analogies(kv: KeyedVectors, analogies: PathLike = "google", restrict_vocab: int = 300_000,
                            case_insensitive: bool = True) -> AnalogyResult:
    """See :meth:`KeyedVectors.evaluate_word_analogies`."""
    path = resolve_evaluation(analogies)
    ok = _restricted_index(kv, restrict_vocab, case_insensitive)
    limit = min(restrict_vocab, len(kv))
    unit = kv.unit_vectors[:limit]
    norms = np.linalg.norm(kv.vectors[:limit], axis=1)
    norms[norms == 0] = 1
    spellings: dict[str, list[int]] = {}
    if case_insensitive:
        for i, key in enumerate(kv.index_to_key[:limit]):
            spellings.setdefault(key.upper(), []).append(i)
    sections: list[dict] = []
    total = 0
    for line_no, line in enumerate(iter_lines(path), 1):
        if line.startswith(": "):
            sections.append({"section": line[2:].strip(), "correct": 0, "covered": 0})
            continue
        words = [w.upper() for w in line.split()] if case_insensitive else line.split()
        if len(words) != 4:
            continue
        if not sections:
            raise InputFileError(f"{path}: line {line_no} comes before any ': section' header")
        total += 1
        if any(w not in ok for w in words):
            continue
        a, b, c = (ok[w] for w in words[:3])
        query = _unit((unit[b] + unit[c] - unit[a]) / 3)
        scores = (kv.vectors[:limit] @ query) / norms  # gensim's arithmetic, so near-ties break alike
        # the question words are never the answer, in any casing when case is ignored (as gensim)
        scores[list(chain.from_iterable(spellings.get(w, [ok[w]]) for w in words[:3]))] = -np.inf
        predicted = int(np.argmax(scores))
        section = sections[-1]
        section["covered"] += 1
        answer = kv.index_to_key[predicted]
        section["correct"] += int((answer.upper() if case_insensitive else answer) == words[3])  # any casing counts
    for s in sections:
        s["accuracy"] = s["correct"] / s["covered"] if s["covered"] else 0.0
    correct = sum(s["correct"] for s in sections)
    covered = sum(s["covered"] for s in sections)
    return AnalogyResult(correct / covered if covered else 0.0, correct, covered, total, sections)


def evaluate_word_pairs(kv: KeyedVectors, pairs: PathLike = "ws353", restrict_vocab: int = 300_000,
                        case_insensitive: bool = True, delimiter: str = "\t") -> PairResult:
    """See :meth:`KeyedVectors.evaluate_word_pairs`."""
    from scipy import stats

    path = resolve_evaluation(pairs)
    ok = _restricted_index(kv, restrict_vocab, case_insensitive)
    gold: list[float] = []
    model: list[float] = []
    oov = 0
    for line in iter_lines(path):
        if not line or line.startswith("#"):
            continue
        fields = line.split(delimiter)
        try:
            a, b, score = fields
            score = float(score)
        except ValueError:
            continue
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in ok or b not in ok:
            oov += 1
            continue
        gold.append(score)
        model.append(float(kv.unit_vectors[ok[a]] @ kv.unit_vectors[ok[b]]))
    if len(gold) < 3:
        raise UsageError(f"{path}: only {len(gold)} pairs have both words in the vocabulary; cannot correlate")
    spearman = stats.spearmanr(gold, model)
    pearson = stats.pearsonr(gold, model)
    return PairResult(float(spearman[0]), float(spearman[1]), float(pearson[0]), float(pearson[1]), len(gold), oov)


# ---- plotting ---------------------------------------------------------------------------------
def plot_embeddings(kv: KeyedVectors, words: Sequence[str], path: PathLike, method: str = "pca", seed: int = 0) -> Path:
    """Draw ``words`` on a 2-D map (PCA or t-SNE of their vectors) with labels; write ``path``.

    >>> plot_embeddings(kv, ["king", "queen", "man", "woman"], "emb.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from textkit.io import atomic_path

    words = list(dict.fromkeys(words))
    if len(words) < 2:
        raise UsageError("plotting needs at least two words")
    points = np.vstack([kv.get_vector(w, norm=True) for w in words])
    if method == "pca":
        xy = PCA(n_components=2, random_state=seed).fit_transform(points)
    elif method == "tsne":
        xy = TSNE(n_components=2, perplexity=min(30.0, (len(words) - 1) / 3), init="pca", random_state=seed).fit_transform(points)
    else:
        raise UsageError(f"plot method must be pca or tsne, not {method!r}")
    fig, ax = plt.subplots(figsize=(10, 8))
    ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.6)
    for (x, y), word in zip(xy, words):
        ax.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    ax.set_title(f"{len(words)} words, {method.upper()}")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return Path(path)
