"""The neural half of ``textkit train-lm``: options for ``--model rnn|lstm|gru`` and the run itself.

``cli/lm.py`` owns the command; it applies :func:`neural_options` and calls :func:`train_neural`
when ``--model`` is a recurrent one.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from .common import FiniteFloat, check_overwrite, emit_json, make_tokenizer

NEURAL_MODELS = ("rnn", "lstm", "gru")
# the quick demo when no data is named: the bundled Wikipedia sample, 10k words, one epoch
DEMO = {"corpus": "wiki", "max_vocab": 10000, "epochs": 1}
DEMO_OUTPUT = "models/{model}-wiki"


def cutoff_list(ctx, param, value):
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected increasing whole numbers separated by commas, got {value!r}") from None


# options a --resume run may change; all others come from the checkpoint
RESUMABLE_OPTIONS = ("epochs", "patience", "lr", "no_progress", "device", "test_file")


def neural_options(f: Callable) -> Callable:
    """The options of ``train-lm`` for neural models (refused with ``--model ngram``)."""
    options = [
        click.option(
            "--embed-dim", type=click.IntRange(min=1), default=200, show_default=True, help="Embedding size (neural)."
        ),
        click.option(
            "--hidden-dim",
            type=click.IntRange(min=1),
            default=200,
            show_default=True,
            help="Recurrent state size (neural).",
        ),
        click.option(
            "--layers",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="Stacked recurrent layers (neural).",
        ),
        click.option(
            "--dropout",
            type=FiniteFloat(0, 1, max_open=True),
            default=0.2,
            show_default=True,
            help="Dropout on embeddings, between layers and before the decoder.",
        ),
        click.option(
            "--tied", is_flag=True, help="Share the embedding with the output layer (needs --embed-dim = --hidden-dim)."
        ),
        click.option(
            "--impl",
            type=click.Choice(["torch", "scratch"]),
            default="torch",
            show_default=True,
            help="torch.nn's fused layers, or the cells written from their equations.",
        ),
        click.option(
            "--init",
            type=click.Choice(["torch", "uniform", "xavier", "kaiming"]),
            default="torch",
            show_default=True,
            help="Weight initialisation: torch's layer defaults, ±0.1 uniform (pytorch/examples), xavier or kaiming.",
        ),
        click.option(
            "--softmax",
            type=click.Choice(["full", "adaptive"]),
            default="full",
            show_default=True,
            help="adaptive: frequent words in a small head, rare ones in clusters "
            "(much faster with large vocabularies; exact probabilities).",
        ),
        click.option(
            "--cutoffs",
            callback=cutoff_list,
            default=None,
            metavar="N1,N2,...",
            help="Adaptive softmax cluster boundaries as word ranks "
            "[default: where the words cover 80% and 95% of the text].",
        ),
        click.option(
            "--valid-fraction",
            type=FiniteFloat(0, 1, max_open=True),
            default=0.1,
            show_default=True,
            help="Hold out this last share of the corpus for validation; "
            "0 trains on everything and keeps the last epoch.",
        ),
        click.option(
            "--valid",
            "valid_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Validate on this text file instead (the corpus is then used whole).",
        ),
        click.option(
            "--test",
            "test_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="After training, score this text file with the final model (test perplexity in the summary).",
        ),
        click.option(
            "--bptt",
            type=click.IntRange(min=1),
            default=35,
            show_default=True,
            help="Steps of truncated backpropagation through time.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=20,
            show_default=True,
            help="Rows per minibatch (all processes together).",
        ),
        click.option(
            "--lr",
            type=FiniteFloat(min=0, min_open=True),
            default=None,
            help="Learning rate [sgd 20, adam/adamw 2e-3, adagrad 0.1, rmsprop 1e-3].",
        ),
        click.option(
            "--clip",
            type=FiniteFloat(min=0),
            default=0.25,
            show_default=True,
            help="Clip the global gradient norm to this (0: no clipping).",
        ),
        click.option(
            "--epochs", type=click.IntRange(min=1), default=6, show_default=True, help="Passes over the training text."
        ),
        click.option(
            "--optimizer",
            type=click.Choice(["sgd", "adam", "adamw", "adagrad", "rmsprop"]),
            default="sgd",
            show_default=True,
            help="Optimizer.",
        ),
        click.option(
            "--momentum",
            type=FiniteFloat(min=0),
            default=0.0,
            show_default=True,
            help="Momentum for sgd and rmsprop.",
        ),
        click.option(
            "--schedule",
            type=click.Choice(["plateau", "exponential", "step", "cyclic", "none"]),
            default="plateau",
            show_default=True,
            help="plateau: divide by --lr-factor when validation stops improving; "
            "exponential: lr·e^(−k·epoch); step; cyclic.",
        ),
        click.option(
            "--lr-factor",
            type=FiniteFloat(min=1, min_open=True),
            default=4.0,
            show_default=True,
            help="Divisor for plateau and step schedules.",
        ),
        click.option(
            "--lr-decay",
            type=FiniteFloat(min=0),
            default=0.5,
            show_default=True,
            help="k of the exponential schedule.",
        ),
        click.option(
            "--step-epochs",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="Epochs between steps of the step schedule.",
        ),
        click.option(
            "--weight-decay",
            type=FiniteFloat(min=0),
            default=0.0,
            show_default=True,
            help="L2 weight decay.",
        ),
        click.option(
            "--sampler",
            type=click.Choice(["sequential", "random"]),
            default="sequential",
            show_default=True,
            help="sequential: carry the hidden state across minibatches; random: reset it every minibatch.",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed: runs on CPU repeat exactly."),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda", "mps"]),
            default="auto",
            show_default=True,
            help="Where to train.",
        ),
        click.option(
            "--patience",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many epochs without a better validation perplexity.",
        ),
        click.option(
            "--max-vocab",
            type=click.IntRange(min=5),
            default=None,
            help="Keep at most this many tokens (specials included); the rest become <unk>.",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run for -o: an interrupted one from its checkpoints in OUTPUT.checkpoint/ beside it, "
            "a finished one from OUTPUT/checkpoint.safetensors. Settings, vocabulary and data come from the "
            "checkpoint; only --epochs, --patience, --lr, --device and --no-progress may change (other "
            "architecture options that differ are refused).",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def train_neural(
    model: str,
    corpus: str | None,
    dataset: str | None,
    raw: bool,
    data_dir: str | None,
    output: str | None,
    force: bool,
    as_json: bool,
    lang: str,
    lowercase: bool | None,
    min_freq: int,
    vocab_path: str | None,
    errors: str,
    **options,
) -> None:
    """Train a recurrent LM from the parsed ``train-lm`` options, save it, print figures and a sample."""
    from textkit.lm.train import TrainConfig, load_training_run, train_language_model
    from textkit.training import keep_freed_memory

    ctx = click.get_current_context()
    default = click.core.ParameterSource.DEFAULT
    given = {name for name in options if ctx.get_parameter_source(name) != default}
    resume = options.pop("resume")
    if vocab_path is not None:
        raise click.UsageError(
            "--vocab applies to ngram models; neural models build their vocabulary (see --min-freq, --max-vocab)"
        )
    if options["test_file"] is not None:  # fail now, not after training
        from textkit.io import check_readable

        check_readable(options["test_file"])
    if options["valid_file"] is not None and "valid_fraction" in given:
        raise click.UsageError("give --valid FILE or --valid-fraction, not both")
    if corpus is None and dataset is None and not resume:  # the quick demo
        corpus = DEMO["corpus"]
        for name in ("max_vocab", "epochs"):
            if name not in given:
                options[name] = DEMO[name]
        output = output or DEMO_OUTPUT.format(model=model)
    if output is None:
        raise click.UsageError("name the model folder with -o/--output")
    architecture = {k: options[k] for k in ARCHITECTURE_OPTIONS}
    architecture["model"] = model
    if resume:
        saved, config = load_training_run(output)
        fixed = sorted(given - set(RESUMABLE_OPTIONS) - set(ARCHITECTURE_OPTIONS) - {"resume"})
        if fixed:
            raise click.UsageError(f"{_flags(fixed)} cannot change on --resume (the checkpoint's settings are used)")
        for name in ("epochs", "patience", "lr"):
            if name in given:
                setattr(config, name, options[name])
        config.progress = not options["no_progress"]
        architecture = {k: v for k, v in architecture.items() if k == "model" or k in given}
        run = saved.get("run") or {}
        data = run.get("data") or saved["training"].get("data") or {}
        if corpus is not None or dataset is not None:
            data = _data_spec(corpus, dataset, raw, data_dir, errors, options)
    else:
        if options["tied"] and options["embed_dim"] != options["hidden_dim"]:
            raise click.UsageError(
                f"--tied shares the embedding with the output layer: --embed-dim ({options['embed_dim']}) must equal "
                f"--hidden-dim ({options['hidden_dim']})"
            )
        check_overwrite(output, force)
        data = _data_spec(corpus, dataset, raw, data_dir, errors, options)
        config = TrainConfig(
            bptt=options["bptt"],
            batch_size=options["batch_size"],
            lr=options["lr"],
            clip=options["clip"] or None,
            epochs=options["epochs"],
            optimizer=options["optimizer"],
            momentum=options["momentum"],
            schedule=options["schedule"],
            lr_factor=options["lr_factor"],
            lr_decay=options["lr_decay"],
            step_epochs=options["step_epochs"],
            weight_decay=options["weight_decay"],
            sampler=options["sampler"],
            seed=options["seed"],
            patience=options["patience"],
            progress=not options["no_progress"],
        )
    tokenizer = make_tokenizer(lang, lowercase)
    train_lines, valid_lines = load_lm_data(data)
    keep_freed_memory()  # every step frees and allocates the same large buffers: reuse their pages
    lm, result = train_language_model(
        train_lines,
        valid_lines,
        output,
        architecture,
        config,
        tokenizer=tokenizer,
        min_freq=min_freq,
        max_vocab=options["max_vocab"],
        device=options["device"],
        resume=resume,
        force=force,
        run_info={"data": data},
    )
    if not _is_main_process():
        return
    test = None
    if options["test_file"] is not None:
        from textkit.corpora import read_corpus
        from textkit.lm import evaluate

        test = evaluate(lm, read_corpus(options["test_file"], errors=errors))
    _report(lm, result, output, as_json, test)


ARCHITECTURE_OPTIONS = ("embed_dim", "hidden_dim", "layers", "dropout", "tied", "impl", "init", "softmax", "cutoffs")


def _flags(names) -> str:
    return ", ".join("--" + n.replace("_", "-") for n in names)


def _report(lm, result: dict, output: str, as_json: bool, test=None) -> None:
    # the model holds what the folder holds: the best validation epoch (the last without validation)
    sample = lm.generate("the" if lm.tokenizer.spec == "en" else "", length=30, temperature=0.8, top_k=40, seed=0)
    figures = {
        "train_perplexity": result["train_ppl"],
        "valid_perplexity": result["valid_ppl"],
        "best_valid_perplexity": result["best_valid_ppl"],
        "tokens_per_sec": result["tokens_per_sec"],
        "epochs": result["epochs"],
        "early_stopped": result["early_stopped"],
        "model": output,
        "sample": sample,
    }
    if test is not None:
        figures.update(test_perplexity=test.perplexity, test_tokens=test.tokens, test_oov_rate=test.oov_rate)
    if as_json:
        emit_json(figures)
        return
    valid = (
        f", valid perplexity {result['valid_ppl']:.2f} (best {result['best_valid_ppl']:.2f})"
        if result["valid_ppl"] is not None
        else " (no validation text: the last epoch is kept)"
    )
    click.echo(
        f"train perplexity {result['train_ppl']:.2f}{valid} after {result['epochs']} "
        f"epoch{'s' if result['epochs'] != 1 else ''}, {result['tokens_per_sec']:.0f} tokens/s"
    )
    plot = f" (plot: {output}/perplexity.png)" if result["epochs"] > 1 else ""
    if test is not None:
        click.echo(f"test perplexity {test.perplexity:.2f} ({test.tokens} tokens, OOV {100 * test.oov_rate:.2f}%)")
    click.echo(f"model saved in {output}{plot}")
    click.echo(f"sample: {sample}")


def _data_spec(
    corpus: str | None, dataset: str | None, raw: bool, data_dir: str | None, errors: str, options: dict
) -> dict:
    if corpus is not None and dataset is not None:
        raise click.UsageError("give either a CORPUS or --dataset, not both")
    if dataset is None and (raw or data_dir):
        raise click.UsageError("--raw and --data-dir only apply with --dataset")
    if dataset is not None:
        return {"dataset": dataset, "raw": raw, "data_dir": data_dir}
    return {
        "corpus": corpus,
        "errors": errors,
        "valid_fraction": options["valid_fraction"],
        "valid_file": options["valid_file"],
    }


def load_lm_data(data: dict) -> tuple[list[str], list[str]]:
    """Training and validation lines: a dataset's own splits, a corpus and a validation file, or a
    corpus whose last ``valid_fraction`` is held out (none with 0)."""
    from textkit.corpora import read_corpus
    from textkit.lm.train import split_lines

    if data.get("dataset"):
        from textkit.datasets.wikitext import load_wikitext

        def split(name: str) -> list[str]:
            return load_wikitext(data["dataset"], name, raw=data.get("raw", False), data_dir=data.get("data_dir"))

        return split("train"), split("valid")
    if not data.get("corpus"):
        raise click.UsageError("name a CORPUS file or --dataset to train on")
    lines = list(read_corpus(data["corpus"], errors=data.get("errors", "strict")))
    if data.get("valid_file"):
        train, _ = split_lines(lines, 0.0)
        return train, [
            line for line in read_corpus(data["valid_file"], errors=data.get("errors", "strict")) if line.strip()
        ]
    return split_lines(lines, data.get("valid_fraction", 0.1))


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
