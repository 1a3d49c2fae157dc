"""textkit.artifacts: the transactional model-folder writer, config checks, the kind registry,
textkit.load, and tokenizers that save themselves into a model folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import textkit
from textkit.artifacts import (
    KINDS,
    OutputExistsError,
    artifact_transaction,
    load_tokenizer,
    load_vocab,
    load_weights,
    read_config,
    save_artifact,
    write_config,
)
from textkit.errors import ModelFileError, OutputError
from textkit.tokenize import get_tokenizer, tokenizer_from_config, train_sentencepiece
from textkit.vocab import Vocab


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_save_artifact_writes_one_folder(tmp_path):
    vocab = Vocab.build([["a", "b", "a"]], specials=("<unk>",))
    out = save_artifact(
        tmp_path / "m",
        "lm.neural",
        {"hidden_dim": 3},
        tensors={"w": np.ones((2, 3), np.float32)},
        vocab=vocab,
        tokenizer=get_tokenizer("en", lowercase=False),
    )
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "vocab.json", "weights.safetensors"]
    config = read_config(out)
    assert config["format"] == "textkit" and config["version"] == 1 and config["kind"] == "lm.neural"
    assert config["hidden_dim"] == 3 and config["tokenizer"] == {"name": "en", "lowercase": False}
    assert load_vocab(out) == vocab
    np.testing.assert_array_equal(load_weights(out, framework="np")["w"], np.ones((2, 3), np.float32))
    assert leftovers(tmp_path) == []


def test_existing_folder_is_refused_before_any_work(tmp_path):
    (tmp_path / "m").mkdir()
    ran = []
    with pytest.raises(OutputExistsError, match="already exists"):
        with artifact_transaction(tmp_path / "m"):
            ran.append(1)
    assert ran == []


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_failure_keeps_the_old_model_and_leaves_nothing(tmp_path, failure):
    old = save_artifact(tmp_path / "m", "lm.neural", {"hidden_dim": 1}, tensors={"w": np.zeros(3, np.float32)})
    before = snapshot(old)
    with pytest.raises(type(failure)):
        with artifact_transaction(old, force=True) as tmp:
            (tmp / "weights.safetensors").write_bytes(b"half")
            raise failure
    assert snapshot(old) == before
    assert leftovers(tmp_path) == []


def test_force_replaces_at_the_end(tmp_path):
    old = save_artifact(tmp_path / "m", "lm.neural", {"hidden_dim": 1})
    with artifact_transaction(old, force=True) as tmp:
        assert read_config(old)["hidden_dim"] == 1  # still the old model while the new one is written
        write_config(tmp, "lm.neural", {"hidden_dim": 2})
    assert read_config(old)["hidden_dim"] == 2
    assert leftovers(tmp_path) == []


def test_failure_removes_parent_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with artifact_transaction(tmp_path / "a" / "b" / "m"):
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_parent_is_one_clear_error(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            with artifact_transaction(tmp_path / "m"):
                pass
    finally:
        tmp_path.chmod(0o700)


def test_sigterm_removes_the_temporary_folder(tmp_path):
    old = save_artifact(tmp_path / "m", "lm.neural", {"hidden_dim": 1})
    before = snapshot(old)
    script = textwrap.dedent(f"""
        import sys, time
        from textkit.artifacts import artifact_transaction
        with artifact_transaction({str(old)!r}, force=True) as tmp:
            (tmp / "config.json").write_text("{{}}")
            print("ready", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    assert snapshot(old) == before
    assert leftovers(tmp_path) == []


def test_read_config_checks_format_kind_and_family(tmp_path):
    with pytest.raises(ModelFileError, match="no such model"):
        read_config(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="no config.json"):
        read_config(tmp_path / "empty")
    folder = save_artifact(tmp_path / "clf", "classifier.bow", {})
    with pytest.raises(ModelFileError, match=r"is a classifier \(bow\), not a language model"):
        read_config(folder, family="lm")
    (folder / "config.json").write_text(json.dumps({"format": "textkit", "version": 1, "kind": "lm.unknown"}))
    with pytest.raises(ModelFileError, match="unknown model kind"):
        read_config(folder)
    (folder / "config.json").write_text(json.dumps({"format": "textkit", "version": 99, "kind": "lm.ngram"}))
    with pytest.raises(ModelFileError, match="newer"):
        read_config(folder)
    (folder / "config.json").write_text("[1, 2")
    with pytest.raises(ModelFileError, match="not a valid model config"):
        read_config(folder)


def test_read_config_upgrades_textkit_0_1_configs(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps({"format": "textkit.lm", "version": 1, "kind": "rnn"}))
    assert read_config(tmp_path / "old", family="lm")["kind"] == "lm.neural"


def test_every_registered_kind_names_an_importable_loader():
    from textkit.artifacts import loader_for

    for kind in KINDS:
        assert callable(loader_for(kind)), kind


def test_textkit_load_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(ModelFileError, match="no such model"):
        textkit.load(tmp_path / "missing")
    (tmp_path / "notes.odt").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="not a model folder"):
        textkit.load(tmp_path / "notes.odt")


