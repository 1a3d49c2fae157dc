"""textkit's own back-off model file: the arrays of a :class:`~textkit.lm.arpa.BackoffTables` as
safetensors, read back by memory-mapping.

The file holds, per order n, the sorted int64 keys (n ≥ 2, see :mod:`textkit.lm.counting`), the
log10 probabilities and (below the top order) the log10 back-off weights, all float64. Beside it,
``words.safetensors`` holds the words (the same as the model's ``vocab.json``) as one array of
their UTF-8 bytes, ``words``, and where each starts, ``word_starts`` (one entry more: the end).
Loading parses the JSON headers and maps each array from the files without reading it: start-up
does not depend on the model size, only the pages that scoring touches are read, and a model
larger than RAM can still be scored. Scoring hashes the words from their bytes, so they never have
to become Python strings (a list of strings from ``vocab.json`` costs tens of milliseconds per
100k words); a folder without ``words.safetensors`` (written before it existed) takes its words
from ``vocab.json``. Nothing in the files can run code (safetensors is a JSON header and raw
little-endian arrays), and every word offset is checked before compiled code reads through it.

>>> save_tensors("weights.safetensors", table_arrays(tables)); save_tensors(WORDS, word_arrays(tokens))
>>> tables = load_tables("weights.safetensors", load_words(WORDS), order)
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, check_readable
from textkit.lm.arpa import SPECIALS, BackoffTables

_DTYPES = {"F64": np.float64, "I64": np.int64, "U8": np.uint8}
_MAX_HEADER = 100 << 20
WORDS = "words.safetensors"  # the words file beside the weights in a model folder


def table_arrays(tables: BackoffTables) -> dict[str, np.ndarray]:
    """The arrays of ``tables`` under the names the file uses."""
    arrays = {}
    for n in range(1, tables.order + 1):
        if n > 1:
            arrays[f"keys_{n}"] = np.ascontiguousarray(tables.keys[n - 2], dtype=np.int64)
        arrays[f"log10_prob_{n}"] = np.ascontiguousarray(tables.log10_prob[n - 1], dtype=np.float64)
        if n < tables.order:
            arrays[f"log10_backoff_{n}"] = np.ascontiguousarray(tables.log10_backoff[n - 1], dtype=np.float64)
    return arrays


def word_arrays(tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """``words`` (the UTF-8 bytes of all ``tokens``) and ``word_starts`` (where each starts, and the end)."""
    if isinstance(tokens, WordList):
        return {"words": np.array(tokens.data), "word_starts": np.array(tokens.starts)}
    from textkit.lm.encoding import _token_bytes

    data, starts = _token_bytes(list(tokens))
    return {"words": data, "word_starts": starts}


class WordList(Sequence):
    """The words of a native file, by id, made Python strings only when first asked for.

    ``data`` holds the UTF-8 bytes of all words, ``starts[i]`` where word i starts (``starts[-1]``:
    the end); both are checked here, so compiled code may read ``data[starts[i]:starts[i + 1]]``.
    """

    def __init__(self, data: np.ndarray, starts: np.ndarray, source: str):
        if (
            starts.ndim != 1
            or len(starts) < len(SPECIALS) + 1
            or starts[0] != 0
            or starts[-1] != len(data)
            or not bool(np.all(starts[1:] >= starts[:-1]))
        ):
            raise ModelFileError(f"{source}: the word offsets are damaged")
        self.data, self.starts, self.source = data, starts, source
        self._list: list[str] | None = None
        if [self[i] for i in range(len(SPECIALS))] != list(SPECIALS):
            raise ModelFileError(f"{source}: the words do not start with {' '.join(SPECIALS)}")

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i):
        if self._list is not None or isinstance(i, slice):
            return self.to_list()[i]
        if not -len(self) <= i < len(self):
            raise IndexError("word id out of range")
        i %= len(self)
        return bytes(self.data[self.starts[i] : self.starts[i + 1]]).decode("utf-8", "surrogatepass")

    def __iter__(self):
        return iter(self.to_list())

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and self.to_list() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def to_list(self) -> list[str]:
        """All words as strings (decoded once, then kept)."""
        if self._list is None:
            try:
                blob = self.data.tobytes()
                bounds = self.starts.tolist()
                words = [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds, bounds[1:])]
            except UnicodeDecodeError:
                raise ModelFileError(f"{self.source}: the words are not valid UTF-8") from None
            if len(set(words)) != len(words):
                raise ModelFileError(f"{self.source}: a word is listed twice")
            self._list = words
        return self._list


def map_safetensors(path: PathLike) -> dict[str, np.ndarray]:
    """Every array of a safetensors file, memory-mapped read-only (nothing is read until used)."""
    p = check_readable(path)
    size = p.stat().st_size
    try:
        with open(p, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > min(size - 8, _MAX_HEADER):
                raise ValueError("header length beyond the file")
            header = json.loads(f.read(header_len))
        start = 8 + header_len
        arrays = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype = np.dtype(_DTYPES[entry["dtype"]])
            begin, end = entry["data_offsets"]
            shape = tuple(entry["shape"])
            if begin < 0 or end > size - start or end - begin != int(np.prod(shape)) * dtype.itemsize:
                raise ValueError(f"array {name!r} lies outside the file")
            arrays[name] = (
                np.memmap(p, dtype=dtype, mode="r", offset=start + begin, shape=shape)
                if end > begin
                else np.zeros(shape, dtype)
            )
        return arrays
    except (ValueError, KeyError, TypeError, struct.error, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{p}: not a valid textkit n-gram weights file ({e})") from None


def load_words(path: PathLike) -> WordList:
    """The words in a words file (memory-mapped, checked)."""
    arrays = map_safetensors(path)
    if "words" not in arrays or "word_starts" not in arrays:
        raise ModelFileError(f"{path}: not a textkit words file")
    return WordList(arrays["words"], arrays["word_starts"], str(path))


def load_tables(path: PathLike, tokens: Sequence[str], order: int) -> BackoffTables:
    """The back-off tables in ``path`` (memory-mapped) with the model's words ``tokens``."""
    arrays = map_safetensors(path)
    try:
        keys = [arrays[f"keys_{n}"] for n in range(2, order + 1)]
        prob = [arrays[f"log10_prob_{n}"] for n in range(1, order + 1)]
        backoff = [arrays[f"log10_backoff_{n}"] for n in range(1, order)]
    except KeyError as e:
        raise ModelFileError(f"{path}: no array {e.args[0]} for an order-{order} model (mixed-up files?)") from None
    if len(prob[0]) != len(tokens) or any(len(k) != len(p) for k, p in zip(keys, prob[1:])):
        raise ModelFileError(f"{path}: the arrays do not match the model's words (mixed-up files?)")
    return BackoffTables(tokens, keys, prob, backoff)
