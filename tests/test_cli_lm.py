"""textkit train-lm / eval-ppl / generate, end to end through the CLI (CliRunner, in-process)."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from textkit_cli.main import cli

from textkit.artifacts import KINDS
from textkit.lm.ngram import NgramLM

TRAIN = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog sat",
    "the cat ate the rat",
    "",
    "a rat sat on a cat",
    "the dog ate",
]
TEST = ["the cat sat on the log", "a dog ate the mat", "", "the rat sat here"]


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def run_guarded(*args):
    """Like the real `textkit` entry point: errors become one stderr line and an exit code."""
    import io
    import sys
    from contextlib import redirect_stderr, redirect_stdout

    from textkit_cli.common import run_guarded as guarded

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = guarded(cli, [str(a) for a in args])
    sys.stdout.flush()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def corpus(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(TRAIN) + "\n")
    test = tmp_path / "test.txt"
    test.write_text("\n".join(TEST) + "\n")
    return train, test


def test_train_eval_generate_round_trip(tmp_path, corpus):
    train, test = corpus
    out = tmp_path / "models" / "kn3"
    result = run("train-lm", train, "--order", 3, "--smoothing", "kn", "--gzip", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["order"] == 3 and summary["vocab_size"] == 14 and summary["train_tokens"] == 32 + 6
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "lm.ngram" and config["file"] == "model.arpa.gz"
    assert (out / "model.arpa.gz").exists() and (out / "vocab.json").exists()

    result = run("eval-ppl", out, "--file", test, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"perplexity", "cross_entropy_bits", "tokens", "oov_rate"} <= set(figures)
    direct = NgramLM(order=3, smoothing="kn").fit([line.split() for line in TRAIN]).perplexity(TEST)
    assert figures["perplexity"] == pytest.approx(direct.perplexity, rel=1e-6)
    assert figures["tokens"] == 6 + 5 + 4 + 3  # words + one </s> per non-empty line
    assert figures["oov_rate"] == pytest.approx(1 / 18)  # "here"
    assert figures["cross_entropy_bits"] == pytest.approx(math.log2(figures["perplexity"]))

    text = run("generate", out, "--prefix", "the cat", "--length", 5, "--seed", 7).stdout
    assert text == run("generate", out, "--prefix", "the cat", "--length", 5, "--seed", 7).stdout
    assert text.startswith("the cat")
    gen = json.loads(run("generate", out, "--prefix", "a", "--length", 3, "--top-k", 2, "--json").stdout)
    assert gen["text"].startswith("a")


@pytest.mark.parametrize("smoothing", ["mle", "addk", "mkn"])
def test_every_smoothing_trains_and_evaluates(tmp_path, corpus, smoothing):
    train, test = corpus
    extra = ["--k", "0.5"] if smoothing == "addk" else []
    assert run("train-lm", train, "--order", 2, "--smoothing", smoothing, *extra, "-o", tmp_path / "m").exit_code == 0
    result = run("eval-ppl", tmp_path / "m", "--file", test)
    assert result.exit_code == 0 and "perplexity" in result.stdout


def test_eval_ppl_on_a_local_wikitext_copy(tmp_path):
    rows = ["", " = Heading = ", "", " the cat sat on the mat . ", " the dog sat . ", ""]
    data = tmp_path / "wikitext-2"
    data.mkdir()
    for split in ("train", "valid", "test"):
        (data / f"wiki.{split}.tokens").write_text("".join(r + "\n" for r in rows))
    model = tmp_path / "wt"
    result = run(
        "train-lm",
        "--dataset",
        "wikitext-2",
        "--data-dir",
        data,
        "--order",
        2,
        "--smoothing",
        "kn",
        "-o",
        model,
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["train_tokens"] == 3 + 7 + 4 + 3  # 3 lines: words + </s> each
    figures = json.loads(
        run("eval-ppl", model, "--dataset", "wikitext-2", "--split", "test", "--data-dir", data, "--json").stdout
    )
    assert figures["tokens"] == 17 and figures["oov_rate"] == 0


def test_eval_ppl_and_generate_use_only_the_model_contract(tmp_path, corpus, monkeypatch):
    """A model of another kind (as the neural LMs will be) goes through the same code path."""
    train, test = corpus

    class ConstantLM:
        """p = 1/10 for every token; predicts words + one end token per line."""

        @classmethod
        def load(cls, directory):
            return cls()

        def score_lines(self, lines):
            lines = [line.split() for line in lines if line.split()]
            n = sum(len(x) + 1 for x in lines)
            return n * math.log(0.1), n, 0

        def generate(self, prefix, length, temperature=1.0, top_k=None, seed=None):
            return (prefix + " x" * length).strip()

    import types

    fake = types.ModuleType("fake_neural")
    fake.ConstantLM = ConstantLM
    monkeypatch.setitem(__import__("sys").modules, "fake_neural", fake)
    monkeypatch.setitem(KINDS, "lm.neural", "fake_neural:ConstantLM")
    folder = tmp_path / "rnn"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"format": "textkit.lm", "version": 1, "kind": "rnn"}))
    figures = json.loads(run("eval-ppl", folder, "--file", test, "--json").stdout)
    assert figures["perplexity"] == pytest.approx(10.0) and figures["tokens"] == 18
    assert run("generate", folder, "--prefix", "hi", "--length", 2).stdout.strip() == "hi x x"


def test_outputs_are_not_overwritten_without_force(tmp_path, corpus):
    train, _ = corpus
    out = tmp_path / "m"
    assert run("train-lm", train, "-o", out).exit_code == 0
    code, _, err = run_guarded("train-lm", train, "-o", out)
    assert code == 2 and "--force" in err
    code, _, _ = run_guarded("train-lm", train, "-o", out, "--force")
    assert code == 0


def bad_cases(tmp_path, corpus):
    train, test = corpus
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("zebra yak\ngnu\n")
    model = tmp_path / "good"
    run("train-lm", train, "--order", 2, "--smoothing", "kn", "-o", model)
    truncated = tmp_path / "cut.arpa"
    truncated.write_text((model / "model.arpa").read_text()[:200])
    garbage = tmp_path / "garbage.arpa"
    garbage.write_text("hello\n")
    return [
        (("train-lm", empty, "-o", tmp_path / "x1"), 1, "no tokens"),
        (("train-lm", train, "--order", 0, "-o", tmp_path / "x2"), 2, "--order"),
        (("train-lm", train, "--model", "rnn", "--tied", "--hidden-dim", 16, "-o", tmp_path / "x3"), 2, "--embed-dim"),
        (("train-lm", train, "--k", "2", "-o", tmp_path / "x4"), 2, "--k only applies"),
        (("train-lm", "-o", tmp_path / "x5"), 2, "exactly one of CORPUS or --dataset"),
        (("train-lm", tmp_path / "missing.txt", "-o", tmp_path / "x6"), 1, "no such file"),
        (("eval-ppl", model, "--file", unknown), 1, "outside the model's vocabulary"),
        (("eval-ppl", model, "--file", empty), 1, "no tokens"),
        (("eval-ppl", truncated, "--file", test), 1, "truncated"),
        (("eval-ppl", garbage, "--file", test), 1, "not an ARPA"),
        (("eval-ppl", tmp_path / "nothing", "--file", test), 1, "no such model"),
        (("eval-ppl", model), 2, "exactly one of --file"),
        (("eval-ppl", model, "--file", test, "--dataset", "wikitext-2"), 2, "exactly one of --file"),
        (("eval-ppl", model, "--dataset", "wikitext-2", "--data-dir", tmp_path), 1, "wiki.valid.tokens"),
        (("generate", model, "--temperature", "0"), 2, "--temperature"),
    ]


def test_bad_input_gives_one_line_errors_and_exit_codes(tmp_path, corpus):
    for args, expected_code, message in bad_cases(tmp_path, corpus):
        code, out, err = run_guarded(*args)
        assert code == expected_code, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)


def test_installed_command_reports_errors_without_traceback(tmp_path):
    import subprocess

    garbage = tmp_path / "g.arpa"
    garbage.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1 <s>\n")
    text = tmp_path / "t.txt"
    text.write_text("a b\n")
    out = subprocess.run(["textkit", "eval-ppl", str(garbage), "--file", str(text)], capture_output=True, text=True)
    if out.returncode != 0 and "No such command" in out.stderr:
        pytest.skip("the installed textkit is not this branch")
    assert out.returncode == 1 and "Traceback" not in out.stderr and "truncated" in out.stderr
