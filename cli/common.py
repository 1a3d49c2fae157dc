"""What every command shares: error handling, JSON output, common options."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from textkit.errors import BadEncodingError, OutputExistsError, Terminated, TextkitError


def run_guarded(command: click.Command, argv: list[str] | None = None) -> int:
    """Run a click command; a TextkitError becomes ``textkit: error: MESSAGE`` and its exit code.

    Usage errors exit 2 (click's convention), runtime errors 1, Ctrl-C 130, SIGTERM 143. SIGTERM
    is raised as :class:`~textkit.errors.Terminated` (a KeyboardInterrupt), so every output being
    written is cleaned up as for Ctrl-C. No traceback reaches the user for anything textkit
    anticipates.
    """
    previous = _raise_on_sigterm()
    try:
        return _run(command, argv)
    finally:  # as it was before (the CLI run inside a test or another program): handler and output locks
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        from textkit.io import release_outputs

        release_outputs()


def _run(command: click.Command, argv: list[str] | None) -> int:
    try:
        command.main(args=argv, prog_name="textkit", standalone_mode=False)
        sys.stdout.flush()  # a full disk or closed pipe on stdout surfaces here, not at exit
    except click.exceptions.Exit as e:
        return e.exit_code
    except SystemExit:
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # click met a closed pipe on stdout
            _silence_stdout()
            return 0
        raise
    except click.Abort as e:  # click turns Ctrl-C (and SIGTERM, raised as Terminated) into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo("textkit: terminated", err=True)
            return 128 + signal.SIGTERM
        interrupted = isinstance(e.__cause__, KeyboardInterrupt)
        click.echo("textkit: interrupted" if interrupted else "textkit: aborted", err=True)
        return 130
    except click.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:  # bare `textkit` (click >= 8.2)
            click.echo(e.ctx.get_help())
            return 0
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"textkit: error: {e.format_message()}{hint}", err=True)
        return e.exit_code
    except click.ClickException as e:
        click.echo(f"textkit: error: {e.format_message()}", err=True)
        return e.exit_code
    except BadEncodingError as e:
        click.echo(f"textkit: error: {e}; pass --errors replace to substitute bad bytes", err=True)
        return e.exit_code
    except OutputExistsError as e:
        click.echo(f"textkit: error: {e}; pass --force to replace it", err=True)
        return e.exit_code
    except TextkitError as e:
        click.echo(f"textkit: error: {e}", err=True)
        return e.exit_code
    except Terminated:
        click.echo("textkit: terminated", err=True)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        click.echo("textkit: interrupted", err=True)
        return 130
    except BrokenPipeError:
        _silence_stdout()  # `textkit tokenize big.txt | head`: the reader is gone; stop quietly
        return 0
    except MemoryError:
        click.echo("textkit: error: out of memory; try a smaller corpus, vocabulary or batch", err=True)
        return 1
    except OSError as e:  # an output the writers did not see fail: stdout on a full disk, /dev/full
        if e.errno == errno.EPIPE:
            _silence_stdout()
            return 0
        where = f"{e.filename}: " if e.filename else ("<stdout>: " if _stdout_broken() else "")
        click.echo(f"textkit: error: {where}{(e.strerror or str(e)).lower()}", err=True)
        _silence_stdout()
        return 1
    return 0


def _raise_on_sigterm() -> Any:
    """Make SIGTERM raise Terminated in this process; returns the handler it replaced (None: none).

    Forked workers go back to the default handler (a fork hook in :mod:`textkit.io`).
    """
    import textkit.io  # noqa: F401  (registers that fork hook)

    def terminated(signum, frame):
        raise Terminated("terminated")

    terminated.textkit_sigterm = True  # type: ignore[attr-defined]
    try:
        return signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread (the CLI run from a test's thread): leave the default
        return None


def _stdout_broken() -> bool:
    try:
        sys.stdout.flush()
        return False
    except OSError:
        return True


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of unwritable output is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test's capture)
        pass


def emit_json(obj: dict[str, Any]) -> None:
    """Print exactly one strict JSON object on stdout (the ``--json`` contract).

    NaN and infinities are not JSON: they are written as null (a perplexity that is infinite, a
    correlation that is undefined), never as the ``NaN``/``Infinity`` that strict parsers reject.
    """
    click.echo(json.dumps(strict_json(obj), ensure_ascii=False, allow_nan=False))


def strict_json(x: Any) -> Any:
    """``x`` with numpy/torch values made plain and every non-finite float replaced by None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, dict):
        return {str(k): strict_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [strict_json(v) for v in x]
    if hasattr(x, "tolist"):  # numpy / torch arrays and scalars
        return strict_json(x.tolist())
    if hasattr(x, "item"):
        return strict_json(x.item())
    return str(x)


def log(message: str) -> None:
    """Progress and logs go to stderr, so stdout stays clean for results."""
    click.echo(message, err=True)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results on stdout.")(f)


def lang_option(default: str | None = "en") -> Callable:
    return click.option(
        "--lang",
        default=default,
        show_default=default is not None,
        metavar="en|zh|char|whitespace|spm:MODEL",
        help="Tokenizer to split text with.",
    )


def errors_option(f: Callable) -> Callable:
    return click.option(
        "--errors",
        type=click.Choice(["strict", "replace", "ignore"]),
        default="strict",
        show_default=True,
        help="What to do with bytes that are not UTF-8: stop with an error, or replace/ignore them.",
    )(f)


class FiniteFloat(click.FloatRange):
    """A float option that refuses NaN and infinities (``--lr nan`` fails at parsing, not later),
    optionally within a range: ``FiniteFloat(min=0, min_open=True)``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


class AliasedOption(click.Option):
    """An option with old spellings that still work but are not shown in ``--help``:
    ``@click.option("--embed-dim", "dim", cls=AliasedOption, hidden_aliases=("--dim",))``."""

    def __init__(self, param_decls: Any, hidden_aliases: tuple[str, ...] = (), **attrs: Any):
        super().__init__([*param_decls, *hidden_aliases], **attrs)
        self.hidden_aliases = tuple(hidden_aliases)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = self.opts
        self.opts = [o for o in shown if o not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def positive(name: str, value: float | None, allow_zero: bool = False) -> None:
    """Reject an option value below 1 (or below 0) with a usage error."""
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise click.BadParameter(
            f"must be {'non-negative' if allow_zero else 'positive'}, got {value}", param_hint=name
        )


def tokenizer_options(
    f: Callable | None = None, *, lang_default: str | None = "en", lang_help: str | None = None
) -> Callable:
    """--lang plus the options that tune tokenizers (lowercasing, jieba mode/HMM/user dictionary):
    the same five options on every command that tokenizes. ``@tokenizer_options`` or
    ``@tokenizer_options(lang_default=None, lang_help=...)``."""
    if f is None:
        return lambda g: tokenizer_options(g, lang_default=lang_default, lang_help=lang_help)
    lang = lang_option(lang_default)
    if lang_help is not None:
        lang = click.option("--lang", default=lang_default, metavar="en|zh|char|whitespace|spm:MODEL", help=lang_help)
    options = [
        lang,
        click.option(
            "--lowercase/--keep-case", default=None, help="Lowercase tokens (default: on for en, off otherwise)."
        ),
        click.option(
            "--zh-mode",
            type=click.Choice(["precise", "full", "search"]),
            default="precise",
            show_default=True,
            help="jieba segmentation mode (zh).",
        ),
        click.option(
            "--hmm/--no-hmm",
            default=True,
            show_default=True,
            help="Let jieba guess words missing from its dictionary (zh).",
        ),
        click.option(
            "--user-dict",
            type=click.Path(dir_okay=False),
            default=None,
            help="jieba user dictionary: 'word [freq] [tag]' per line (zh).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def make_tokenizer(
    lang: str,
    lowercase: bool | None = None,
    zh_mode: str | None = None,
    hmm: bool | None = None,
    user_dict: str | None = None,
):
    """Build the tokenizer that ``tokenizer_options`` describe.

    Options left as None are taken from the running command's ``tokenizer_options`` (so every
    command that tokenizes honours all of them); jieba's options given with another language are
    refused rather than ignored.
    """
    from textkit.tokenize import get_tokenizer

    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    zh_mode = params.get("zh_mode", "precise") if zh_mode is None else zh_mode
    hmm = params.get("hmm", True) if hmm is None else hmm
    user_dict = params.get("user_dict") if user_dict is None else user_dict
    options: dict[str, Any] = {}
    if lowercase is not None and not lang.startswith("spm:"):
        options["lowercase"] = lowercase
    if lang == "zh":
        options.update(mode=zh_mode, hmm=hmm, user_dict=user_dict)
    else:
        if user_dict is not None:
            raise click.BadParameter("only applies with --lang zh", param_hint="--user-dict")
        for name, flag in (("zh_mode", "--zh-mode"), ("hmm", "--hmm/--no-hmm")):
            source = ctx.get_parameter_source(name) if ctx is not None and name in params else None
            if source not in (None, click.core.ParameterSource.DEFAULT):
                raise click.BadParameter("only applies with --lang zh", param_hint=flag)
    return get_tokenizer(lang, **options)


_skip_teardown = False


def request_skip_teardown() -> None:
    """Called by a command whose work leaves nothing for the interpreter's shutdown to do (no child
    processes, no output files, nothing registered to run at exit): when the process's own command
    line ran it and it succeeded, the process ends without tearing down its modules and objects, a
    few tens of milliseconds of a short command (numpy's and click's alone take about 20)."""
    global _skip_teardown
    _skip_teardown = True


def skip_teardown_requested() -> bool:
    return _skip_teardown


def exit_without_teardown(code: int) -> None:
    """End the process now, after flushing what it wrote (see :func:`request_skip_teardown`); returns
    only if that output cannot be flushed."""
    import logging

    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # output that cannot be written: the ordinary exit reports it
        return
    os._exit(code)


def single_threaded_blas() -> None:
    """For a command whose work never calls BLAS (n-gram models), before numpy is first imported:
    numpy's OpenBLAS otherwise starts a thread per processor as it loads, which costs a short
    command tens of milliseconds. A setting the user made is kept."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def check_model_kind(path: str, family: str) -> None:
    """Before loading: a model of another family gets one clear line ("models/clf: is a classifier
    (bow), not word vectors") instead of whatever its files make the loader trip over."""
    from pathlib import Path

    from textkit.artifacts import CONFIG, FAMILIES, read_config
    from textkit.errors import ModelFileError

    p = Path(path)
    want = FAMILIES[family]
    if p.is_dir():
        if (p / CONFIG).exists():
            read_config(p, family=family)
        elif (p / "vectors.json").exists() and family != "vectors":
            raise ModelFileError(f"{p}: is word vectors, not {want}")
    elif p.is_file():
        name = p.name.lower()
        arpa = name.endswith((".arpa", ".arpa.gz"))
        if arpa and family != "lm":
            raise ModelFileError(f"{p}: is an ARPA language model, not {want}")
        if not arpa and family == "lm":
            kind = "word vectors" if name.endswith((".bin", ".vec", ".safetensors")) else "a model folder or ARPA file"
            raise ModelFileError(f"{p}: is {kind}, not {want}" if kind == "word vectors" else f"{p}: not {kind}")
        if family == "classifier":
            raise ModelFileError(f"{p}: is a file, not {want} (a model folder)")


def force_option(f: Callable) -> Callable:
    return click.option("--force", is_flag=True, help="Overwrite an existing output instead of stopping.")(f)


def check_overwrite(path: str | None, force: bool, need_bytes: int = 0) -> None:
    """Before any work: refuse to replace an existing output unless ``--force`` (nothing the user
    had is lost silently), claim the output so a second process writing it stops at once, and
    check that its folder is writable and has room (``need_bytes``: an estimate of its size)."""
    from textkit.io import check_writable, claim_output, is_special_file

    if not path or is_special_file(path):  # /dev/stdout, a pipe: nothing to overwrite or claim
        return
    if os.path.exists(path) and not force:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it")
    claim_output(path)
    check_writable(path, need_bytes)
