"""train-clf / eval-clf / predict through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from clf_planted import planted
from click.testing import CliRunner
from textkit_cli.main import cli, main


@pytest.fixture
def files(tmp_path):
    train, test = planted(150, seed=0), planted(40, seed=1)
    paths = {}
    for name, (texts, labels) in (("train", train), ("test", test)):
        p = tmp_path / f"{name}.jsonl"
        p.write_text(
            "".join(json.dumps({"review": t, "stars": y}) + "\n" for t, y in zip(texts, labels)), encoding="utf-8"
        )
        paths[name] = p
    return tmp_path, paths


def run(args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def test_train_eval_predict_round_trip(files):
    root, paths = files
    model = root / "m"
    result = run(
        [
            "train-clf",
            "--dataset",
            paths["train"],
            "--text-field",
            "review",
            "--label-field",
            "stars",
            "--model",
            "fasttext",
            "--epochs",
            "10",
            "--lr",
            "0.5",
            "--buckets",
            "1000",
            "-o",
            model,
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["n_train"] == 135 and info["n_validation"] == 15 and (model / "training.json").exists()

    png = root / "cm.png"
    result = run(
        [
            "eval-clf",
            model,
            "--dataset",
            paths["test"],
            "--text-field",
            "review",
            "--label-field",
            "stars",
            "--json",
            "--confusion-png",
            png,
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "n", "per_class", "confusion"} <= set(report)
    assert report["n"] == 40 and report["accuracy"] >= 0.8
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text_report = run(
        ["eval-clf", model, "--dataset", paths["test"], "--text-field", "review", "--label-field", "stars"]
    ).stdout
    assert "confusion matrix" in text_report and "macro-F1" in text_report

    result = run(["predict", model, "a wonderful film", "a dreadful film", "--top-k", "2", "--json"])
    rows = json.loads(result.stdout)["predictions"]
    assert [r["labels"][0] for r in rows] == ["pos", "neg"] and len(rows[0]["probabilities"]) == 2

    result = run(["predict", model], input="superb acting\ntedious plot\n")
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]


def test_ensemble_trains_evaluates_and_predicts(files):
    root, paths = files
    fields = ["--text-field", "review", "--label-field", "stars"]
    model = root / "ens"
    result = run(["train-clf", "--dataset", paths["train"], *fields, "--model", "ensemble", "-o", model, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_train"] == 150 and (model / "member-1" / "config.json").exists()
    report = json.loads(run(["eval-clf", model, "--dataset", paths["test"], *fields, "--json"]).stdout)
    assert report["accuracy"] >= 0.8
    rows = json.loads(run(["predict", model, "a wonderful film", "--json"]).stdout)["predictions"]
    assert rows[0]["labels"][0] == "pos"
    result = CliRunner().invoke(
        cli,
        [
            "train-clf",
            "--dataset",
            str(paths["train"]),
            *fields,
            "--model",
            "ensemble",
            "--epochs",
            "3",
            "-o",
            str(root / "x"),
        ],
    )
    assert result.exit_code == 2 and "--epochs does not apply to --model ensemble" in result.output


def test_cross_validation_only(files):
    _, paths = files
    result = run(
        [
            "train-clf",
            "--dataset",
            paths["train"],
            "--text-field",
            "review",
            "--label-field",
            "stars",
            "--model",
            "bow",
            "--folds",
            "3",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    cv = json.loads(result.stdout)["cross_validation"]
    assert len(cv["accuracy"]) == 3 and cv["accuracy_mean"] > 0.7


def test_named_dataset_from_release_layout(tmp_path):
    texts, labels = planted(60, seed=2)
    data = tmp_path / "amazon"
    data.mkdir()
    for split in ("train", "test"):
        (data / f"{split}.csv").write_text(
            "".join(f'"{1 if y == "neg" else 2}","title","{t}"\n' for t, y in zip(texts, labels) if y != "mid"),
            encoding="utf-8",
        )
    model = tmp_path / "m"
    assert (
        run(["train-clf", "--dataset", "amazon_polarity", "--data-dir", data, "--model", "bow", "-o", model]).exit_code
        == 0
    )
    result = run(["eval-clf", model, "--dataset", "amazon_polarity", "--data-dir", data, "--split", "test", "--json"])
    assert json.loads(result.stdout)["accuracy"] > 0.9


def cli_exit(args, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    return e.value.code, capsys.readouterr().err


def test_refuses_to_overwrite_without_force(files, capsys):
    root, paths = files
    (root / "m").mkdir()
    args = [
        "train-clf",
        "--dataset",
        paths["train"],
        "--text-field",
        "review",
        "--label-field",
        "stars",
        "--model",
        "bow",
        "-o",
        root / "m",
    ]
    code, err = cli_exit(args, capsys)
    assert code == 2 and "--force" in err
    code, _ = cli_exit(args + ["--force"], capsys)
    assert code == 0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["train-clf", "--dataset", "{train}", "--model", "bow", "-o", "{root}/x"], 1, "no field 'text'"),
        (
            ["train-clf", "--dataset", "{root}/missing.csv", "--model", "bow", "-o", "{root}/x"],
            2,
            "neither a file nor a named dataset",
        ),
        (
            [
                "train-clf",
                "--dataset",
                "{train}",
                "--text-field",
                "review",
                "--label-field",
                "stars",
                "--model",
                "bow",
                "--epochs",
                "3",
                "-o",
                "{root}/x",
            ],
            2,
            "--epochs does not apply to --model bow",
        ),
        (
            ["train-clf", "--dataset", "{train}", "--text-field", "review", "--label-field", "stars", "--model", "bow"],
            2,
            "-o MODEL_DIR",
        ),
        (["eval-clf", "{root}/nomodel", "--dataset", "{train}"], 1, "no such model"),
        (["predict", "{root}/nomodel", "x"], 1, "no such model"),
    ],
)
def test_errors_are_one_line(files, capsys, args, code, message):
    root, paths = files
    args = [a.format(root=root, train=paths["train"]) for a in args]
    got, err = cli_exit(args, capsys)
    assert got == code and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_single_class_and_empty_files(tmp_path, capsys):
    one = tmp_path / "one.csv"
    one.write_text("text,label\na b,x\nc d,x\n", encoding="utf-8")
    code, err = cli_exit(
        ["train-clf", "--dataset", one, "--model", "bow", "-o", tmp_path / "m", "--valid-fraction", "0"], capsys
    )
    assert code == 2 and "single class" in err
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    code, err = cli_exit(["train-clf", "--dataset", empty, "--model", "fasttext", "-o", tmp_path / "m"], capsys)
    assert code == 1 and "empty" in err


@pytest.mark.parametrize(
    "extra, protocol", [([], "-fold cross-validation"), (["--valid-fraction", "0.25"], "split (0.25)")]
)
def test_autotune_saves_the_best_model_and_its_trials(files, capsys, extra, protocol):
    root, paths = files
    args = [
        "train-clf",
        "--dataset",
        paths["train"],
        "--text-field",
        "review",
        "--label-field",
        "stars",
        "--autotune",
        "--autotune-trials",
        "3",
        "--autotune-metric",
        "macro_f1",
        "--threads",
        "1",
        "-o",
        root / "auto",
        "--json",
        *extra,
    ]
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr().out
    assert e.value.code == 0
    result = json.loads(out)  # exactly one JSON object on stdout
    report = json.loads((root / "auto" / "autotune.json").read_text())
    assert [t["trial"] for t in report["trials"]] == [1, 2, 3] and report["metric"] == "macro_f1"
    assert report["protocol"].endswith(protocol)  # a share given: held out; none: the library's folds
    assert result["autotune"]["best"] == report["best"] and result["model"] == report["best"]["kind"]
    assert report["best"]["score"] == max(t["score"] for t in report["trials"] if t["score"] is not None)
    assert (
        run(
            ["eval-clf", root / "auto", "--dataset", paths["test"], "--text-field", "review", "--label-field", "stars"]
        ).exit_code
        == 0
    )


@pytest.mark.parametrize(
    "extra, message",
    [(["--model", "bow"], "--autotune chooses"), (["--C", "3"], "drop --C"), (["--autotune-duration", "5"], None)],
)
def test_autotune_refuses_options_it_chooses(files, capsys, extra, message):
    root, paths = files
    base = [
        "train-clf",
        "--dataset",
        paths["train"],
        "--text-field",
        "review",
        "--label-field",
        "stars",
        "-o",
        root / "x",
    ]
    if message is None:  # --autotune-duration without --autotune
        code, err = cli_exit(base + ["--model", "bow"] + extra, capsys)
        assert code == 2 and "only with --autotune" in err
        return
    code, err = cli_exit(base + ["--autotune"] + extra, capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_predict_refuses_invalid_utf8_on_stdin_in_one_line(files, capsys, monkeypatch):
    import io
    import sys

    root, paths = files
    assert (
        run(
            [
                "train-clf",
                "--dataset",
                paths["train"],
                "--text-field",
                "review",
                "--label-field",
                "stars",
                "--model",
                "bow",
                "-o",
                root / "m",
            ]
        ).exit_code
        == 0
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"good film\n\xff\xfe bad\n")))
    code, err = cli_exit(["predict", root / "m"], capsys)
    assert code == 1 and "<stdin>: line 2" in err and "UTF-8" in err and err.count("\n") == 1
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"good film\n\xff\xfe bad\n")))
    code, _ = cli_exit(["predict", root / "m", "--errors", "replace"], capsys)
    assert code == 0


def test_bow_trains_on_every_example_unless_a_validation_share_is_asked(files):
    root, paths = files
    common = ["train-clf", "--dataset", paths["train"], "--text-field", "review", "--label-field", "stars"]
    result = run([*common, "--model", "bow", "-o", root / "bow", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["n_train"] == 150 and info["n_validation"] == 0  # no early stopping to feed: nothing held out
    result = run([*common, "--model", "bow", "--valid-fraction", "0.2", "-o", root / "bow_v", "--json"])
    info = json.loads(result.stdout)
    assert info["n_train"] == 120 and info["n_validation"] == 30 and "accuracy" in info["validation"]


def test_bow_naive_bayes_from_the_command_line(files, capsys):
    root, paths = files
    common = ["train-clf", "--dataset", paths["train"], "--text-field", "review", "--label-field", "stars"]
    options = ["--model", "bow", "--classifier", "mnb", "--features", "binary", "--alpha", "0.5"]
    result = run([*common, *options, "-o", root / "mnb", "--json"])
    assert result.exit_code == 0, result.output
    config = json.loads((root / "mnb" / "config.json").read_text(encoding="utf-8"))
    assert config["params"]["classifier"] == "mnb" and config["params"]["alpha"] == 0.5
    result = run(["eval-clf", root / "mnb", "--dataset", paths["test"], *common[3:7], "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["accuracy"] >= 0.8
    code, err = cli_exit(
        [*common, "--model", "bow", "--classifier", "mnb", "--features", "nb", "-o", root / "x"], capsys
    )
    error = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(error) == 1 and "naive Bayes needs counts" in error[0] and "Traceback" not in err
    assert not (root / "x").exists()
