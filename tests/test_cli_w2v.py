"""CLI: train-w2v, eval-w2v, similar, analogy, plot-embeddings — results, JSON, and clean errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner
from textkit_cli.main import cli

from textkit.embeddings import load_vectors, word_counts


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def guarded(capsys, *args: str) -> tuple[int, str]:
    """Run through main's error handling (what a user sees): exit code and stderr.

    run_guarded lets no anticipated error escape, so an exception here fails the test."""
    from textkit_cli.common import run_guarded

    capsys.readouterr()
    code = run_guarded(cli, list(args))
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(0)
    groups = [[f"{t}{i}" for i in range(5)] for t in ("red", "cat", "car")]
    path = tmp_path_factory.mktemp("cli") / "corpus.txt"
    lines = [" ".join(rng.choice(g) for _ in range(8)) for g in (rng.choice(groups) for _ in range(400))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vectors(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("vec") / "v.bin"
    code, stdout, _ = run(
        "train-w2v",
        str(corpus),
        "-o",
        str(out),
        "--dim",
        "12",
        "--min-count",
        "1",
        "--sample",
        "0",
        "--epochs",
        "8",
        "--workers",
        "1",
        "--seed",
        "2",
        "--sg",
        "--lang",
        "whitespace",
        "--json",
    )
    assert code == 0
    return out, json.loads(stdout)


def test_train_w2v_json_reports_the_run(vectors):
    path, report = vectors
    assert report["vocab_size"] == 15 and report["words"] == 8 * 3200
    assert report["words_per_sec"] == pytest.approx(report["words"] / report["train_seconds"])  # words / time
    assert len(report["epoch_loss"]) == 8 and report["epoch_mean_loss"][-1] < report["epoch_mean_loss"][0]
    kv = load_vectors(path)
    assert len(kv) == 15 and kv.vector_size == 12


@pytest.mark.parametrize("kernel", ["hogbatch", "classic"])
def test_train_w2v_folder_output_is_reproducible_and_trains_further(corpus, tmp_path, kernel):
    import textkit.artifacts
    from textkit.word2vec import LineCorpus, Word2Vec

    args = [
        "--dim",
        "8",
        "--min-count",
        "1",
        "--epochs",
        "2",
        "--workers",
        "1",
        "--lang",
        "whitespace",
        "--kernel",
        kernel,
    ]
    for name in ("a", "b"):
        assert run("train-w2v", str(corpus), "-o", str(tmp_path / name), *args)[0] == 0
    a, b = textkit.artifacts.load(tmp_path / "a"), textkit.artifacts.load(tmp_path / "b")
    assert isinstance(a, Word2Vec) and a.kernel == kernel
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    assert sum(word_counts(a.wv)) == 3200
    before = a.wv.vectors.copy()
    report = a.train(LineCorpus(corpus), epochs=1)
    assert report.words == 3200 and not np.array_equal(a.wv.vectors, before)


def test_similar_analogy_and_eval(vectors, tmp_path):
    path, _ = vectors
    code, stdout, _ = run("similar", str(path), "cat1", "--topn", "4", "--json")
    neighbours = [x["word"] for x in json.loads(stdout)["similar"]]
    assert code == 0 and all(w.startswith("cat") for w in neighbours)
    code, stdout, _ = run("analogy", str(path), "red0", "red1", "car0", "--json")
    assert code == 0 and len(json.loads(stdout)["answers"]) == 5
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("cat0\tcat1\t9\ncat0\tred1\t1\nred2\tred3\t8\ncar1\tred0\t2\n")
    code, stdout, _ = run("eval-w2v", str(path), "--similarity", str(pairs), "--json")
    result = json.loads(stdout)["similarity"][str(pairs)]
    assert code == 0 and result["pairs"] == 4 and result["spearman"] > 0.5
    code, stdout, _ = run("eval-w2v", str(path), "--analogies", "google", "--json")
    assert code == 0 and json.loads(stdout)["analogies"]["total"] > 19000


def test_plot_embeddings_writes_an_image(vectors, tmp_path):
    path, _ = vectors
    out = tmp_path / "emb.png"
    code, _, _ = run("plot-embeddings", str(path), "--top", "15", "-o", str(out))
    assert code == 0 and out.read_bytes()[:4] == b"\x89PNG"
    code, _, _ = run(
        "plot-embeddings",
        str(path),
        "--words",
        "cat0,cat1,red0,car2,car3,red4",
        "--method",
        "tsne",
        "-o",
        str(out),
        "--force",
    )
    assert code == 0


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["similar", "{vec}", "kitten"], 1, "'kitten' is not in the vocabulary"),
        (["similar", "{vec}", "cat"], 1, "close words: cat"),
        (["train-w2v", "{dir}/missing.txt", "-o", "{dir}/x.bin"], 1, "no such file"),
        (["train-w2v", "{dir}/empty.txt", "-o", "{dir}/x.bin"], 1, "no words"),
        (["train-w2v", "{corpus}", "--min-count", "1000", "-o", "{dir}/x.bin"], 1, "min_count=1000"),
        (["train-w2v", "{corpus}", "-o", "{vec}"], 2, "already exists; pass --force"),
        (["train-w2v", "{corpus}", "--negative", "0", "-o", "{dir}/y.bin"], 2, "hierarchical softmax"),
        (["eval-w2v", "{dir}/corrupt.txt"], 1, "not a word2vec file"),
        (["eval-w2v", "{vec}", "--similarity", "nope"], 1, "named evaluation sets"),
        (["analogy", "{vec}", "cat0", "cat1", "dog"], 1, "'dog' is not in the vocabulary"),
        (
            ["train-w2v", "{corpus}", "--min-alpha", "10", "--lang", "whitespace", "--json", "-o", "{dir}/nan.txt"],
            1,
            "learning rate is too high",
        ),
        (["train-w2v", "{corpus}", "--alpha", "inf", "-o", "{dir}/inf.txt"], 2, "inf"),
        (["train-w2v", "{dir}/unique.txt", "--max-vocab-size", "1", "-o", "{dir}/m.txt"], 1, "max_vocab_size=1"),
        (["train-w2v", "{corpus}", "-o", "{dir}/v.safetensors"], 2, "folder"),
    ],
)
def test_errors_are_one_line_without_traceback(vectors, corpus, tmp_path, capsys, args, code, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "corrupt.txt").write_text("this is not\na vectors file\n")
    (tmp_path / "unique.txt").write_text("one two three four\n")
    fill = {"vec": str(vectors[0]), "dir": str(tmp_path), "corpus": str(corpus)}
    got_code, stderr = guarded(capsys, *[a.format(**fill) for a in args])
    assert got_code == code
    assert message in stderr and "Traceback" not in stderr
    assert stderr.count("\n") == 1
    assert not any(p.name.startswith(("nan", "inf", "m.")) for p in tmp_path.iterdir())  # nothing written


def test_sigterm_during_training_leaves_no_file_behind(tmp_path):
    """The corpus's ids live in anonymous temporary files: a killed run leaves nothing on disk."""
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "big.txt"
    rng = random.Random(1)
    words = [f"w{i}" for i in range(300)]
    corpus.write_text("\n".join(" ".join(rng.choices(words, k=20)) for _ in range(20_000)) + "\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    command = [
        sys.executable,
        "-c",
        "from textkit_cli.main import main; main()",
        "train-w2v",
        str(corpus),
        "--lang",
        "whitespace",
        "--epochs",
        "200",
        "--workers",
        "1",
        "-o",
        str(tmp_path / "out.bin"),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    line = ""
    while "vocabulary:" not in line and time.time() < deadline:  # training has begun
        line = process.stderr.readline()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    assert list(scratch.iterdir()) == [] and not (tmp_path / "out.bin").exists()


@pytest.mark.slow
def test_train_w2v_without_corpus_uses_wiki_and_shows_neighbours(tmp_path):
    code, stdout, stderr = run("train-w2v", "-o", str(tmp_path / "w.txt"), "--epochs", "1", "--sg")
    assert code == 0 and "vocabulary:" in stderr
    assert len([line for line in stdout.splitlines() if ":" in line]) >= 3  # "word: neighbours, ..."
