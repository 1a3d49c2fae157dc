"""What every command shares: error handling, JSON output, common options."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from textkit.errors import OutputExistsError, Terminated, TextkitError


def run_guarded(command: click.Command, argv: list[str] | None = None) -> int:
    """Run a click command; a TextkitError becomes ``textkit: error: MESSAGE`` and its exit code.

    Usage errors exit 2 (click's convention), runtime errors 1, Ctrl-C 130. No traceback reaches the
    user for anything textkit anticipates.
    """
    try:
        command.main(args=argv, prog_name="textkit", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        click.echo("textkit: aborted", err=True)
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
    except OutputExistsError as e:
        click.echo(f"textkit: error: {e}; pass --force to replace it", err=True)
        return e.exit_code
    except TextkitError as e:
        click.echo(f"textkit: error: {e}", err=True)
        return e.exit_code
    except Terminated:
        click.echo("textkit: terminated", err=True)
        return 143
    except KeyboardInterrupt:
        click.echo("textkit: interrupted", err=True)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # `textkit tokenize big.txt | head`: stop quietly
        return 0
    except MemoryError:
        click.echo("textkit: error: out of memory; try a smaller corpus, vocabulary or batch", err=True)
        return 1
    return 0


def emit_json(obj: dict[str, Any]) -> None:
    """Print exactly one JSON object on stdout (the ``--json`` contract)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=_jsonable))


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):  # numpy / torch scalars
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def log(message: str) -> None:
    """Progress and logs go to stderr, so stdout stays clean for results."""
    click.echo(message, err=True)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results on stdout.")(f)


def lang_option(default: str = "en") -> Callable:
    return click.option(
        "--lang",
        default=default,
        show_default=True,
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


def positive(name: str, value: float | None, allow_zero: bool = False) -> None:
    """Reject an option value below 1 (or below 0) with a usage error."""
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise click.BadParameter(f"must be {'non-negative' if allow_zero else 'positive'}, got {value}", param_hint=name)


def tokenizer_options(f: Callable) -> Callable:
    """--lang plus the options that tune tokenizers (lowercasing, jieba mode/HMM/user dictionary)."""
    options = [
        lang_option(),
        click.option("--lowercase/--keep-case", default=None, help="Lowercase tokens (default: on for en, off otherwise)."),
        click.option("--zh-mode", type=click.Choice(["precise", "full", "search"]), default="precise", show_default=True, help="jieba segmentation mode (zh)."),
        click.option("--hmm/--no-hmm", default=True, show_default=True, help="Let jieba guess words missing from its dictionary (zh)."),
        click.option("--user-dict", type=click.Path(dir_okay=False), default=None, help="jieba user dictionary: 'word [freq] [tag]' per line (zh)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def make_tokenizer(lang: str, lowercase: bool | None = None, zh_mode: str = "precise", hmm: bool = True, user_dict: str | None = None):
    """Build the tokenizer that ``tokenizer_options`` describe."""
    from textkit.tokenize import get_tokenizer

    options: dict[str, Any] = {}
    if lowercase is not None and not lang.startswith("spm:"):
        options["lowercase"] = lowercase
    if lang == "zh":
        options.update(mode=zh_mode, hmm=hmm, user_dict=user_dict)
    elif user_dict is not None:
        raise click.BadParameter("only applies with --lang zh", param_hint="--user-dict")
    return get_tokenizer(lang, **options)


def force_option(f: Callable) -> Callable:
    return click.option("--force", is_flag=True, help="Overwrite an existing output instead of stopping.")(f)


def check_overwrite(path: str | None, force: bool) -> None:
    """Refuse to replace an existing output unless ``--force``: nothing the user had is lost silently."""
    import os

    if path and os.path.exists(path) and not force:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it")
