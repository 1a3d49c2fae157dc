"""WikiText-2 and WikiText-103 (Merity et al. 2016), from the Hugging Face hub or a local copy.

**Sources.** The hub dataset ``Salesforce/wikitext`` (configs ``wikitext-2-v1``,
``wikitext-2-raw-v1``, ``wikitext-103-v1``, ``wikitext-103-raw-v1``), pinned to revision
:data:`HUB_REVISION` (the parquet conversion that public evaluation code pins; override with
``TEXTKIT_WIKITEXT_REVISION``), or a folder in the original release layout::

    DIR/wiki.train.tokens  DIR/wiki.valid.tokens  DIR/wiki.test.tokens     (tokenized, <unk> for rare words)
    DIR/wiki.train.raw     DIR/wiki.valid.raw     DIR/wiki.test.raw        (raw: --raw)

(``DIR`` may also hold those files one level down, in ``wikitext-2/``, ``wikitext-2-raw/``,
``wikitext-103/`` or ``wikitext-103-raw/`` as the release zips unpack.)

**The joining rule** (perplexities are comparable only under one rule). Both sources give the
same rows: one per line of the release files, with empty rows between paragraphs and heading rows
such as `` = Valkyria Chronicles III = `` or `` = = Gameplay = = ``. textkit

* strips the spaces and newline around each row,
* drops rows that are then empty,
* keeps heading rows as ordinary text (their ``=`` marks are tokens),
* and every kept row is one line: a language model predicts one end-of-line token (``</s>`` for
  n-gram models, ``<eos>`` for neural ones) after its last word.

So the token count of a split is its number of words plus its number of non-empty rows. (The
PyTorch ``word_language_model`` example also gives each *empty* row an ``<eos>``; its counts are
larger by the number of empty rows.)

>>> lines = load_wikitext("wikitext-2", "valid", data_dir="data/wikitext-2")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from textkit.datasets.hub import load_hub_dataset
from textkit.errors import DatasetUnavailableError, UsageError
from textkit.io import PathLike, iter_lines

HUB_DATASET = "Salesforce/wikitext"
HUB_REVISION = "b08601e04326c79dfdd32d625aee71d232d685c3"
NAMES = ("wikitext-2", "wikitext-103")
SPLITS = {"train": "train", "valid": "validation", "validation": "validation", "test": "test"}


def hub_config(name: str, raw: bool) -> str:
    """The hub config for a dataset name: ``wikitext-2`` + raw → ``wikitext-2-raw-v1``."""
    _check_name(name)
    return f"{name}-raw-v1" if raw else f"{name}-v1"


def join_rows(rows: Iterable[str]) -> Iterator[str]:
    """Apply the joining rule: strip each row, drop empty ones, keep headings as text."""
    for row in rows:
        line = row.strip()
        if line:
            yield line


def load_wikitext(
    name: str = "wikitext-2", split: str = "valid", raw: bool = False, data_dir: PathLike | None = None
) -> list[str]:
    """The lines of a WikiText split after the joining rule (see the module docstring).

    ``data_dir``: a local copy in the original layout (no network); otherwise the hub, where a
    failure raises DatasetUnavailableError saying how to use a local copy.

    >>> load_wikitext("wikitext-103", "test", data_dir="~/data/wikitext-103")[:1]
    ['= Robert Boulter =']
    """
    return list(iter_wikitext(name, split, raw, data_dir))


def iter_wikitext(
    name: str = "wikitext-2", split: str = "valid", raw: bool = False, data_dir: PathLike | None = None
) -> Iterator[str]:
    """Like :func:`load_wikitext`, lazily (a local copy is read line by line)."""
    _check_name(name)
    if split not in SPLITS:
        raise UsageError(f"unknown WikiText split {split!r}; choose train, valid or test")
    if data_dir is not None:
        return join_rows(iter_lines(local_file(name, split, raw, data_dir)))
    return join_rows(_hub_rows(name, split, raw))


def local_file(name: str, split: str, raw: bool, data_dir: PathLike) -> Path:
    """The release file for a split inside ``data_dir`` (or its ``wikitext-N[-raw]/`` subfolder)."""
    base = Path(data_dir).expanduser()
    if not base.is_dir():
        raise DatasetUnavailableError(
            f"{base}: no such folder (data_dir must be a folder with the WikiText release files)"
        )
    short = "valid" if SPLITS[split] == "validation" else split
    file_name = f"wiki.{short}.{'raw' if raw else 'tokens'}"
    for folder in (base, base / f"{name}-raw" if raw else base / name):
        if (folder / file_name).is_file():
            return folder / file_name
    raise DatasetUnavailableError(
        f"{base}: no {file_name} here (expected the original {name}{'-raw' if raw else ''} release layout: "
        f"wiki.train/valid/test.{'raw' if raw else 'tokens'})"
    )


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise UsageError(f"unknown WikiText dataset {name!r}; choose {' or '.join(NAMES)}")


def _hub_rows(name: str, split: str, raw: bool) -> Iterator[str]:
    config = hub_config(name, raw)
    advice = (
        f"download the original {name} release and give its folder as data_dir (it holds "
        f"wiki.train.{'raw' if raw else 'tokens'}, wiki.valid.., wiki.test..)"
    )
    revision = os.environ.get("TEXTKIT_WIKITEXT_REVISION", HUB_REVISION)
    data = load_hub_dataset(HUB_DATASET, config, SPLITS[split], revision, f"{HUB_DATASET} ({config})", advice)
    return (row["text"] for row in data)
