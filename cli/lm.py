"""Language-model commands: train-lm, eval-ppl, generate.

``eval-ppl`` and ``generate`` work on any saved textkit language model (n-gram or neural) through
:func:`textkit.lm.load_language_model`: one code path, one perplexity definition. ``train-lm``
chooses the model family with ``--model``; each family trains in its own function below.
"""

from __future__ import annotations

import time

import click

from .common import (
    FiniteFloat,
    check_model_kind,
    check_overwrite,
    emit_json,
    errors_option,
    force_option,
    json_option,
    log,
    make_tokenizer,
    request_skip_teardown,
    single_threaded_blas,
    tokenizer_options,
)
from .lm_neural import neural_options, train_neural

WIKITEXT = ("wikitext-2", "wikitext-103")
MODEL_FAMILIES = ("ngram", "rnn", "lstm", "gru")


def dataset_options(f):
    """--dataset / --raw / --data-dir: WikiText from the hub or a local copy in the release layout."""
    options = [
        click.option(
            "--dataset", type=click.Choice(WIKITEXT), default=None, help="Use a WikiText split instead of a file."
        ),
        click.option("--raw", is_flag=True, help="WikiText: the raw (untokenized, no <unk>) version."),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False),
            default=None,
            help="WikiText: a local copy in the original layout (wiki.{train,valid,test}.tokens or .raw); no network.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _setup_logging() -> None:
    import logging

    logging.basicConfig(format="textkit: %(levelname)s: %(message)s", level=logging.WARNING)


# ---- eval-ppl ----------------------------------------------------------------------------------------
@click.command("eval-ppl")
@click.argument("model")
@click.option(
    "--file", "text_file", default=None, help="Text to evaluate on (a path or named corpus), one line per sentence."
)
@dataset_options
@click.option(
    "--split", type=click.Choice(["valid", "test"]), default="valid", show_default=True, help="WikiText split."
)
@tokenizer_options(
    lang_default=None,
    lang_help="Tokenizer for a bare ARPA file (default: whitespace, as KenLM; a model folder uses its own).",
)
@errors_option
@json_option
def eval_ppl(
    model, text_file, dataset, raw, data_dir, split, lang, lowercase, zh_mode, hmm, user_dict, errors, as_json
):
    """Perplexity of MODEL (a saved language model folder, or an ARPA file) on a text.

    Each non-empty line is a sentence; words and one end-of-line token per line are predicted;
    unknown words are scored as <unk> and reported as oov_rate.

    \b
    Examples:
      textkit eval-ppl models/wt2-mkn5 --dataset wikitext-2 --split test --data-dir data/wikitext-2
      textkit eval-ppl lm.arpa.gz --file test.txt --json
      textkit eval-ppl kenlm.arpa --file test.txt --lang en     # how to split text for a bare ARPA file
    """
    from textkit.lm import evaluate, load_language_model

    _setup_logging()
    lines, source = _text_lines(text_file, dataset, raw, data_dir, split, errors)
    tokenizer = None
    if lang is not None:
        tokenizer = make_tokenizer(lang, lowercase)
    elif lowercase is not None or user_dict is not None:
        raise click.UsageError("--lowercase/--keep-case and --user-dict need --lang (they apply to a bare ARPA file)")
    check_model_kind(model, "lm")
    if _is_ngram(model):
        single_threaded_blas()
        request_skip_teardown()
    lm = load_language_model(model, tokenizer=tokenizer)
    start = time.perf_counter()
    result = evaluate(lm, lines)
    seconds = time.perf_counter() - start
    summary = {**result.to_dict(), "model": model, "source": source, "seconds": round(seconds, 3)}
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"{source}: perplexity {result.perplexity:.2f}  cross-entropy {result.cross_entropy_bits:.4f} bits/token  "
            f"tokens {result.tokens}  OOV {100 * result.oov_rate:.2f}%"
        )


def _is_ngram(model: str) -> bool:
    """Whether MODEL is an n-gram model (a bare ARPA file, or a folder of kind lm.ngram)."""
    from pathlib import Path

    p = Path(model)
    if not p.is_dir():
        return p.name.lower().endswith((".arpa", ".arpa.gz"))
    from textkit.artifacts import read_config

    return read_config(p, family="lm")["kind"] == "lm.ngram"


def _text_lines(text_file, dataset, raw, data_dir, split, errors):
    """The lines to evaluate or train on: a file/named corpus xor a WikiText split."""
    if (text_file is None) == (dataset is None):
        raise click.UsageError("give exactly one of --file TEXT or --dataset wikitext-2|wikitext-103")
    if dataset is None and (raw or data_dir):
        raise click.UsageError("--raw and --data-dir only apply with --dataset")
    if text_file is not None:
        from textkit.corpora import read_corpus, resolve_corpus
        from textkit.io import check_readable

        check_readable(resolve_corpus(text_file))
        return read_corpus(text_file, errors=errors), text_file
    from textkit.datasets.wikitext import iter_wikitext

    name = f"{dataset}{'-raw' if raw else ''}/{split}"
    return iter_wikitext(dataset, split, raw, data_dir), name


