"""WikiText loading: the local release layout, the joining rule, and a clear error without the hub."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from textkit.datasets import wikitext
from textkit.datasets.wikitext import hub_config, load_wikitext
from textkit.errors import DatasetUnavailableError, UsageError

# Rows as the release files have them: a leading space, empty rows around headings.
VALID_ROWS = [
    "",
    " = Valkyria Chronicles III = ",
    "",
    " Senjō no Valkyria 3 : <unk> Chronicles is a tactical role @-@ playing game . ",
    " It was released in 2011 . ",
    "",
    " = = Gameplay = = ",
    "",
    " The game 's battle system is like that of its predecessors . ",
    "",
]
EXPECTED = [
    "= Valkyria Chronicles III =",
    "Senjō no Valkyria 3 : <unk> Chronicles is a tactical role @-@ playing game .",
    "It was released in 2011 .",
    "= = Gameplay = =",
    "The game 's battle system is like that of its predecessors .",
]


def write_release(folder, rows_by_split, suffix="tokens"):
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in rows_by_split.items():
        (folder / f"wiki.{split}.{suffix}").write_text("".join(row + "\n" for row in rows), encoding="utf-8")
    return folder


@pytest.fixture()
def release(tmp_path):
    return write_release(tmp_path / "wt2", {"train": VALID_ROWS * 3, "valid": VALID_ROWS, "test": VALID_ROWS[:5]})


def test_joining_rule_strips_drops_empty_and_keeps_headings(release):
    assert load_wikitext("wikitext-2", "valid", data_dir=release) == EXPECTED
    assert load_wikitext("wikitext-2", "validation", data_dir=release) == EXPECTED
    assert load_wikitext("wikitext-2", "test", data_dir=release) == EXPECTED[:3]
    assert len(load_wikitext("wikitext-2", "train", data_dir=release)) == 3 * len(EXPECTED)


def test_raw_files_and_release_subfolders(tmp_path):
    write_release(tmp_path / "wikitext-103-raw", {"valid": VALID_ROWS}, suffix="raw")
    assert load_wikitext("wikitext-103", "valid", raw=True, data_dir=tmp_path) == EXPECTED
    with pytest.raises(DatasetUnavailableError, match="wiki.valid.tokens"):
        load_wikitext("wikitext-103", "valid", raw=False, data_dir=tmp_path)


def test_missing_folder_and_bad_names(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="no such folder"):
        load_wikitext("wikitext-2", "valid", data_dir=tmp_path / "nope")
    with pytest.raises(UsageError, match="wikitext-2 or wikitext-103"):
        load_wikitext("wikitext-3", "valid", data_dir=tmp_path)
    with pytest.raises(UsageError, match="split"):
        load_wikitext("wikitext-2", "dev", data_dir=tmp_path)


def test_hub_configs():
    assert hub_config("wikitext-2", raw=False) == "wikitext-2-v1"
    assert hub_config("wikitext-103", raw=True) == "wikitext-103-raw-v1"


def test_hub_rows_go_through_the_same_rule(monkeypatch):
    calls = []

    def fake_load_dataset(path, config, split, revision):
        calls.append((path, config, split, revision))
        return [{"text": row + "\n" if row else ""} for row in VALID_ROWS]

    import datasets

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert load_wikitext("wikitext-2", "valid", raw=True) == EXPECTED
    assert calls == [("Salesforce/wikitext", "wikitext-2-raw-v1", "validation", wikitext.HUB_REVISION)]


def test_hub_failure_says_how_to_use_a_local_copy(monkeypatch):
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'Salesforce/wikitext' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(DatasetUnavailableError, match="data_dir"):
        load_wikitext("wikitext-103", "test")


def test_offline_hub_gives_dataset_unavailable_without_network(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = (
        "from textkit.datasets.wikitext import load_wikitext\n"
        "from textkit.errors import DatasetUnavailableError\n"
        "try:\n    load_wikitext('wikitext-2', 'valid')\n"
        "except DatasetUnavailableError as e:\n    print('unavailable:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("unavailable:") and "data_dir" in out.stdout, out.stderr


def test_unreachable_hub_fails_fast_in_offline_mode(monkeypatch):
    from textkit.datasets import hub

    seen = {}

    def fake_load_dataset(*args, **kwargs):
        seen["offline"] = os.environ.get("HF_HUB_OFFLINE")
        raise FileNotFoundError("no cached copy")

    import datasets

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(DatasetUnavailableError, match="unreachable and no cached copy.*data_dir"):
        load_wikitext("wikitext-2", "test")
    assert seen["offline"] == "1"  # a cached copy would still have been used
    assert "HF_HUB_OFFLINE" not in os.environ  # and the user's environment is restored
