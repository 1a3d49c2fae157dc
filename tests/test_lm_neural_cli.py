"""textkit train-lm --model rnn|lstm|gru, then eval-ppl and generate on the result (in-process CLI)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest
from textkit_cli import lm_neural
from textkit_cli.common import run_guarded
from textkit_cli.main import cli

from textkit.lm import evaluate, load_language_model

LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog", "the dog saw the cat"] * 25
SMALL = [
    "--embed-dim",
    12,
    "--hidden-dim",
    12,
    "--layers",
    1,
    "--bptt",
    6,
    "--batch-size",
    4,
    "--optimizer",
    "adam",
    "--no-progress",
    "--device",
    "cpu",
]


def textkit(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_guarded(cli, [str(a) for a in args])
    sys.stdout.flush()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_train_eval_generate(tmp_path, corpus):
    out = tmp_path / "gru"
    code, stdout, err = textkit(
        "train-lm", corpus, "--model", "gru", *SMALL, "--epochs", 2, "--tied", "-o", out, "--json"
    )
    assert code == 0, err
    figures = json.loads(stdout)
    assert figures["epochs"] == 2 and isinstance(figures["tokens_per_sec"], float)  # reported (its value is a timing)
    assert figures["valid_perplexity"] < figures["train_perplexity"] * 10
    assert "valid ppl" in err  # the epoch log goes to stderr
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "lm.neural" and config["model"] == "gru" and config["tied"] is True
    assert (out / "perplexity.png").exists()

    test = tmp_path / "test.txt"
    test.write_text("the cat sat on the log\na zebra saw the dog\n")
    code, stdout, err = textkit("eval-ppl", out, "--file", test, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    expected = evaluate(load_language_model(out), ["the cat sat on the log", "a zebra saw the dog"])
    assert result["perplexity"] == pytest.approx(expected.perplexity)
    assert result["tokens"] == 6 + 1 + 5 + 1 and result["oov_rate"] == pytest.approx(1 / 13)

    first = textkit("generate", out, "--prefix", "the cat", "--length", 8, "--seed", 4, "--top-k", 3)
    assert first[0] == 0 and first[1].startswith("the cat")
    assert textkit("generate", out, "--prefix", "the cat", "--length", 8, "--seed", 4, "--top-k", 3) == first


def test_resume_through_the_cli(tmp_path, corpus):
    out = tmp_path / "lstm"
    assert textkit("train-lm", corpus, "--model", "lstm", *SMALL, "--epochs", 1, "-o", out)[0] == 0
    code, stdout, err = textkit(
        "train-lm", "--model", "lstm", "-o", out, "--resume", "--epochs", 2, "--json", "--no-progress"
    )
    assert code == 0, err
    figures = json.loads(stdout)
    assert figures["epochs"] == 2
    assert err.count("valid ppl") == 1  # only the second epoch was trained


def test_demo_without_arguments(tmp_path, corpus, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(lm_neural.DEMO, "corpus", str(corpus))  # the real demo reads the 460k-word sample
    code, stdout, err = textkit(
        "train-lm",
        "--model",
        "lstm",
        "--embed-dim",
        8,
        "--hidden-dim",
        8,
        "--layers",
        1,
        "--batch-size",
        4,
        "--bptt",
        5,
        "--no-progress",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert "valid perplexity" in stdout and "sample:" in stdout
    saved = json.loads((tmp_path / lm_neural.DEMO_OUTPUT.format(model="lstm") / "config.json").read_text())
    assert saved["training"]["epochs"] == lm_neural.DEMO["epochs"] and saved["tokenizer"]["name"] == "en"


def test_bad_input_is_one_line_without_traceback(tmp_path, corpus):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    good = tmp_path / "good"
    assert textkit("train-lm", corpus, "--model", "rnn", *SMALL, "--epochs", 1, "-o", good)[0] == 0
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "vocab.json", "checkpoint.safetensors"):
        (corrupt / name).write_bytes((good / name).read_bytes())
    (corrupt / "checkpoint.safetensors").write_bytes(b"\x00" * 64)
    mismatched = tmp_path / "mismatched"
    mismatched.mkdir()
    for name in ("config.json", "weights.safetensors"):
        (mismatched / name).write_bytes((good / name).read_bytes())
    (mismatched / "vocab.json").write_text(
        json.dumps(
            {
                "format": "textkit.vocab",
                "version": 1,
                "specials": ["<unk>", "<pad>", "<bos>", "<eos>"],
                "unk_token": "<unk>",
                "tokens": ["<unk>", "<pad>", "<bos>", "<eos>", "x"],
                "freqs": [0, 0, 0, 0, 1],
            }
        )
    )
    cases = [
        (("train-lm", empty, "--model", "lstm", *SMALL, "-o", tmp_path / "e"), 1, "non-blank lines"),
        (("train-lm", corpus, "--model", "lstm", *SMALL, "-o", good), 2, "already exists"),
        (("train-lm", "--model", "rnn", "-o", corrupt, "--resume"), 1, "not a valid safetensors"),
        (("train-lm", "--model", "lstm", "-o", tmp_path / "none", "--resume"), 1, "no training checkpoint"),
        (("eval-ppl", mismatched, "--file", corpus), 1, "does not belong to this model"),
        (
            ("train-lm", corpus, "--model", "gru", "--vocab", tmp_path / "v.json", "-o", tmp_path / "v"),
            2,
            "--vocab only applies with --model ngram",
        ),
        (("train-lm", corpus, "--model", "gru", "--optimizer", "lbfgs", "-o", tmp_path / "o"), 2, "--optimizer"),
        (("train-lm", corpus, "--model", "gru", *SMALL, "--batch-size", 500, "-o", tmp_path / "b"), 1, "too short"),
    ]
    for args, expected_code, message in cases:
        code, stdout, err = textkit(*args)
        assert code == expected_code, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_wikitext_from_a_local_copy(tmp_path):
    data = tmp_path / "wikitext-2"
    data.mkdir()
    rows = ["", " = Cats = ", ""] + [f" {line} " for line in LINES]
    for split in ("train", "valid", "test"):
        (data / f"wiki.{split}.tokens").write_text("".join(r + "\n" for r in (rows if split == "train" else rows[:12])))
    out = tmp_path / "wt"
    code, stdout, err = textkit(
        "train-lm",
        "--dataset",
        "wikitext-2",
        "--data-dir",
        data,
        "--model",
        "lstm",
        *SMALL,
        "--epochs",
        1,
        "-o",
        out,
        "--json",
    )
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["data"] == {"dataset": "wikitext-2", "raw": False, "data_dir": str(data)}
    code, stdout, err = textkit(
        "eval-ppl", out, "--dataset", "wikitext-2", "--split", "test", "--data-dir", data, "--json"
    )
    assert code == 0, err
    # the joining rule drops empty rows and keeps the heading (= Cats =): 10 lines, each ends with <eos>
    assert json.loads(stdout)["tokens"] == 3 + 1 + sum(len(x.split()) + 1 for x in LINES[:9])


def test_options_of_the_other_family_are_refused(tmp_path, corpus):
    for args, message in [
        (("--model", "lstm", "--order", 4), "--order only applies with --model ngram"),
        (("--model", "gru", "--smoothing", "kn", "--gzip"), "--smoothing, --gzip only apply with --model ngram"),
        (("--epochs", 3), "--epochs only applies with --model rnn|lstm|gru"),
        (("--softmax", "adaptive"), "--softmax only applies with --model rnn|lstm|gru"),
    ]:
        code, stdout, err = textkit("train-lm", corpus, *args, "-o", tmp_path / "x")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "x").exists()


def test_valid_fraction_zero_valid_file_and_adaptive_softmax(tmp_path, corpus):
    out = tmp_path / "all"
    code, stdout, err = textkit(
        "train-lm",
        corpus,
        "--model",
        "lstm",
        *SMALL,
        "--epochs",
        2,
        "--valid-fraction",
        0,
        "--softmax",
        "adaptive",
        "--cutoffs",
        "8",
        "-o",
        out,
        "--json",
    )
    assert code == 0, err
    figures = json.loads(stdout)  # stdout is exactly one JSON object: epoch lines go to stderr
    assert figures["valid_perplexity"] is None and figures["epochs"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["softmax"] == "adaptive" and config["cutoffs"] == [8]
    assert textkit("eval-ppl", out, "--file", corpus, "--json")[0] == 0
    assert textkit("generate", out, "--prefix", "the", "--temperature", "1e-300")[0] == 0
    valid = tmp_path / "valid.txt"
    valid.write_text("the cat sat on the log\n")
    code, stdout, err = textkit(
        "train-lm",
        corpus,
        "--model",
        "gru",
        *SMALL,
        "--epochs",
        1,
        "--valid",
        valid,
        "--test",
        valid,
        "-o",
        tmp_path / "v",
        "--json",
    )
    assert code == 0, err
    figures = json.loads(stdout)
    assert figures["valid_perplexity"] > 1
    # --test scores the final model exactly as eval-ppl does
    expected = json.loads(textkit("eval-ppl", tmp_path / "v", "--file", valid, "--json")[1])
    assert figures["test_perplexity"] == pytest.approx(expected["perplexity"]) and figures["test_tokens"] == 7


def test_bad_numbers_and_mismatched_resumes_are_refused(tmp_path, corpus):
    for option in ("--lr", "--clip"):
        code, _, err = textkit("train-lm", corpus, "--model", "gru", option, "nan", "-o", tmp_path / "n")
        assert code == 2 and "finite" in err, err
    out = tmp_path / "g"
    assert textkit("train-lm", corpus, "--model", "gru", *SMALL, "--epochs", 1, "-o", out)[0] == 0
    code, _, err = textkit("train-lm", "--model", "lstm", "-o", out, "--resume", "--epochs", 2)
    assert code == 2 and "model 'gru' -> 'lstm'" in err, err
    code, _, err = textkit("train-lm", "--model", "gru", "-o", out, "--resume", "--hidden-dim", 30, "--epochs", 2)
    assert code == 2 and "hidden_dim 12 -> 30" in err, err
    code, _, err = textkit("train-lm", "--model", "gru", "-o", out, "--resume", "--bptt", 9)
    assert code == 2 and "--bptt cannot change" in err, err
