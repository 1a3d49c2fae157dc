"""The neural half of ``textkit train-lm``: options for ``--model rnn|lstm|gru`` and the run itself.

``cli/lm.py`` owns the command; it applies :func:`neural_options` and calls :func:`train_neural`
when ``--model`` is a recurrent one.
"""

from __future__ import annotations

from typing import Callable

import click

from .common import FiniteFloat, check_overwrite, emit_json, make_tokenizer

NEURAL_MODELS = ("rnn", "lstm", "gru")
# the quick demo when no data is named: the bundled Wikipedia sample, 10k words, one epoch
DEMO = {"corpus": "wiki", "max_vocab": 10000, "epochs": 1}
DEMO_OUTPUT = "models/{model}-wiki"

def neural_options(f: Callable) -> Callable:
    """The options of ``train-lm`` for neural models (ignored for n-gram models)."""
    options = [
        click.option("--embed-dim", type=click.IntRange(min=1), default=200, show_default=True, help="Embedding size (neural)."),
        click.option("--hidden-dim", type=click.IntRange(min=1), default=200, show_default=True, help="Recurrent state size (neural)."),
        click.option("--layers", type=click.IntRange(min=1), default=2, show_default=True, help="Stacked recurrent layers (neural)."),
        click.option("--dropout", type=FiniteFloat(0, 1, max_open=True), default=0.2, show_default=True, help="Dropout on embeddings, between layers and before the decoder."),
        click.option("--tied", is_flag=True, help="Share the embedding with the output layer (needs --embed-dim = --hidden-dim)."),
        click.option("--impl", type=click.Choice(["torch", "scratch"]), default="torch", show_default=True, help="torch.nn's fused layers, or the cells written from their equations."),
        click.option("--init", type=click.Choice(["uniform", "xavier", "kaiming"]), default="uniform", show_default=True, help="Weight initialisation."),
        click.option("--bptt", type=click.IntRange(min=1), default=35, show_default=True, help="Steps of truncated backpropagation through time."),
        click.option("--batch-size", type=click.IntRange(min=1), default=20, show_default=True, help="Rows per minibatch (all processes together)."),
        click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=None, help="Learning rate [sgd 20, adam/adamw 2e-3, adagrad 0.1, rmsprop 1e-3]."),
        click.option("--clip", type=FiniteFloat(min=0), default=0.25, show_default=True, help="Clip the global gradient norm to this (0: no clipping)."),
        click.option("--epochs", type=click.IntRange(min=1), default=6, show_default=True, help="Passes over the training text."),
        click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw", "adagrad", "rmsprop"]), default="sgd", show_default=True, help="Optimizer."),
        click.option("--momentum", type=FiniteFloat(min=0), default=0.0, show_default=True, help="Momentum for sgd and rmsprop."),
        click.option("--schedule", type=click.Choice(["plateau", "exponential", "step", "cyclic", "none"]), default="plateau", show_default=True,
                     help="plateau: divide by --lr-factor when validation stops improving; exponential: lr·e^(−k·epoch); step; cyclic."),
        click.option("--lr-factor", type=FiniteFloat(min=1, min_open=True), default=4.0, show_default=True, help="Divisor for plateau and step schedules."),
        click.option("--lr-decay", type=FiniteFloat(min=0), default=0.5, show_default=True, help="k of the exponential schedule."),
        click.option("--step-epochs", type=click.IntRange(min=1), default=2, show_default=True, help="Epochs between steps of the step schedule."),
        click.option("--weight-decay", type=FiniteFloat(min=0), default=0.0, show_default=True, help="L2 weight decay."),
        click.option("--sampler", type=click.Choice(["sequential", "random"]), default="sequential", show_default=True,
                     help="sequential: carry the hidden state across minibatches; random: reset it every minibatch."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed: runs on CPU repeat exactly."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True, help="Where to train."),
        click.option("--patience", type=click.IntRange(min=1), default=None, help="Stop after this many epochs without a better validation perplexity."),
        click.option("--max-vocab", type=click.IntRange(min=5), default=None, help="Keep at most this many tokens (specials included); the rest become <unk>."),
        click.option("--resume", is_flag=True, help="Continue the interrupted run saved in -o (its settings and data are reused)."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def train_neural(model: str, corpus: str | None, dataset: str | None, raw: bool, data_dir: str | None,
                 output: str | None, force: bool, as_json: bool, lang: str, lowercase: bool | None,
                 min_freq: int, vocab_path: str | None, errors: str, **options) -> None:
    """Train a recurrent LM from the parsed ``train-lm`` options, save it, print figures and a sample."""
    from textkit.lm.train import TrainConfig, load_training_run, train_language_model

    ctx = click.get_current_context()
    default = click.core.ParameterSource.DEFAULT
    resume = options.pop("resume")
    if vocab_path is not None:
        raise click.UsageError("--vocab applies to ngram models; neural models build their vocabulary (see --min-freq, --max-vocab)")
    if corpus is None and dataset is None and not resume:  # the quick demo
        corpus = DEMO["corpus"]
        for name in ("max_vocab", "epochs"):
            if ctx.get_parameter_source(name) == default:
                options[name] = DEMO[name]
        output = output or DEMO_OUTPUT.format(model=model)
    if output is None:
        raise click.UsageError("name the model folder with -o/--output")
    if resume:
        _, config = load_training_run(output)
        for name in ("epochs", "patience"):  # the only settings a resumed run may change
            if ctx.get_parameter_source(name) != default:
                setattr(config, name, options[name])
        config.progress = not options["no_progress"]
        data = config.data if corpus is None and dataset is None else _data_spec(corpus, dataset, raw, data_dir, errors)
    else:
        check_overwrite(output, force)
        data = _data_spec(corpus, dataset, raw, data_dir, errors)
        config = TrainConfig(
            bptt=options["bptt"], batch_size=options["batch_size"], lr=options["lr"], clip=options["clip"] or None,
            epochs=options["epochs"], optimizer=options["optimizer"], momentum=options["momentum"],
            schedule=options["schedule"], lr_factor=options["lr_factor"], lr_decay=options["lr_decay"],
            step_epochs=options["step_epochs"], weight_decay=options["weight_decay"], sampler=options["sampler"],
            seed=options["seed"], patience=options["patience"], progress=not options["no_progress"], data=data,
        )
    tokenizer = make_tokenizer(lang, lowercase)
    train_lines, valid_lines = load_lm_data(data)
    architecture = {k: options[k] for k in ("embed_dim", "hidden_dim", "layers", "dropout", "tied", "impl", "init")}
    architecture["model"] = model
    lm, result = train_language_model(
        train_lines, valid_lines, output, architecture, config, tokenizer=tokenizer, min_freq=min_freq,
        max_vocab=options["max_vocab"], device=options["device"], resume=resume,
    )
    if not _is_main_process():
        return
    _report(lm, result, output, as_json)


def _report(lm, result: dict, output: str, as_json: bool) -> None:
    from textkit.lm.neural import NeuralLM

    best = NeuralLM.load(output)  # the folder holds the best epoch, which is what users get
    sample = best.generate("the" if best.tokenizer.spec == "en" else "", length=30, temperature=0.8, top_k=40, seed=0)
    figures = {
        "train_perplexity": result["train_ppl"], "valid_perplexity": result["valid_ppl"],
        "best_valid_perplexity": result["best_valid_ppl"], "tokens_per_sec": result["tokens_per_sec"],
        "epochs": result["epochs"], "early_stopped": result["early_stopped"], "model": output, "sample": sample,
    }
    if as_json:
        emit_json(figures)
        return
    click.echo(f"train perplexity {result['train_ppl']:.2f}, valid perplexity {result['valid_ppl']:.2f} "
               f"(best {result['best_valid_ppl']:.2f}) after {result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}, "
               f"{result['tokens_per_sec']:.0f} tokens/s")
    click.echo(f"model saved in {output} (plot: {output}/perplexity.png)")
    click.echo(f"sample: {sample}")


def _data_spec(corpus: str | None, dataset: str | None, raw: bool, data_dir: str | None, errors: str) -> dict:
    if corpus is not None and dataset is not None:
        raise click.UsageError("give either a CORPUS or --dataset, not both")
    if dataset is None and (raw or data_dir):
        raise click.UsageError("--raw and --data-dir only apply with --dataset")
    if dataset is not None:
        return {"dataset": dataset, "raw": raw, "data_dir": data_dir}
    return {"corpus": corpus, "errors": errors}


def load_lm_data(data: dict) -> tuple[list[str], list[str]]:
    """Training and validation lines: a dataset's own splits, or a corpus split 90/10."""
    from textkit.corpora import read_corpus
    from textkit.lm.train import split_lines

    if data.get("dataset"):
        from textkit.datasets.wikitext import load_wikitext

        def split(name: str) -> list[str]:
            return load_wikitext(data["dataset"], name, raw=data.get("raw", False), data_dir=data.get("data_dir"))

        return split("train"), split("valid")
    if not data.get("corpus"):
        raise click.UsageError("name a CORPUS file or --dataset to train on")
    return split_lines(list(read_corpus(data["corpus"], errors=data.get("errors", "strict"))))


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
