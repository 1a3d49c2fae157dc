"""Labelled text datasets for classification: IMDB, Sogou news, Amazon reviews, and local files.

Every loader returns :class:`LabelledTexts` (parallel lists of texts and string labels), one per
split. Three sources:

* the Hugging Face hub, by name and pinned revision (``imdb``, ``sogou_news``, ``amazon_polarity``,
  ``amazon_full``), with the columns normalised to text + label (title and content joined);
* a local copy in the dataset's original release layout (``data_dir``): the ``aclImdb/`` tree for
  IMDB, and the headerless ``train.csv`` / ``test.csv`` of Zhang et al. (2015) for Sogou news and
  Amazon (label, title, content; labels 1..K);
* any local CSV, TSV, JSONL or fastText-format (``__label__X text``) file.

Labels are always strings (``"pos"``, ``"3"``) so that string and integer labels behave the same.

>>> data = load_classification_splits("imdb", data_dir="~/data")      # reads ~/data/aclImdb
>>> train, validation = train_validation_split(data["train"], 0.1, seed=0)
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from textkit.datasets.hub import load_hub_dataset
from textkit.datasets.labelled import LabelledTexts, is_int, k_folds, sort_labels, train_validation_split
from textkit.errors import DatasetUnavailableError, InputFileError, UsageError
from textkit.io import PathLike, check_readable, iter_lines


@dataclass(frozen=True)
class HubDataset:
    """Where a named dataset lives on the Hugging Face hub, and how its release is laid out."""

    repo: str
    revision: str
    text_columns: tuple[str, ...]
    label_column: str
    layout: str  # "aclimdb" or "zhang_csv": the original release layout read from data_dir
    n_classes: int


# A figure should be measured on the same data tomorrow, so each entry names a revision to load.
# The hub cannot be reached from the machine this was written on, so no commit hash could be
# verified: the entries say "main" until someone with hub access pins them (``--revision`` overrides).
HUB_DATASETS: dict[str, HubDataset] = {
    "imdb": HubDataset("stanfordnlp/imdb", "main", ("text",), "label", "aclimdb", 2),
    "sogou_news": HubDataset("community-datasets/sogou_news", "main", ("title", "content"), "label", "zhang_csv", 5),
    "amazon_polarity": HubDataset("fancyzhx/amazon_polarity", "main", ("title", "content"), "label", "zhang_csv", 2),
    # Zhang et al.'s 5-class Amazon release has no canonical hub copy (fancyzhx has only the polarity
    # one). This community parquet copy is meant to keep the 3M/650k split with columns class_index
    # (1..5), review_title, review_text; it could not be checked from here (no hub access).
    "amazon_full": HubDataset(
        "yassiracharki/Amazon_Reviews_for_Sentiment_Analysis_fine_grained_5_classes",
        "main",
        ("review_title", "review_text"),
        "class_index",
        "zhang_csv",
        5,
    ),
}
SPLITS = ("train", "test")
RELEASE_HINT = {
    "aclimdb": "the aclImdb/ folder (train|test / pos|neg / *.txt) from ai.stanford.edu/~amaas/data/sentiment",
    "zhang_csv": "a folder with the headerless train.csv and test.csv (label,title,content) "
    "of the Zhang et al. 2015 release",
}


def load_classification_splits(
    dataset: str,
    data_dir: PathLike | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    revision: str | None = None,
    splits: Sequence[str] = SPLITS,
    errors: str = "strict",
) -> dict[str, LabelledTexts]:
    """Load the requested splits of a named dataset or a local file.

    ``dataset`` is one of :data:`HUB_DATASETS` or a path. With ``data_dir`` a named dataset is read
    from its original release layout; without it, from the hub. A file has a single split, returned
    under every requested split name. ``errors`` is the UTF-8 policy of :func:`textkit.io.iter_lines`.

    >>> load_classification_splits("sogou_news", data_dir="sogou_news_csv", splits=["test"])["test"].labels[:2]
    ['1', '1']
    """
    for s in splits:
        if s not in SPLITS:
            raise UsageError(f"split must be train or test, not {s!r}")
    if dataset in HUB_DATASETS:
        spec = HUB_DATASETS[dataset]
        if data_dir is not None:
            return {s: _read_release(spec, Path(data_dir).expanduser(), s, errors) for s in splits}
        return {s: _read_hub(dataset, spec, s, revision) for s in splits}
    if data_dir is not None:
        raise UsageError(f"data_dir applies to the named datasets ({', '.join(HUB_DATASETS)}), not to a file")
    path = Path(dataset).expanduser()
    if not path.exists():
        raise UsageError(f"{dataset}: neither a file nor a named dataset ({', '.join(HUB_DATASETS)})")
    data = read_labelled_file(path, text_field=text_field, label_field=label_field, errors=errors)
    return {s: data for s in splits}


# ---------------------------------------------------------------- original release layouts


def _read_release(spec: HubDataset, data_dir: Path, split: str, errors: str) -> LabelledTexts:
    if not data_dir.is_dir():
        raise InputFileError(f"{data_dir}: no such folder; data_dir must hold {RELEASE_HINT[spec.layout]}")
    if spec.layout == "aclimdb":
        return read_aclimdb(data_dir, split, errors)
    return read_zhang_csv(data_dir / f"{split}.csv", spec.n_classes, errors)


def read_aclimdb(root: PathLike, split: str, errors: str = "strict") -> LabelledTexts:
    """Read ``root/aclImdb/SPLIT/{pos,neg}/*.txt`` (or ``root/SPLIT/...``); labels ``neg``/``pos``.

    The ``unsup`` folder (unlabelled reviews) is left out. ``<br />`` tags become spaces.
    """
    root = Path(root)
    base = root / "aclImdb" if (root / "aclImdb").is_dir() else root
    out = LabelledTexts()
    for label in ("neg", "pos"):
        folder = base / split / label
        if not folder.is_dir():
            raise InputFileError(f"{folder}: missing; expected {RELEASE_HINT['aclimdb']}")
        for f in sorted(folder.glob("*.txt")):
            out.texts.append(" ".join(iter_lines(f, errors=errors)).replace("<br />", " "))
            out.labels.append(label)
    _check_labelled(out, base / split)
    return out


def read_zhang_csv(path: PathLike, n_classes: int | None = None, errors: str = "strict") -> LabelledTexts:
    """Read a headerless Zhang et al. CSV: ``"label","title","content"`` (labels 1..K).

    Title and content are joined with a space; the release's escaped newlines (``\\n``) become
    spaces. Labels stay strings ("1".."K").
    """
    p = check_readable(path)
    out = LabelledTexts()
    for lineno, row in _csv_rows(p, ",", errors):
        if len(row) < 2:
            raise InputFileError(f"{p}: line {lineno}: expected label,title,content, got {len(row)} field(s)")
        label = row[0].strip()
        if not is_int(label) or (n_classes is not None and not 1 <= int(label) <= n_classes):
            raise InputFileError(f"{p}: line {lineno}: label {label!r} is not an integer in 1..{n_classes or 'K'}")
        text = " ".join(part.strip() for part in row[1:] if part.strip()).replace("\\n", " ")
        out.texts.append(text)
        out.labels.append(str(int(label)))
    _check_labelled(out, p)
    return out


def _csv_rows(path: Path, delimiter: str, errors: str = "strict") -> Iterator[tuple[int, list[str]]]:
    # Reviews can hold very long fields; the default 128 KiB cap would stop on a long one.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    lines = iter_lines(path, errors=errors, keepends=True)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if row and any(x.strip() for x in row):
                yield reader.line_num, row
    except csv.Error as e:
        raise InputFileError(f"{path}: line {reader.line_num}: malformed CSV ({e})") from None


# ---------------------------------------------------------------- any local file


def read_labelled_file(
    path: PathLike, text_field: str | None = None, label_field: str | None = None, errors: str = "strict"
) -> LabelledTexts:
    """Read a labelled file, chosen by suffix (a ``.gz``/``.bz2``/``.xz`` ending is looked through).

    * ``.csv`` / ``.tsv``: a header row naming the columns; ``text_field`` (default ``text``) and
      ``label_field`` (default ``label``). Several text fields may be given comma-separated
      (``title,content``): they are joined with a space.
    * ``.jsonl`` / ``.json`` (one object per line): the same field names; labels may be ints.
    * anything else: fastText format, one example per line, ``__label__X`` tokens then the text.

    >>> read_labelled_file("reviews.tsv", text_field="review", label_field="stars").labels[:3]
    ['5', '1', '4']
    """
    p = check_readable(path)
    suffixes = [s.lower() for s in p.suffixes if s.lower() not in (".gz", ".bz2", ".xz")]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".csv", ".tsv"):
        data = _read_table(p, "\t" if kind == ".tsv" else ",", text_field or "text", label_field or "label", errors)
    elif kind in (".jsonl", ".json", ".ndjson"):
        data = _read_jsonl(p, text_field or "text", label_field or "label", errors)
    else:
        if text_field or label_field:
            raise UsageError(f"{p}: text and label fields apply to .csv, .tsv and .jsonl files only")
        data = _read_fasttext_format(p, errors)
    _check_labelled(data, p)
    return data


def _read_table(p: Path, delimiter: str, text_field: str, label_field: str, errors: str) -> LabelledTexts:
    rows = _csv_rows(p, delimiter, errors)
    first = next(rows, None)
    if first is None:
        raise InputFileError(f"{p}: empty file; expected a header row and labelled examples")
    header = [h.strip() for h in first[1]]
    text_cols = [_column(p, header, name, "text field") for name in text_field.split(",")]
    label_col = _column(p, header, label_field, "label field")
    out = LabelledTexts()
    for lineno, row in rows:
        if len(row) != len(header):
            raise InputFileError(f"{p}: line {lineno}: {len(row)} fields, but the header has {len(header)}")
        out.texts.append(" ".join(row[c].strip() for c in text_cols if row[c].strip()))
        out.labels.append(row[label_col].strip())
    return out


def _column(p: Path, header: list[str], name: str, option: str) -> int:
    if name not in header:
        raise InputFileError(f"{p}: no column {name!r} (columns: {', '.join(header)}); choose another {option}")
    return header.index(name)


def _read_jsonl(p: Path, text_field: str, label_field: str, errors: str) -> LabelledTexts:
    out = LabelledTexts()
    text_fields = text_field.split(",")
    for lineno, line in enumerate(iter_lines(p, errors=errors), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFileError(f"{p}: line {lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise InputFileError(f"{p}: line {lineno}: expected a JSON object per line")
        for name in (*text_fields, label_field):
            if name not in obj:
                option = "label field" if name == label_field else "text field"
                raise InputFileError(
                    f"{p}: line {lineno}: no field {name!r} (fields: {', '.join(obj)}); choose another {option}"
                )
        label = obj[label_field]
        if not isinstance(label, (str, int)) or isinstance(label, bool):
            raise InputFileError(f"{p}: line {lineno}: label must be a string or an integer, got {label!r}")
        out.texts.append(" ".join(str(obj[name]).strip() for name in text_fields if str(obj[name]).strip()))
        out.labels.append(str(label).strip())
    return out


FASTTEXT_LABEL = "__label__"


def _read_fasttext_format(p: Path, errors: str) -> LabelledTexts:
    out = LabelledTexts()
    for lineno, line in enumerate(iter_lines(p, errors=errors), 1):
        head = line.lstrip()
        if head.startswith(FASTTEXT_LABEL) and line.count(FASTTEXT_LABEL) == 1:  # the usual line, read fast
            label, *rest = head.split(None, 1)
            out.texts.append(" ".join(rest[0].split()) if rest else "")
            out.labels.append(label[len(FASTTEXT_LABEL) :])
            continue
        words = line.split()
        if not words:
            continue
        labels = [w[len(FASTTEXT_LABEL) :] for w in words if w.startswith(FASTTEXT_LABEL)]
        if len(labels) != 1:
            raise InputFileError(
                f"{p}: line {lineno}: expected exactly one {FASTTEXT_LABEL}X label (fastText format), "
                f"found {len(labels)}; "
                "for CSV/TSV/JSONL files use the .csv/.tsv/.jsonl suffix"
            )
        out.texts.append(" ".join(w for w in words if not w.startswith(FASTTEXT_LABEL)))
        out.labels.append(labels[0])
    return out


def _check_labelled(data: LabelledTexts, source: PathLike) -> None:
    if not len(data):
        raise InputFileError(f"{source}: no labelled examples found (is it empty?)")
    empty = [i for i, label in enumerate(data.labels) if not label]
    if empty:
        raise InputFileError(f"{source}: example {empty[0] + 1} has an empty label")


# ---------------------------------------------------------------- the hub


def _read_hub(name: str, spec: HubDataset, split: str, revision: str | None) -> LabelledTexts:
    ds = load_hub_dataset(
        spec.repo,
        None,
        split,
        revision or spec.revision,
        f"{name} ({spec.repo})",
        f"download the original release and give its folder as data_dir (it holds {RELEASE_HINT[spec.layout]})",
    )
    return hub_to_labelled(ds, spec)


def hub_to_labelled(ds, spec: HubDataset) -> LabelledTexts:
    """Normalise a hub split (anything with ``column_names``/``features`` and columns) to text + label.

    Labels match the offline release: IMDB's class names (``neg``/``pos``), and the 1..K numbering
    of the Zhang et al. CSV files for Sogou news and Amazon (``ClassLabel`` index + 1).
    """
    missing = [c for c in (*spec.text_columns, spec.label_column) if c not in ds.column_names]
    if missing:
        raise DatasetUnavailableError(
            f"{spec.repo}: hub copy lacks column(s) {', '.join(missing)}; choose another revision or use data_dir"
        )
    names = getattr(ds.features[spec.label_column], "names", None)
    columns = [ds[c] for c in spec.text_columns]
    texts = [" ".join(str(part).strip() for part in parts if part and str(part).strip()) for parts in zip(*columns)]
    values = ds[spec.label_column]
    if names and spec.layout == "zhang_csv":
        # The release numbers classes 1..K; keeping that numbering lets a model trained on the hub
        # copy be scored on the CSV files and the other way round.
        labels = [str(y + 1) for y in values]
    else:
        labels = [names[y] if names else str(y) for y in values]
    out = LabelledTexts(texts, labels)
    _check_labelled(out, spec.repo)
    return out


def describe(name: str) -> str:
    """One line on where a named dataset comes from."""
    spec = HUB_DATASETS[name]
    return f"{name}: {spec.repo}@{spec.revision} ({spec.n_classes} classes; offline: {RELEASE_HINT[spec.layout]})"


__all__ = [
    "HUB_DATASETS",
    "LabelledTexts",
    "describe",
    "hub_to_labelled",
    "k_folds",
    "load_classification_splits",
    "read_aclimdb",
    "read_labelled_file",
    "read_zhang_csv",
    "sort_labels",
    "train_validation_split",
]
