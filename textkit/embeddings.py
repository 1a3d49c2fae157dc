"""Word vectors are gensim's ``KeyedVectors``; this module adds what gensim lacks.

* building a ``KeyedVectors`` from textkit's arrays without copying them (:func:`keyed_vectors`);
* files — the word2vec text and binary formats written in blocks and read with clear errors
  (:func:`save_vectors`, :func:`load_vectors`), and textkit's model folder (safetensors + JSON,
  never pickle);
* clear errors for unknown words, naming close ones (:func:`check_words`);
* evaluation on named sets (``google``, ``ws353``, ``simlex``: gensim's bundled copies) as plain
  dictionaries (:func:`evaluate`);
* a 2-D plot of a few words (:func:`plot_embeddings`).

Queries are gensim's own: ``kv.most_similar``, ``kv.most_similar_cosmul``, ``kv.similarity``,
``kv.doesnt_match``, ``kv.evaluate_word_analogies``...

>>> kv = load_vectors("models/w2v.bin")  # doctest: +SKIP
>>> kv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textkit.errors import InputFileError, ModelFileError, UnknownWordError, UsageError
from textkit.io import PathLike, atomic_write, iter_lines, open_binary

NAMED_EVALUATIONS = {"google": "questions-words.txt", "ws353": "wordsim353.tsv", "simlex": "simlex999.txt"}
KEYED_KIND = "vectors.keyed"
WORD2VEC_KIND = "vectors.word2vec"
_SUGGEST_FROM = 100_000  # close-match suggestions look at this many most frequent words (fast enough)
_WRITE_BLOCK = 2048  # rows formatted and written at once


def keyed_vectors(words: Sequence[str], vectors: np.ndarray, counts: Sequence[int] | None = None):
    """A ``gensim.models.KeyedVectors`` over ``words`` whose ``vectors`` is the given float32 matrix
    itself (no copy), with ``count`` attributes when ``counts`` is given.

    >>> kv = keyed_vectors(["king", "queen"], np.eye(2, dtype=np.float32))
    >>> float(kv.similarity("king", "queen"))
    0.0
    """
    from gensim.models import KeyedVectors

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ModelFileError(f"{len(words)} words but vectors of shape {vectors.shape}")
    kv = KeyedVectors(vectors.shape[1])
    kv.index_to_key = list(words)
    kv.key_to_index = dict(zip(kv.index_to_key, range(len(kv.index_to_key))))
    if len(kv.key_to_index) != len(kv.index_to_key):
        raise ModelFileError("the same word appears twice in the vocabulary")
    kv.vectors = vectors
    kv.next_index = len(words)
    if counts is not None:
        kv.allocate_vecattrs(["count"], [np.int64])
        kv.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
    return kv


def word_counts(kv) -> list[int] | None:
    """The corpus frequencies a ``KeyedVectors`` carries, or None."""
    counts = kv.expandos.get("count") if hasattr(kv, "expandos") else None
    return None if counts is None else [int(c) for c in counts[: len(kv.index_to_key)]]


def check_words(kv, words: Sequence[str]) -> None:
    """Raise UnknownWordError for the first word not in ``kv``, naming close words."""
    for word in words:
        if word not in kv.key_to_index:
            close = difflib.get_close_matches(str(word), kv.index_to_key[:_SUGGEST_FROM], n=3, cutoff=0.75)
            hint = f"; close words: {', '.join(close)}" if close else ""
            raise UnknownWordError(f"{word!r} is not in the vocabulary ({len(kv.index_to_key)} words){hint}")


# ---- the word2vec formats ---------------------------------------------------------------------
def write_word2vec_format(
    path: PathLike, words: Sequence[str], vectors: np.ndarray, binary: bool | None = None
) -> Path:
    """Write the word2vec format, atomically: text (``V D`` then ``word v1 .. vD`` per line, each
    value with 9 significant digits, enough to read every float32 back exactly) or binary (``word ``
    then D little-endian float32, then a newline, as the C tool writes). Rows go out in blocks.

    ``binary=None`` chooses binary for a ``.bin`` suffix.
    """
    binary = _is_binary_name(path) if binary is None else binary
    n, dim = vectors.shape
    row_text = " ".join(["%.9g"] * dim) + "\n"
    with atomic_write(path, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        for start in range(0, n, _WRITE_BLOCK):
            block_words = [_check_word(w) for w in words[start : start + _WRITE_BLOCK]]
            block = vectors[start : start + _WRITE_BLOCK]
            if binary:
                rows = block.astype("<f4", copy=False)
                f.write(b"".join(w.encode("utf-8") + b" " + r.tobytes() + b"\n" for w, r in zip(block_words, rows)))
            else:
                values = block.tolist()
                f.write("".join(w + " " + row_text % tuple(v) for w, v in zip(block_words, values)).encode("utf-8"))
    return Path(path)


def load_word2vec_format(
    path: PathLike, binary: bool | None = None, limit: int | None = None, unicode_errors: str = "strict"
):
    """Read a word2vec text or binary file (``.gz``/``.bz2``/``.xz`` too) into a gensim
    ``KeyedVectors``; ``limit`` keeps the first N words. ``binary=None`` chooses binary for a
    ``.bin`` suffix. A damaged file raises ModelFileError saying what is wrong and where.

    >>> kv = load_word2vec_format("GoogleNews-vectors-negative300.bin", limit=100000)  # doctest: +SKIP
    """
    import lzma
    import zlib

    try:
        return _load_word2vec_format(path, binary, limit, unicode_errors)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:  # a damaged .gz/.bz2/.xz stream, a read error
        raise ModelFileError(f"{path}: read failed: truncated or corrupt file ({e})") from None


def _load_word2vec_format(path: PathLike, binary: bool | None, limit: int | None, unicode_errors: str):
    binary = _is_binary_name(path) if binary is None else binary
    with open_binary(path) as f:
        header = f.readline()
        try:
            n, dim = (int(x) for x in header.split())
            if n < 0 or dim < 1:
                raise ValueError
        except ValueError:
            raise ModelFileError(f"{path}: not a word2vec file (the first line should be 'WORDS DIMENSIONS')") from None
        if limit is not None:
            n = min(n, limit)
        read = _read_binary_rows if binary else _read_text_rows
        words, vectors = read(f, n, dim, path, unicode_errors)
    seen: dict[str, int] = {}  # keep the first of repeated words (some published files repeat a few), as gensim
    rows = [i for i, w in enumerate(words) if seen.setdefault(w, i) == i]
    if len(rows) < len(words):
        words, vectors = [words[i] for i in rows], vectors[rows]
    return keyed_vectors(words, vectors)


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
        raise ModelFileError(f"{path}: the header promises vectors of dimension {dim}, too large to be real") from None


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


# ---- textkit's folder format -----------------------------------------------------------------
class KeyedVectorsFolder:
    """Saving and loading a gensim ``KeyedVectors`` as textkit's ``vectors.keyed`` folder
    (``config.json``, ``vocab.json`` with the words and counts, ``weights.safetensors``)."""

    @staticmethod
    def save(kv, folder: PathLike, force: bool = False) -> Path:
        from textkit.artifacts import save_artifact
        from textkit.vocab import Vocab

        vocab = Vocab(kv.index_to_key, word_counts(kv), specials=(), unk_token=None)
        save_artifact(
            folder,
            KEYED_KIND,
            {"vector_size": int(kv.vector_size)},
            tensors={"vectors": kv.vectors},
            vocab=vocab,
            force=force,
        )
        return Path(folder)

    @staticmethod
    def load(folder: PathLike):
        from textkit.artifacts import load_vocab, load_weights, read_config

        config = read_config(folder, family="vectors")
        vocab = load_vocab(folder)
        vectors = load_weights(folder, framework="np").get("vectors")
        if vectors is None or vectors.shape != (len(vocab), config.get("vector_size")):
            raise ModelFileError(f"{folder}: the vectors do not match the words of its vocabulary")
        if not np.issubdtype(vectors.dtype, np.floating) or not np.isfinite(vectors).all():
            raise ModelFileError(f"{folder}: the vectors hold values that are not finite numbers")
        return keyed_vectors(vocab.tokens, vectors, vocab.freqs)


def save_vectors(vectors, path: PathLike, force: bool = False) -> Path:
    """Write word vectors in the format ``path`` names: ``.bin`` word2vec binary, ``.txt``/``.vec``
    (or any other suffix) word2vec text, no suffix a textkit folder. ``vectors`` is a gensim
    ``KeyedVectors`` or a :class:`~textkit.word2vec.Word2Vec` (whose folder can train further).

    Returns the path written.
    """
    p = Path(path)
    if p.suffix == ".safetensors":
        raise UsageError(f"{p}: textkit's own format is a folder; give a name without a suffix")
    if p.suffix == "" or p.is_dir():
        if hasattr(vectors, "build_vocab"):
            return vectors.save(p, force=force)
        return KeyedVectorsFolder.save(vectors, p, force)
    if hasattr(vectors, "build_vocab"):  # a Word2Vec: its arrays, without building a KeyedVectors
        return write_word2vec_format(p, vectors.vocab.tokens, vectors.vectors)
    return write_word2vec_format(p, vectors.index_to_key, vectors.vectors)


def load_vectors(path: PathLike):
    """Load word vectors as a gensim ``KeyedVectors`` from any format textkit writes or reads:
    ``.bin`` (word2vec binary), ``.txt``/``.vec`` (text, also compressed) or a textkit folder.

    >>> kv = load_vectors("models/w2v.bin")  # doctest: +SKIP
    """
    p = Path(path)
    if p.is_dir():
        from textkit.artifacts import read_config

        kind = read_config(p, family="vectors")["kind"]
        if kind == WORD2VEC_KIND:
            from textkit.word2vec import Word2Vec

            return Word2Vec.load(p).wv
        return KeyedVectorsFolder.load(p)
    if not p.exists():
        raise InputFileError(f"{p}: no such file")
    return load_word2vec_format(p)


# ---- evaluation -------------------------------------------------------------------------------
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


def evaluate_analogies(
    kv, analogies: PathLike = "google", restrict_vocab: int = 300_000, case_insensitive: bool = True
) -> dict:
    """gensim's ``evaluate_word_analogies`` on a named set or a path, as a dictionary:
    ``accuracy``, ``correct``, ``covered`` (questions whose words are all known), ``total``
    (questions in the file), ``oov_ratio`` and per-``sections`` figures."""
    path = resolve_evaluation(analogies)
    total = sum(1 for line in iter_lines(path) if not line.startswith(":") and len(line.split()) == 4)
    if not kv.index_to_key:
        raise UsageError("the vectors are empty")
    _, sections = kv.evaluate_word_analogies(
        str(path), restrict_vocab=restrict_vocab, case_insensitive=case_insensitive
    )
    rows = [
        {"section": s["section"], "correct": len(s["correct"]), "covered": len(s["correct"]) + len(s["incorrect"])}
        for s in sections
        if s["section"] != "Total accuracy"
    ]
    for row in rows:
        row["accuracy"] = row["correct"] / row["covered"] if row["covered"] else 0.0
    correct = sum(r["correct"] for r in rows)
    covered = sum(r["covered"] for r in rows)
    return {
        "accuracy": correct / covered if covered else 0.0,
        "correct": correct,
        "covered": covered,
        "total": total,
        "oov_ratio": 1 - covered / total if total else 0.0,
        "sections": rows,
    }


def evaluate_pairs(
    kv, pairs: PathLike = "ws353", restrict_vocab: int = 300_000, case_insensitive: bool = True, delimiter: str = "\t"
) -> dict:
    """gensim's ``evaluate_word_pairs`` on a named set or a path (``word1<TAB>word2<TAB>score``
    lines, ``#`` comments), as a dictionary: ``spearman``, ``pearson`` (and p-values), ``pairs``
    scored, ``oov`` pairs skipped and ``oov_ratio``."""
    import logging

    path = resolve_evaluation(pairs)
    well_formed = 0
    for line in iter_lines(path):
        if line and not line.startswith("#"):
            fields = line.split(delimiter)
            try:
                well_formed += len(fields) == 3 and bool(float(fields[2]) == float(fields[2]))
            except ValueError:
                pass
    gensim_log = logging.getLogger("gensim.models.keyedvectors")
    level = gensim_log.level
    gensim_log.setLevel(logging.ERROR)  # it warns about every unknown pair on its own
    try:
        pearson, spearman, oov_percent = kv.evaluate_word_pairs(
            str(path), delimiter=delimiter, restrict_vocab=restrict_vocab, case_insensitive=case_insensitive
        )
    except ValueError:  # scipy refuses fewer than two pairs
        raise UsageError(f"{path}: fewer than 2 pairs have both words in the vocabulary; cannot correlate") from None
    finally:
        gensim_log.setLevel(level)
    oov = round(well_formed * oov_percent / 100)
    scored = well_formed - oov
    if scored < 3:
        raise UsageError(f"{path}: only {scored} pairs have both words in the vocabulary; cannot correlate")
    if not np.isfinite(spearman[0]):
        raise UsageError(
            f"{path}: the {scored} pairs found in the vocabulary have constant gold scores or similarities; "
            "cannot correlate"
        )
    return {
        "spearman": float(spearman[0]),
        "spearman_pvalue": float(spearman[1]),
        "pearson": float(pearson[0]),
        "pearson_pvalue": float(pearson[1]),
        "pairs": scored,
        "oov": oov,
        "oov_ratio": oov / well_formed if well_formed else 0.0,
    }


# ---- plotting ---------------------------------------------------------------------------------
def plot_embeddings(kv, words: Sequence[str], path: PathLike, method: str = "pca", seed: int = 0) -> Path:
    """Draw ``words`` on a 2-D map (PCA or t-SNE of their vectors) with labels; write ``path``.

    >>> plot_embeddings(kv, ["king", "queen", "man", "woman"], "emb.png")  # doctest: +SKIP
    """
    from textkit.plotting import check_figure_path, figure

    check_figure_path(path)
    if method not in ("pca", "tsne"):
        raise UsageError(f"plot method must be pca or tsne, not {method!r}")
    words = list(dict.fromkeys(words))
    if len(words) < 2:
        raise UsageError("plotting needs at least two words")
    check_words(kv, words)
    points = np.vstack([kv.get_vector(w, norm=True) for w in words])
    if method == "pca":
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=seed).fit_transform(points)
    else:
        from sklearn.manifold import TSNE

        tsne = TSNE(n_components=2, perplexity=min(30.0, (len(words) - 1) / 3), init="pca", random_state=seed)
        xy = tsne.fit_transform(points)
    with figure(path, size=(10, 8), dpi=120) as (_, ax):
        ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.6)
        for (x, y), word in zip(xy, words):
            ax.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
        ax.set_title(f"{len(words)} words, {method.upper()}")
        ax.set_xticks([])
        ax.set_yticks([])
    return Path(path)