# ---- generate ----------------------------------------------------------------------------------------
@click.command()
@click.argument("model")
@click.option("--prefix", default="", help="Text to continue (the start of a line).")
@click.option(
    "--length",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Most tokens to generate (stops early at the end of the line).",
)
@click.option(
    "--temperature",
    type=FiniteFloat(),
    default=1.0,
    show_default=True,
    help="Divides log-probabilities: < 1 sharper, > 1 flatter; must be > 0.",
)
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Sample only among the K likeliest tokens.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same text).")
@json_option
def generate(model, prefix, length, temperature, top_k, seed, as_json):
    """Sample a continuation of --prefix from MODEL (any saved textkit language model or ARPA file).

    \b
    Examples:
      textkit generate models/wt2-mkn5 --prefix "the game" --length 30 --seed 1
      textkit generate models/wt2-lstm --prefix "in 1995" --temperature 0.8 --top-k 40 --json
    """
    from textkit.lm import load_language_model

    if not temperature > 0:
        raise click.BadParameter(f"must be positive, got {temperature}", param_hint="--temperature")
    check_model_kind(model, "lm")
    lm = load_language_model(model)
    text = lm.generate(prefix, length, temperature=temperature, top_k=top_k, seed=seed)
    if as_json:
        emit_json(
            {
                "text": text,
                "prefix": prefix,
                "model": model,
                "length": length,
                "temperature": temperature,
                "top_k": top_k,
                "seed": seed,
            }
        )
    else:
        click.echo(text)