# ---- tokenizers saving themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, options",
    [
        ("en", {"lowercase": False}),
        ("whitespace", {"lowercase": True}),
        ("char", {"space_token": "_"}),
        ("zh", {"mode": "search", "hmm": False, "lowercase": True}),
    ],
)
def test_tokenizer_config_round_trip(tmp_path, spec, options):
    tok = get_tokenizer(spec, **options)
    config = json.loads(json.dumps(tok.to_config(tmp_path)))
    again = tokenizer_from_config(config, tmp_path)
    assert type(again) is type(tok)
    assert again.to_config(tmp_path) == config
    text = "Hello  World, 我在北京使用iPhone 15"
    assert again(text) == tok(text)


def test_user_dictionary_travels_with_the_model(tmp_path):
    user_dict = tmp_path / "words.txt"
    user_dict.write_text("云计算平台 50 n\n深度求索\n", encoding="utf-8")
    tok = get_tokenizer("zh", user_dict=user_dict)
    text = "深度求索的云计算平台"
    expected = tok(text)
    assert "云计算平台" in expected and "深度求索" in expected
    model = save_artifact(tmp_path / "m", "lm.ngram", {}, tokenizer=tok)
    user_dict.unlink()  # the model must not depend on the user's file any more
    again = load_tokenizer(model, read_config(model))
    assert again(text) == expected
    assert again.mode == "precise" and again.hmm is True


def test_sentencepiece_model_travels_with_the_model(tmp_path):
    lines = [f"the {w} sat on the mat with {v}" for w in ("cat", "dog", "bird") for v in ("joy", "care", "ease")] * 20
    spm_path = train_sentencepiece(lines, tmp_path / "sp", vocab_size=40, model_type="bpe")
    tok = get_tokenizer(f"spm:{spm_path}")
    expected = tok("the dog sat with care")
    model = save_artifact(tmp_path / "m", "lm.ngram", {}, tokenizer=tok)
    spm_path.unlink()
    again = load_tokenizer(model, read_config(model))
    assert again("the dog sat with care") == expected


def test_tokenizer_config_written_by_textkit_0_1_still_loads(tmp_path):
    tok = tokenizer_from_config({"spec": "en", "options": {"lowercase": False}}, tmp_path)
    assert tok("Hi") == ["Hi"]
    with pytest.raises(ModelFileError, match="unknown tokenizer"):
        tokenizer_from_config({"name": "klingon"}, tmp_path)
    with pytest.raises(ModelFileError, match="bad tokenizer entry"):
        tokenizer_from_config({"name": "en", "colour": 3}, tmp_path)


# ---- packaging --------------------------------------------------------------------------------------


def test_a_regular_install_finds_the_named_samples(tmp_path):
    pytest.importorskip("setuptools")
    root = Path(__file__).resolve().parent.parent
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("textkit-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import textkit.corpora as c; p = c.resolve_corpus('en_sample'); "
        "print(c.__file__); print(p); print(sum(1 for _ in c.read_corpus('zh_sample')))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    module, sample, zh_lines = out.stdout.split("\n")[:3]
    assert module.startswith(str(site)) and sample.startswith(str(site))
    assert int(zh_lines) > 100
