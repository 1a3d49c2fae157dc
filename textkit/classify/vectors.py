"""Read pretrained word vectors in the word2vec text or binary format, for initialising embeddings.

Only the rows for a wanted set of words are kept, so a large vector file costs one streaming pass
and little memory. (The word2vec helper's ``textkit.embeddings`` was not on main when this was
written; once it is, this reader can give way to its loader.)

>>> dim, vectors = read_word2vec("vectors.txt", wanted={"good", "bad"})
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, iter_lines, open_binary


def read_word2vec(path: PathLike, wanted: set[str] | None = None, binary: bool | None = None) -> tuple[int, dict[str, np.ndarray]]:
    """``(dim, {word: float32 vector})`` from a word2vec file; ``binary=None`` guesses from a ``.bin`` suffix.

    The format: a header ``COUNT DIM``, then per word either ``word v1 .. vDIM`` (text) or the word,
    a space and DIM little-endian float32 values (binary).
    """
    p = Path(path)
    if binary is None:
        binary = ".bin" in [s.lower() for s in p.suffixes]
    return _read_binary(p, wanted) if binary else _read_text(p, wanted)


def _header(line: str, p: Path) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(x.isdigit() for x in parts) or int(parts[1]) < 1:
        raise ModelFileError(f"{p}: not a word2vec file (the first line should be 'COUNT DIM', got {line[:60]!r})")
    return int(parts[0]), int(parts[1])


def _read_text(p: Path, wanted: set[str] | None) -> tuple[int, dict[str, np.ndarray]]:
    lines = iter_lines(p, errors="replace")
    first = next(lines, None)
    if first is None:
        raise ModelFileError(f"{p}: empty vector file")
    _, dim = _header(first, p)
    out: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines, 2):
        parts = line.rstrip().split(" ")
        if len(parts) <= 1:
            continue
        word = " ".join(parts[:-dim]) if len(parts) > dim + 1 else parts[0]
        if wanted is not None and word not in wanted:
            continue
        if len(parts) < dim + 1:
            raise ModelFileError(f"{p}: line {lineno}: expected a word and {dim} numbers, got {len(parts) - 1}")
        try:
            out[word] = np.asarray(parts[-dim:], dtype=np.float32)
        except ValueError:
            raise ModelFileError(f"{p}: line {lineno}: not a number among the vector values") from None
    return dim, out


def _read_binary(p: Path, wanted: set[str] | None) -> tuple[int, dict[str, np.ndarray]]:
    out: dict[str, np.ndarray] = {}
    with open_binary(p) as f:
        count, dim = _header(f.readline().decode("utf-8", "replace"), p)
        size = 4 * dim
        for i in range(count):
            word = bytearray()
            while True:
                c = f.read(1)
                if not c:
                    raise ModelFileError(f"{p}: truncated after {i} of {count} vectors")
                if c == b" ":
                    break
                if c != b"\n":  # some writers end each vector with a newline
                    word += c
            data = f.read(size)
            if len(data) != size:
                raise ModelFileError(f"{p}: truncated after {i} of {count} vectors")
            token = word.decode("utf-8", "replace")
            if wanted is None or token in wanted:
                out[token] = np.frombuffer(data, dtype="<f4").astype(np.float32)
    return dim, out