# ---- train-lm ----------------------------------------------------------------------------------------
@click.command("train-lm")
@click.argument("corpus", required=False)
@click.option(
    "--model", "family", type=click.Choice(MODEL_FAMILIES), default="ngram", show_default=True, help="Model family."
)
@dataset_options
@tokenizer_options(
    lang_default=None,
    lang_help="Tokenizer (default: whitespace for --dataset, whose text is already tokenized; en otherwise).",
)
@click.option(
    "--min-freq", type=click.IntRange(min=1), default=1, show_default=True, help="Words rarer than this become <unk>."
)
@click.option(
    "--vocab",
    "vocab_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Use this vocabulary (JSON from build-vocab) instead; other words become <unk>.",
)
@click.option("--order", type=click.IntRange(min=1), default=3, show_default=True, help="ngram: the n-gram order N.")
@click.option(
    "--smoothing",
    type=click.Choice(["mkn", "kn", "addk", "mle"]),
    default="mkn",
    show_default=True,
    help="ngram: modified Kneser-Ney, Kneser-Ney, add-k, or maximum likelihood.",
)
@click.option("--k", type=FiniteFloat(), default=None, help="ngram, addk: the k to add (default 1: Laplace).")
@click.option("--gzip", "use_gzip", is_flag=True, help="ngram: write model.arpa.gz instead of model.arpa.")
@click.option(
    "--format",
    "model_format",
    type=click.Choice(["arpa", "native"]),
    default="arpa",
    show_default=True,
    help=(
        "ngram, kn/mkn: model.arpa, or weights.safetensors "
        "(loads by memory-mapping: fast start, models larger than RAM)."
    ),
)
@click.option(
    "--memory",
    default=None,
    metavar="SIZE",
    help=(
        "ngram, kn/mkn: memory budget, e.g. 1G, 500M or 80% of RAM [default: 80%]. A corpus that does not fit "
        "is built in partitions spilled to --temp-dir; the model is the same."
    ),
)
@click.option(
    "--temp-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="ngram: folder for the temporary files of a partitioned build [default: the system's].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="Model folder to write (config.json, vocab.json, model files).",
)
@errors_option
@force_option
@json_option
@neural_options
def train_lm(
    corpus,
    family,
    dataset,
    raw,
    data_dir,
    lang,
    lowercase,
    zh_mode,
    hmm,
    user_dict,
    min_freq,
    vocab_path,
    order,
    smoothing,
    k,
    use_gzip,
    model_format,
    memory,
    temp_dir,
    output,
    errors,
    force,
    as_json,
    **neural,
):
    """Train a language model on CORPUS (a file or named corpus) or a WikiText training split.

    \b
    Examples:
      textkit train-lm --dataset wikitext-2 --data-dir data/wikitext-2 --order 5 -o models/wt2-mkn5
      textkit train-lm corpus.txt --lang en --order 3 --smoothing kn --gzip -o models/kn3
      textkit train-lm en_sample --smoothing addk --k 0.1 -o models/addk --json
      textkit train-lm --model lstm                  # neural: quick demo on the Wikipedia sample
      textkit train-lm corpus.txt --model gru --tied --epochs 10 -o models/gru
      textkit train-lm --model gru -o models/gru --resume --epochs 20
      torchrun --nproc_per_node 2 -m textkit_cli.main train-lm corpus.txt --model lstm -o models/ddp
    """
    _setup_logging()
    _refuse_inapplicable(family, neural)
    if lang is None:
        lang = "whitespace" if dataset is not None else "en"
    if family != "ngram":
        return train_neural(
            family,
            corpus,
            dataset,
            raw,
            data_dir,
            output,
            force,
            as_json,
            lang,
            lowercase,
            min_freq,
            vocab_path,
            errors,
            **neural,
        )
    if output is None:
        raise click.UsageError("name the model folder with -o/--output")
    if (corpus is None) == (dataset is None):
        raise click.UsageError("give exactly one of CORPUS or --dataset wikitext-2|wikitext-103")
    check_overwrite(output, force)
    tokenizer = make_tokenizer(lang, lowercase)
    lines, source = _text_lines(corpus, dataset, raw, data_dir, "train", errors)
    summary = _train_ngram(
        lines,
        tokenizer,
        min_freq,
        vocab_path,
        order,
        smoothing,
        k,
        use_gzip,
        model_format == "native",
        output,
        force,
        memory,
        temp_dir,
    )
    summary = {"output": output, "source": source, **summary}
    if as_json:
        emit_json(summary)
    else:
        log(
            f"wrote {output}: {summary['model']}, {summary['vocab_size']} words, "
            f"{summary['train_tokens']} training tokens, {summary['seconds']:.1f}s"
        )


NGRAM_ONLY = ("order", "smoothing", "k", "use_gzip", "model_format", "vocab_path", "memory", "temp_dir")


def _refuse_inapplicable(family: str, neural: dict) -> None:
    """Options of the other model family, given explicitly, are a usage error rather than ignored."""
    ctx = click.get_current_context()
    foreign = NGRAM_ONLY if family != "ngram" else tuple(neural)
    given = [
        p
        for p in ctx.command.params
        if p.name in foreign and ctx.get_parameter_source(p.name) != click.core.ParameterSource.DEFAULT
    ]
    if given:
        flags = ", ".join(p.opts[0] for p in given)
        other = "--model ngram" if family != "ngram" else "--model rnn|lstm|gru"
        raise click.UsageError(f"{flags} only appl{'ies' if len(given) == 1 else 'y'} with {other}")


def _train_ngram(
    lines, tokenizer, min_freq, vocab_path, order, smoothing, k, use_gzip, native, output, force, memory, temp_dir
) -> dict:
    """Count, estimate and save an n-gram model; the summary train-lm prints."""
    from textkit.errors import UsageError
    from textkit.lm.ngram import NgramLM
    from textkit.vocab import Vocab

    if k is not None and smoothing != "addk":
        raise click.UsageError("--k only applies with --smoothing addk")
    if use_gzip and smoothing in ("mle", "addk"):
        raise click.UsageError(f"--gzip applies to ARPA files; {smoothing} models are saved as counts")
    if native and (use_gzip or smoothing in ("mle", "addk")):
        raise click.UsageError("--format native applies to kn and mkn models, without --gzip")
    vocab = Vocab.load(vocab_path) if vocab_path else None
    start = time.perf_counter()
    lm = NgramLM(
        order=order, smoothing=smoothing, k=1.0 if k is None else k, min_freq=min_freq, vocab=vocab, tokenizer=tokenizer
    )
    if smoothing in ("kn", "mkn"):
        try:
            built = lm.build_lines(
                lines,
                output,
                memory="80%" if memory is None else memory,
                temp_dir=temp_dir,
                force=force,
                gzip=use_gzip,
                native=native,
            )
        except UsageError as e:
            if "memory" in str(e):
                raise click.UsageError(f"--memory: {e}") from None
            raise
        ngrams = built["ngrams"]
    else:
        if memory is not None or temp_dir is not None:
            raise click.UsageError("--memory and --temp-dir apply to kn and mkn models")
        lm.fit_lines(lines)
        lm.save(output, force=force, gzip=use_gzip, native=native)
        ngrams = [int((lm.counts_[0] > 0).sum())] + [len(c) for c in lm.counts_[1:]]
    return {
        "model": f"ngram order {order} {smoothing}",
        "order": order,
        "smoothing": smoothing,
        "vocab_size": len(lm.vocab_),
        "train_tokens": lm.train_tokens_,
        "ngrams": ngrams,
        "discounts": lm.discounts_,
        "seconds": round(time.perf_counter() - start, 3),
    }
