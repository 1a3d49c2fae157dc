"""The text-pipeline commands (tokenize, build-vocab, train-spm) as a user runs them: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from textkit.corpora import read_corpus
from textkit.tokenize import get_tokenizer
from textkit.vocab import Vocab

TEXT_COMMANDS = ("tokenize", "build-vocab", "train-spm")


def textkit(*args: str, stdin: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    """Run the CLI the way the ``textkit`` script does (``textkit_cli.main:main``)."""
    return subprocess.run(
        [sys.executable, "-c", "from textkit_cli.main import main; main()", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
    )


def one_error_line(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("textkit: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def en_file(tmp_path):
    path = tmp_path / "en.txt"
    path.write_text("Don't panic: it's 3.14!\nThe cat sat on the mat.\n\nThe end.\n", encoding="utf-8")
    return path


# ---- help ---------------------------------------------------------------------------------------
def test_help_lists_every_command_with_one_line():
    from textkit_cli.main import COMMANDS

    result = textkit("--help")
    assert result.returncode == 0
    out = result.stdout.decode()
    for name, (_, _, summary) in COMMANDS.items():
        assert name in out and summary.split()[0] in out
    for name in TEXT_COMMANDS:
        assert name in COMMANDS


@pytest.mark.parametrize("command", sorted(__import__("textkit_cli.main", fromlist=["COMMANDS"]).COMMANDS))
def test_every_command_help_has_examples(command):
    result = textkit(command, "--help")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "Examples:" in out and f"textkit {command}" in out


# ---- tokenize -----------------------------------------------------------------------------------
def test_tokenize_file_to_stdout(en_file):
    result = textkit("tokenize", str(en_file))
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode().splitlines() == [
        "don't panic : it's 3.14 !",
        "the cat sat on the mat .",
        "",
        "the end .",
    ]


def test_tokenize_stdin_zh_and_options():
    result = textkit("tokenize", "--lang", "zh", stdin="我在北京使用iPhone 15\r\n他来到了网易杭研大厦\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines()[0] == "我 在 北京 使用 iPhone 15"
    no_hmm = textkit("tokenize", "-", "--lang", "zh", "--no-hmm", stdin="他来到了网易杭研大厦\n".encode())
    assert "杭研" not in no_hmm.stdout.decode().split()
    search = textkit("tokenize", "--lang", "zh", "--zh-mode", "search", stdin="中国科学院\n".encode())
    assert {"中国", "科学院", "中国科学院"} <= set(search.stdout.decode().split())
    keep = textkit("tokenize", "--keep-case", stdin=b"Hello World\n")
    assert keep.stdout == b"Hello World\n"


def test_tokenize_named_corpus_with_workers_equals_library(tmp_path):
    out = tmp_path / "zh.tok"
    result = textkit("tokenize", "zh_sample", "--lang", "zh", "--workers", "2", "-o", str(out))
    assert result.returncode == 0 and result.stdout == b"", result.stderr.decode()
    tok = get_tokenizer("zh")
    expected = [" ".join(tok(line)) for line in read_corpus("zh_sample")]
    assert out.read_text(encoding="utf-8").splitlines() == expected


def test_tokenize_char_and_user_dict(tmp_path):
    assert textkit("tokenize", "--lang", "char", stdin=b"ab c\n").stdout.decode() == "a b \u2581 c\n"
    user = tmp_path / "u.dict"
    user.write_text("云计算平台 20\n", encoding="utf-8")
    result = textkit("tokenize", "--lang", "zh", "--user-dict", str(user), stdin="我们的云计算平台\n".encode())
    assert "云计算平台" in result.stdout.decode().split()
    wrong = textkit("tokenize", "--user-dict", str(user), stdin=b"x\n")
    one_error_line(wrong, 2, "--user-dict", "--lang zh")


def test_tokenize_output_is_never_overwritten_without_force(en_file, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("precious\n")
    one_error_line(textkit("tokenize", str(en_file), "-o", str(out)), 2, "already exists", "--force")
    assert out.read_text() == "precious\n"
    assert textkit("tokenize", str(en_file), "-o", str(out), "--force").returncode == 0
    assert out.read_text().startswith("don't panic")


def test_tokenize_bad_utf8_names_file_and_line_and_leaves_no_output(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"fine\ncaf\xe9\n")
    out = tmp_path / "out.txt"
    one_error_line(textkit("tokenize", str(bad), "-o", str(out)), 1, str(bad), "line 2", "--errors replace")
    assert list(tmp_path.iterdir()) == [bad]  # no output, no temporary file
    replaced = textkit("tokenize", str(bad), "--errors", "replace", "-o", str(out))
    assert replaced.returncode == 0 and out.read_text(encoding="utf-8") == "fine\ncaf \ufffd\n"


def test_tokenize_bad_utf8_on_stdin():
    one_error_line(textkit("tokenize", stdin=b"ok\n\xff\xfe\n"), 1, "<stdin>", "line 2", "--errors replace")
    assert textkit("tokenize", "--errors", "ignore", stdin=b"a\xffb\n").stdout == b"ab\n"


def test_tokenize_into_a_closed_pipe_is_quiet(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("some words on a line\n" * 200_000)
    script = (
        f"{sys.executable} -c 'from textkit_cli.main import main; main()' tokenize {big} | head -n 1; "
        "echo status ${PIPESTATUS[0]}"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120)
    assert result.stdout == b"some words on a line\nstatus 0\n"
    assert result.stderr == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_writing_to_a_full_device_is_one_line(en_file):
    with open("/dev/full", "wb") as full:
        command = [sys.executable, "-c", "from textkit_cli.main import main; main()", "tokenize", str(en_file)]
        result = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, timeout=120)
    one_error_line(result, 1, "no space left")
    one_error_line(textkit("tokenize", str(en_file), "-o", "/dev/full"), 1, "/dev/full", "no space left")
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # written in place, never replaced
    assert textkit("tokenize", str(en_file), "-o", "/dev/null").returncode == 0  # a device needs no --force


# ---- build-vocab --------------------------------------------------------------------------------
def test_build_vocab_json_and_file(tmp_path, en_file):
    out = tmp_path / "vocab.json"
    result = textkit("build-vocab", str(en_file), "--min-freq", "1", "--max-size", "10", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)  # exactly one JSON object: json.loads fails on anything extra
    assert isinstance(summary, dict) and summary["vocab_size"] == 10 and summary["output"] == str(out)
    vocab = Vocab.load(out)
    assert len(vocab) == 10 and vocab.tokens[:5] == ["<unk>", "<pad>", "<bos>", "<eos>", "the"]
    assert vocab.freq("the") == 3


def test_build_vocab_zh_named_corpus(tmp_path):
    out = tmp_path / "zh.json"
    result = textkit(
        "build-vocab", "zh_sample", "--lang", "zh", "--min-freq", "2", "--specials", "<unk>,<pad>", "-o", str(out)
    )
    assert result.returncode == 0 and result.stdout == b""
    assert "wrote" in result.stderr.decode()
    vocab = Vocab.load(out)
    assert vocab.tokens[:2] == ["<unk>", "<pad>"] and "iPhone" in vocab and "北京" in vocab
    assert min(vocab.freqs[2:]) >= 2


def test_build_vocab_refuses_to_overwrite(tmp_path, en_file):
    out = tmp_path / "v.json"
    out.write_text("{}")
    one_error_line(textkit("build-vocab", str(en_file), "-o", str(out)), 2, "already exists")
    assert out.read_text() == "{}"


# ---- train-spm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_train_spm_and_tokenize_with_it(tmp_path, model_type):
    prefix = tmp_path / "models" / f"en_{model_type}"
    result = textkit(
        "train-spm", "en_sample", "--vocab-size", "250", "--model-type", model_type, "-o", str(prefix), "--json"
    )
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)
    assert summary == {"model": f"{prefix}.model", "vocab_size": 250, "model_type": model_type}
    assert len((tmp_path / "models" / f"en_{model_type}.vocab").read_text(encoding="utf-8").splitlines()) == 250
    pieces = textkit("tokenize", "--lang", f"spm:{prefix}.model", stdin=b"The morning train left at seven.\n")
    assert pieces.returncode == 0 and "\u2581" in pieces.stdout.decode()
    again = textkit("train-spm", "en_sample", "--vocab-size", "250", "-o", str(prefix))
    one_error_line(again, 2, "already exists")
    (tmp_path / "models" / f"en_{model_type}.model").unlink()  # a lone .vocab is protected too
    one_error_line(
        textkit("train-spm", "en_sample", "--vocab-size", "250", "-o", str(prefix)), 2, ".vocab already exists"
    )


# ---- bad input (the list) ---------------------------------------------------------------
def _bad_input_cases(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"ok\n\xe9t\xe9\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("x\n")
    missing = str(tmp_path / "missing.txt")
    folder = str(tmp_path)
    out = str(tmp_path / "out" / "result")
    return [
        # (args, exit code, words the message must contain)
        (["tokenize", missing, "-o", out], 1, ["missing.txt", "no such file"]),
        (["tokenize", folder, "-o", out], 1, ["is a directory"]),
        (["tokenize", str(latin), "-o", out], 1, ["line 2", "--errors replace"]),
        (["tokenize", str(empty), "--workers", "0"], 2, ["--workers"]),
        (["tokenize", str(empty), "--lang", "klingon"], 2, ["unknown tokenizer"]),
        (["tokenize", str(empty), "--lang", "spm:" + missing], 1, ["no such file"]),
        (["tokenize", str(empty), "--lang", "zh", "--zh-mode", "fast"], 2, ["--zh-mode"]),
        (["tokenize", str(empty), "--errors", "maybe"], 2, ["--errors"]),
        (["tokenize", str(empty), "-o", folder], 2, [folder]),
        (["tokenize", "no_such_corpus"], 1, ["no such file or named corpus"]),
        (["build-vocab", missing, "-o", out], 1, ["no such file"]),
        (["build-vocab", folder, "-o", out], 1, ["is a directory"]),
        (["build-vocab", str(latin), "-o", out], 1, ["line 2", "--errors replace"]),
        (["build-vocab", str(empty), "-o", out], 1, ["no tokens"]),
        (["build-vocab", str(blank), "-o", out], 1, ["no tokens"]),
        (["build-vocab", str(secret), "--min-freq", "5", "-o", out], 1, ["lower min_freq"]),
        (["build-vocab", str(secret), "--min-freq", "0", "-o", out], 2, ["--min-freq"]),
        (["build-vocab", str(secret), "--max-size", "2", "-o", out], 2, ["max_size"]),
        (["build-vocab", str(secret), "--specials", "<unk>,<unk>", "-o", out], 2, ["distinct"]),
        (["build-vocab", str(secret)], 2, ["-o"]),
        (["build-vocab", str(secret), "--lang", "zh", "--user-dict", missing, "-o", out], 1, ["no such file"]),
        (["train-spm", missing, "-o", out], 1, ["no such file"]),
        (["train-spm", folder, "-o", out], 1, ["is a directory"]),
        (["train-spm", str(latin), "-o", out], 1, ["line 2", "--errors replace"]),
        (["train-spm", str(empty), "-o", out], 1, ["no text"]),
        (["train-spm", str(blank), "-o", out], 1, ["no text"]),
        (["train-spm", str(secret), "--vocab-size", "1", "-o", out], 2, ["--vocab-size"]),
        (["train-spm", str(secret), "--vocab-size", "5000", "-o", out], 2, ["vocab"]),
        (["train-spm", str(secret), "--model-type", "wordpiece", "-o", out], 2, ["--model-type"]),
        (["train-spm", str(secret), "--character-coverage", "2", "-o", out], 2, ["--character-coverage"]),
        (["no-such-command"], 2, ["no-such-command"]),
    ]


def test_every_bad_input_gives_one_line_and_leaves_nothing_behind(tmp_path):
    cases = _bad_input_cases(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for args, code, needles in cases:
        result = textkit(*args)
        try:
            one_error_line(result, code, *needles)
        except AssertionError as e:
            raise AssertionError(f"textkit {' '.join(args)}: {e}") from None
        assert result.stdout == b"", args
        assert sorted(p.name for p in tmp_path.iterdir()) == before, f"{args} left files behind"


def test_bare_textkit_prints_help():
    result = textkit()
    assert result.returncode == 0 and b"Commands:" in result.stdout and result.stderr == b""


# ---- one flag name per concept; finite floats; the tokenizer options everywhere --------------------
def _command(name):
    import click
    from textkit_cli.main import cli

    return cli.get_command(click.Context(cli), name)


def _parse(name, *args):
    command = _command(name)
    return command.make_context(name, list(args)).params


@pytest.mark.parametrize(
    ("command", "old", "new", "param", "value"),
    [
        ("train-w2v", "--dim", "--embed-dim", "dim", "7"),
        ("train-w2v", "--min-count", "--min-freq", "min_count", "3"),
        ("train-w2v", "--max-vocab-size", "--max-vocab", "max_vocab_size", "500"),
        ("build-vocab", "--max-size", "--max-vocab", "max_size", "50"),
        ("train-clf", "--threads", "--workers", "threads", "2"),
    ],
)
def test_old_flag_spellings_still_work_but_are_not_advertised(command, old, new, param, value):
    extra = {
        "build-vocab": ["-o", "x.json", "corpus.txt"],
        "train-clf": ["--dataset", "d.csv", "--model", "fasttext"],
    }.get(command, [])
    assert _parse(command, new, value, *extra)[param] == int(value)
    assert _parse(command, old, value, *extra)[param] == int(value)
    help_text = textkit(command, "--help").stdout.decode()
    assert new in help_text and f"{old} " not in help_text and f"{old}," not in help_text


def test_one_flag_name_per_concept_across_commands():
    from textkit_cli.main import COMMANDS

    drifted = {"--dim", "--min-count", "--max-vocab-size", "--max-size", "--threads"}
    for name in COMMANDS:
        for param in _command(name).params:
            shown = set(param.opts) - set(getattr(param, "hidden_aliases", ()))
            assert not shown & drifted, f"{name} shows {shown & drifted}"


def test_every_float_option_refuses_nan_and_infinity():
    import click
    from textkit_cli.main import COMMANDS

    floats = [
        (name, p)
        for name in COMMANDS
        for p in _command(name).params
        if isinstance(p.type, (click.types.FloatParamType, click.FloatRange))
    ]
    assert len(floats) >= 10
    for name, param in floats:
        ctx = click.Context(_command(name))
        for bad in ("nan", "inf", "-inf", "NaN", "1e999"):
            with pytest.raises(click.BadParameter):  # the type (FiniteFloat) or a callback refuses it
                param.process_value(ctx, bad)
                pytest.fail(f"{name} {param.opts[0]} accepts {bad}")
    one_error_line(textkit("train-w2v", "--alpha", "nan"), 2, "--alpha", "not a finite number")
    one_error_line(textkit("generate", "m", "--temperature", "inf"), 2, "--temperature")


def test_every_command_that_tokenizes_takes_the_tokenizer_options():
    from textkit_cli.main import COMMANDS

    tokenizing = [name for name in COMMANDS if any(p.name == "lang" for p in _command(name).params)]
    assert {"tokenize", "build-vocab", "train-w2v", "train-lm", "eval-ppl"} <= set(tokenizing)
    for name in tokenizing:
        names = {p.name for p in _command(name).params}
        assert {"lang", "lowercase", "zh_mode", "hmm", "user_dict"} <= names, name


def test_jieba_options_with_another_language_are_refused(en_file):
    one_error_line(textkit("tokenize", str(en_file), "--zh-mode", "search"), 2, "--zh-mode", "--lang zh")
    one_error_line(textkit("build-vocab", str(en_file), "--no-hmm", "-o", "v.json"), 2, "--hmm", "--lang zh")


def test_train_spm_failures_speak_plainly(tmp_path, en_file):
    big = one_error_line(textkit("train-spm", str(en_file), "--vocab-size", "5000", "-o", str(tmp_path / "m")), 2)
    small = one_error_line(textkit("train-spm", str(en_file), "--vocab-size", "3", "-o", str(tmp_path / "m")), 2)
    for line in (big, small):
        assert "INTERNAL" not in line and ".cc(" not in line and "--character_coverage" not in line, line
    assert "at most" in big and "larger size" in small
    assert list(tmp_path.iterdir()) == [en_file]


def test_plot_to_an_unknown_image_type_is_a_usage_error(tmp_path):
    one_error_line(textkit("plot-embeddings", "vectors.bin", "-o", str(tmp_path / "out.xyz")), 2, ".xyz", "png")
