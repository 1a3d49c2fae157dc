"""Text-pipeline commands: tokenize, build-vocab, train-spm."""

from __future__ import annotations

import sys

import click

from .common import (
    AliasedOption,
    FiniteFloat,
    check_overwrite,
    emit_json,
    errors_option,
    force_option,
    json_option,
    log,
    make_tokenizer,
    tokenizer_options,
)


@click.command()
@click.argument("file", required=False)
@tokenizer_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (atomically) instead of stdout.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes to tokenize with.")
@errors_option
@force_option
def tokenize(file, lang, lowercase, zh_mode, hmm, user_dict, output, workers, errors, force):
    """Tokenize FILE (or stdin, or a named corpus): one line of space-joined tokens per input line.

    \b
    Examples:
      textkit tokenize notes.txt
      echo "我爱北京天安门" | textkit tokenize --lang zh
      textkit tokenize big_zh.txt.gz --lang zh --workers 2 -o big_zh.tok
      textkit tokenize text.txt --lang spm:models/en_bpe.model
    """
    from textkit.corpora import read_corpus
    from textkit.io import atomic_write, decode_lines

    check_overwrite(output, force, need_bytes=_input_size(file))
    tok = make_tokenizer(lang, lowercase, zh_mode, hmm, user_dict)
    if file is None or file == "-":
        lines = decode_lines(sys.stdin.buffer, "<stdin>", errors)
    else:
        lines = read_corpus(file, errors=errors)
    token_lists = tok.tokenize_lines(lines, workers=workers)
    if output:
        with atomic_write(output) as out:
            for tokens in token_lists:
                out.write(" ".join(tokens) + "\n")
    else:
        write = sys.stdout.write
        for tokens in token_lists:
            write(" ".join(tokens) + "\n")
        sys.stdout.flush()


def _input_size(file: str | None) -> int:
    """Bytes of an input file (0 for stdin or a name that is not a file): tokenized text is about
    as large as the text, so this is the room an output needs."""
    import os

    from textkit.corpora import resolve_corpus

    if file is None or file == "-":
        return 0
    try:
        path = resolve_corpus(file)
        return 0 if str(path).endswith((".gz", ".bz2", ".xz")) else os.path.getsize(path)
    except Exception:  # an unknown name or a missing file is reported by the reader, with context
        return 0


@click.command("build-vocab")
@click.argument("file")
@tokenizer_options
@click.option(
    "--min-freq", type=click.IntRange(min=1), default=1, show_default=True, help="Drop tokens rarer than this."
)
@click.option(
    "--max-vocab",
    "max_size",
    cls=AliasedOption,
    hidden_aliases=("--max-size",),
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most this many tokens, specials included.",
)
@click.option(
    "--specials",
    default="<unk>,<pad>,<bos>,<eos>",
    show_default=True,
    help="Comma-separated special tokens (reserved first).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Vocabulary JSON file to write.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes to tokenize with.")
@errors_option
@force_option
@json_option
def build_vocab(
    file,
    lang,
    lowercase,
    zh_mode,
    hmm,
    user_dict,
    min_freq,
    max_size,
    specials,
    output,
    workers,
    errors,
    force,
    as_json,
):
    """Build a vocabulary from FILE (a path or named corpus) and save it as JSON.

    \b
    Examples:
      textkit build-vocab corpus.txt --min-freq 2 -o vocab.json
      textkit build-vocab zh_sample --lang zh --max-vocab 5000 -o models/zh_vocab.json --json
    """
    from textkit.corpora import TokenizedCorpus
    from textkit.vocab import Vocab

    check_overwrite(output, force)
    tok = make_tokenizer(lang, lowercase, zh_mode, hmm, user_dict)
    corpus = TokenizedCorpus(file, tok, errors=errors, workers=workers)
    special_tokens = tuple(s for s in specials.split(",") if s)
    vocab = Vocab.build(corpus, min_freq=min_freq, max_size=max_size, specials=special_tokens)
    vocab.save(output)
    n_tokens = sum(vocab.freqs)
    summary = {"vocab_size": len(vocab), "output": output, "tokens_in_vocab": n_tokens}
    if as_json:
        emit_json(summary)
    else:
        log(f"wrote {output}: {len(vocab)} tokens")


@click.command("train-spm")
@click.argument("file")
@click.option("--vocab-size", type=click.IntRange(min=2), default=8000, show_default=True, help="Number of pieces.")
@click.option("--model-type", type=click.Choice(["bpe", "unigram"]), default="unigram", show_default=True)
@click.option(
    "--character-coverage",
    type=FiniteFloat(0.5, 1.0),
    default=1.0,
    show_default=True,
    help="Use 0.9995 for languages with large alphabets such as Chinese.",
)
@click.option("-o", "--output", "prefix", required=True, help="Output prefix: writes PREFIX.model and PREFIX.vocab.")
@errors_option
@force_option
@json_option
def train_spm(file, vocab_size, model_type, character_coverage, prefix, errors, force, as_json):
    """Train a sentencepiece model on FILE (a path or named corpus).

    \b
    Examples:
      textkit train-spm en_sample --vocab-size 500 --model-type bpe -o models/en_bpe
      textkit tokenize notes.txt --lang spm:models/en_bpe.model
    """
    from textkit.corpora import resolve_corpus
    from textkit.tokenize import train_sentencepiece

    check_overwrite(f"{prefix}.model", force)
    check_overwrite(f"{prefix}.vocab", force)
    path = train_sentencepiece(
        resolve_corpus(file),
        prefix,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        errors=errors,
    )
    if as_json:
        emit_json({"model": str(path), "vocab_size": vocab_size, "model_type": model_type})
    else:
        log(f"wrote {path}")
