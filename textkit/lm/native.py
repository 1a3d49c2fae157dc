"""textkit's own back-off model file: the arrays of a :class:`~textkit.lm.arpa.BackoffTables` as
safetensors, read back by memory-mapping.

The file holds, per order n, the sorted int64 keys (n ≥ 2, see :mod:`textkit.lm.counting`), the
log10 probabilities and (below the top order) the log10 back-off weights, all float64; the words
are the model's ``vocab.json``. Loading parses the JSON header and maps each array from the file
without reading it: start-up does not depend on the model size, only the pages that scoring
touches are read, and a model larger than RAM can still be scored. Nothing in the file can run
code (safetensors is a JSON header and raw little-endian arrays).

>>> save_tensors("weights.safetensors", table_arrays(tables))
>>> tables = load_tables("weights.safetensors", tokens, order)
"""

from __future__ import annotations

import json
import struct

import numpy as np

from textkit.errors import ModelFileError
from textkit.io import PathLike, check_readable
from textkit.lm.arpa import BackoffTables

_DTYPES = {"F64": np.float64, "I64": np.int64}
_MAX_HEADER = 100 << 20


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


def load_tables(path: PathLike, tokens: list[str], order: int) -> BackoffTables:
    """The back-off tables in ``path`` (memory-mapped) with the model's words ``tokens``."""
    arrays = map_safetensors(path)
    try:
        keys = [arrays[f"keys_{n}"] for n in range(2, order + 1)]
        prob = [arrays[f"log10_prob_{n}"] for n in range(1, order + 1)]
        backoff = [arrays[f"log10_backoff_{n}"] for n in range(1, order)]
    except KeyError as e:
        raise ModelFileError(f"{path}: no array {e.args[0]} for an order-{order} model (mixed-up files?)") from None
    if len(prob[0]) != len(tokens) or any(len(k) != len(p) for k, p in zip(keys, prob[1:])):
        raise ModelFileError(f"{path}: the arrays do not match vocab.json (mixed-up files?)")
    return BackoffTables(tokens, keys, prob, backoff)
