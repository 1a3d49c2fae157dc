"""Classification datasets: original release layouts, local files, hub normalisation, splits, folds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.datasets import classification as dc
from textkit.datasets.classification import (
    HUB_DATASETS,
    LabelledTexts,
    k_folds,
    load_classification_splits,
    read_labelled_file,
    train_validation_split,
)
from textkit.errors import DatasetUnavailableError, InputFileError, UsageError


def write_aclimdb(root):
    for split in ("train", "test"):
        for label, words in (("pos", "great fun"), ("neg", "dull mess")):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(
                    f"A {words} film {i}.<br /><br />The end.", encoding="utf-8"
                )
    (root / "aclImdb" / "train" / "unsup").mkdir()
    (root / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf-8")


def test_aclimdb_layout_reads_both_splits_and_skips_unsup(tmp_path):
    write_aclimdb(tmp_path)
    data = load_classification_splits("imdb", data_dir=tmp_path)
    assert len(data["train"]) == 6 and len(data["test"]) == 6
    assert sorted(set(data["train"].labels)) == ["neg", "pos"]
    assert all("<br />" not in t for t in data["train"].texts)
    assert "unlabelled" not in data["train"].texts


def test_aclimdb_missing_folder_names_the_layout(tmp_path):
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    with pytest.raises(InputFileError, match="train/neg"):
        load_classification_splits("imdb", data_dir=tmp_path, splits=["train"])


def write_zhang(folder, rows_by_split):
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in rows_by_split.items():
        (folder / f"{split}.csv").write_text(
            "".join(f'"{y}","{title}","{body}"\n' for y, title, body in rows), encoding="utf-8"
        )


@pytest.mark.parametrize("name", ["sogou_news", "amazon_polarity", "amazon_full"])
def test_zhang_csv_joins_title_and_content(tmp_path, name):
    rows = [(1, "ti1", "body one\\nline two"), (2, "ti2", 'say ""hi""')]
    write_zhang(tmp_path, {"train": rows, "test": rows[:1]})
    data = load_classification_splits(name, data_dir=tmp_path)
    assert data["train"].labels == ["1", "2"]
    assert data["train"].texts == ["ti1 body one line two", 'ti2 say "hi"']
    assert len(data["test"]) == 1


def test_zhang_csv_rejects_label_out_of_range(tmp_path):
    write_zhang(tmp_path, {"train": [(7, "t", "b")]})
    with pytest.raises(InputFileError, match="1..2"):
        load_classification_splits("amazon_polarity", data_dir=tmp_path, splits=["train"])


def test_missing_data_dir_says_what_it_should_hold(tmp_path):
    with pytest.raises(InputFileError, match="train.csv"):
        load_classification_splits("sogou_news", data_dir=tmp_path / "nope")


def test_csv_with_string_labels_and_several_text_fields(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('title,body,stars\nGood,"Loved it, truly",five\nBad,Hated it,one\n', encoding="utf-8")
    data = read_labelled_file(p, text_field="title,body", label_field="stars")
    assert data.texts == ["Good Loved it, truly", "Bad Hated it"]
    assert data.labels == ["five", "one"]


def test_tsv_default_fields(tmp_path):
    p = tmp_path / "r.tsv"
    p.write_text("text\tlabel\nfine day\t1\nbad day\t0\n", encoding="utf-8")
    assert read_labelled_file(p).labels == ["1", "0"]


def test_jsonl_integer_and_string_labels(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(
        "\n".join(json.dumps(o) for o in [{"review": "ok", "y": 3}, {"review": "meh", "y": "x"}]) + "\n",
        encoding="utf-8",
    )
    data = read_labelled_file(p, text_field="review", label_field="y")
    assert data.labels == ["3", "x"]


def test_fasttext_format(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("__label__pos great film\n\n__label__neg awful\n", encoding="utf-8")
    data = read_labelled_file(p)
    assert data.texts == ["great film", "awful"] and data.labels == ["pos", "neg"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["pos", "neg", "x__label__y"]),
            st.lists(st.sampled_from(["good", "__label__a", "b__label__", "\t", "  ", "夜"]), max_size=5),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_fasttext_format_lines_read_like_their_words(tmp_path_factory, rows):
    """Every line reads as: its one __label__X word is the label, the other words joined by spaces."""
    p = tmp_path_factory.mktemp("ft") / "r.txt"
    lines = [(" " if indent else "") + " ".join([f"__label__{label}", *words]) for label, words, indent in rows]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = LabelledTexts()
    for line in lines:
        words = line.split()
        labels = [w[len("__label__") :] for w in words if w.startswith("__label__")]
        if len(labels) != 1:
            with pytest.raises(InputFileError, match="exactly one __label__"):
                read_labelled_file(p)
            return
        expected.texts.append(" ".join(w for w in words if not w.startswith("__label__")))
        expected.labels.append(labels[0])
    assert read_labelled_file(p) == expected


@pytest.mark.parametrize(
    "name, content, kwargs, match",
    [
        ("empty.csv", "", {}, "empty file"),
        ("header_only.csv", "text,label\n", {}, "no labelled examples"),
        ("cols.csv", "body,label\nx,1\n", {}, "no column 'text'.*text field"),
        ("cols.jsonl", '{"text": "x"}\n', {}, "no field 'label'.*label field"),
        ("bad.jsonl", "{not json}\n", {}, "line 1: not valid JSON"),
        ("ragged.csv", "text,label\nx,1,extra\n", {}, "3 fields, but the header has 2"),
        ("nolabel.txt", "just text\n", {}, "exactly one __label__"),
        ("emptylabel.csv", "text,label\nx,\n", {}, "empty label"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, name, content, kwargs, match):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError, match=match):
        read_labelled_file(p, **kwargs)


def test_unknown_dataset_name():
    with pytest.raises(UsageError, match="neither a file nor a named dataset"):
        load_classification_splits("no_such_dataset_xyz")


def test_hub_unreachable_points_to_data_dir(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DatasetUnavailableError, match="data_dir.*aclImdb"):
        load_classification_splits("imdb", splits=["test"])


def test_hub_split_is_normalised_to_text_and_label_names():
    import datasets

    spec = HUB_DATASETS["amazon_polarity"]
    features = datasets.Features(
        {
            "title": datasets.Value("string"),
            "content": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
        }
    )
    ds = datasets.Dataset.from_dict(
        {"title": ["Meh", ""], "content": ["not good", "great"], "label": [0, 1]}, features=features
    )
    data = dc.hub_to_labelled(ds, spec)
    assert data.texts == ["Meh not good", "great"]
    assert data.labels == ["1", "2"]  # the numbering of the release's CSV files


def test_hub_imdb_keeps_class_names_like_aclimdb():
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    ds = datasets.Dataset.from_dict({"text": ["bad", "good"], "label": [0, 1]}, features=features)
    assert dc.hub_to_labelled(ds, HUB_DATASETS["imdb"]).labels == ["neg", "pos"]


def test_data_dir_with_a_file_is_a_usage_error(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("__label__a x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="data_dir applies"):
        load_classification_splits(str(p), data_dir=tmp_path)


def test_hub_copy_without_expected_columns():
    import datasets

    ds = datasets.Dataset.from_dict({"sentence": ["x"], "label": [0]})
    with pytest.raises(DatasetUnavailableError, match="content"):
        dc.hub_to_labelled(ds, HUB_DATASETS["sogou_news"])


def labelled(n, k=3):
    return LabelledTexts([f"text {i}" for i in range(n)], [str(i % k) for i in range(n)])


def test_validation_split_is_seeded_stratified_and_disjoint():
    data = labelled(100)
    train, valid = train_validation_split(data, 0.2, seed=3)
    again, _ = train_validation_split(data, 0.2, seed=3)
    assert train.texts == again.texts
    assert len(valid) == 20 and not set(train.texts) & set(valid.texts)
    assert sorted(valid.labels.count(c) for c in "012") == [6, 7, 7]


def test_validation_fraction_must_be_a_fraction():
    with pytest.raises(UsageError):
        train_validation_split(labelled(10), 1.5)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 60), k=st.integers(2, 4), seed=st.integers(0, 5))
def test_folds_partition_the_data(n, k, seed):
    data = labelled(n)
    k = min(k, n)
    held = []
    for train, test in k_folds(data, k, seed=seed):
        assert not set(train.texts) & set(test.texts)
        assert len(train) + len(test) == n
        held += test.texts
    assert sorted(held) == sorted(data.texts)


def test_label_sorting_is_numeric_for_integers():
    assert dc.sort_labels({"10", "2", "1"}) == ["1", "2", "10"]
    assert dc.sort_labels({"b", "a"}) == ["a", "b"]
