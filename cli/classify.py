"""Classifier commands: train-clf, eval-clf, predict."""

from __future__ import annotations

import sys

import click

from .common import (
    AliasedOption,
    FiniteFloat,
    check_model_kind,
    check_overwrite,
    emit_json,
    errors_option,
    force_option,
    json_option,
    log,
    make_tokenizer,
    tokenizer_options,
)

MODELS = ("bow", "fasttext", "rnn", "lstm", "gru", "ensemble")
# CLI option -> model parameter, for options whose default comes from the model (None = not given).
MODEL_OPTIONS = {
    "epochs": "epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "embed_dim": "embed_dim",
    "hidden_dim": "hidden_dim",
    "ngrams": "ngrams",
    "min_freq": "min_freq",
    "max_vocab": "max_vocab",
    "dropout": "dropout",
    "weight_decay": "weight_decay",
    "penalty": "penalty",
    "features": "features",
    "pooling": "pooling",
    "layers": "layers",
    "buckets": "buckets",
    "threads": "threads",
    "max_len": "max_len",
    "vectors": "vectors",
    "freeze_vectors": "freeze_vectors",
    "patience": "patience",
    "device": "device",
    "C": "C",
    "analyzer": "analyzer",
    "classifier": "classifier",
    "alpha": "alpha",
}


def dataset_options(f):
    """--dataset and the options that say where its data is."""
    options = [
        click.option(
            "--dataset",
            required=True,
            metavar="imdb|sogou_news|amazon_polarity|amazon_full|FILE",
            help="Named dataset (hub or --data-dir) or a labelled file (.csv/.tsv/.jsonl, or fastText __label__ "
            "lines).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False),
            help="Folder with the dataset's original release (aclImdb/, or train.csv + test.csv) instead of the hub.",
        ),
        click.option(
            "--text-field",
            help="Column/field with the text in a CSV/TSV/JSONL file (default: text; comma-join several).",
        ),
        click.option("--label-field", help="Column/field with the label in a CSV/TSV/JSONL file (default: label)."),
        click.option("--revision", help="Hub revision to load instead of the pinned one."),
        errors_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _load_split(dataset, split, data_dir, text_field, label_field, revision, errors):
    from textkit.datasets.classification import load_classification_splits

    return load_classification_splits(
        dataset,
        data_dir=data_dir,
        text_field=text_field,
        label_field=label_field,
        revision=revision,
        splits=[split],
        errors=errors,
    )[split]


@click.command("train-clf")
@dataset_options
@click.option(
    "--model",
    "kind",
    type=click.Choice(MODELS),
    help="Classifier to train (required unless --autotune); ensemble: bow and fasttext with their defaults, "
    "probabilities averaged.",
)
@tokenizer_options
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the training data (fasttext 20, rnn 5).")
@click.option(
    "--lr",
    type=FiniteFloat(min=0, min_open=True, max=1e6),
    help="Learning rate (fasttext 1.0 SGD, rnn 0.002 Adam).",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Examples per step (rnn; default 32).")
@click.option("--embed-dim", type=click.IntRange(min=1), help="Embedding size (fasttext 10, rnn 100).")
@click.option("--hidden-dim", type=click.IntRange(min=1), help="Recurrent state size per direction (rnn; default 128).")
@click.option("--ngrams", type=click.IntRange(min=1), help="Longest word n-gram (bow, fasttext; default 2).")
@click.option(
    "--min-freq",
    type=click.IntRange(min=1),
    help="Drop words (bow: n-grams in documents) rarer than this (bow 2, fasttext 1, rnn 1).",
)
@click.option("--max-vocab", type=click.IntRange(min=1), help="Keep at most this many words / n-grams.")
@click.option(
    "--dropout",
    type=FiniteFloat(0, 1, max_open=True),
    help="Dropout on embeddings and pooled states (rnn; default 0.3).",
)
@click.option(
    "--weight-decay",
    type=FiniteFloat(min=0, max=1e6),
    help="L2 weight decay (bow: per-example regularisation, C = 1/(wd*n)).",
)
@click.option(
    "--C",
    "C",
    type=FiniteFloat(min=0, min_open=True, max=1e12),
    help="Inverse regularisation strength of the logistic regression (bow; default: TF-IDF features pick it "
    "by 3-fold cross-validation among 10, 100, 1000; NB features 1).",
)
@click.option(
    "--analyzer",
    type=click.Choice(["word", "char"]),
    help="bow n-grams of words (the tokenizer's tokens) or of characters.",
)
@click.option("--penalty", type=click.Choice(["l1", "l2"]), help="Logistic-regression penalty (bow; default l2).")
@click.option(
    "--features",
    type=click.Choice(["tfidf", "nb", "tfidf+nb", "binary"]),
    help="bow features: TF-IDF, NB-weighted indicators (NBSVM-style; two classes), both side by side, or 0/1 "
    "indicators.",
)
@click.option(
    "--classifier",
    type=click.Choice(["logistic", "mnb"]),
    help="bow classifier: logistic regression (default) or multinomial naive Bayes (features binary or tfidf).",
)
@click.option(
    "--alpha",
    type=FiniteFloat(min=0, min_open=True, max=1e12),
    help="Additive smoothing of naive Bayes (bow --classifier mnb; default 1).",
)
@click.option("--pooling", type=click.Choice(["max", "mean"]), help="Pooling over time (rnn; default max).")
@click.option("--layers", type=click.IntRange(min=1), help="Stacked recurrent layers (rnn; default 1).")
@click.option("--buckets", type=click.IntRange(min=1), help="Hash rows for word n-grams (fasttext; default 2000000).")
@click.option(
    "--workers",
    "threads",
    cls=AliasedOption,
    hidden_aliases=("--threads",),
    type=click.IntRange(min=1),
    help="CPU threads: Hogwild trainers (fasttext; default all cores) or torch threads (rnn).",
)
@click.option("--max-len", type=click.IntRange(min=1), help="Tokens kept per text (rnn; default 400).")
@click.option(
    "--vectors",
    type=click.Path(dir_okay=False),
    help="word2vec text/binary vectors to start the embeddings from (rnn).",
)
@click.option(
    "--freeze-vectors/--tune-vectors", default=None, help="Keep --vectors fixed, or fine-tune them (default)."
)
@click.option(
    "--patience", type=click.IntRange(min=1), help="Epochs without validation gain before stopping (default 2)."
)
@click.option(
    "--valid-fraction",
    type=FiniteFloat(0, 1, max_open=True),
    help="Share of train held out for early stopping and reported (0: none). Default 0.1, but 0 for bow, "
    "which has no early stopping and so trains on everything unless asked. With --autotune: the share the search "
    "scores settings on (default: 3 folds below 50000 examples, 5 below 2000, else 0.1 held out).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), help="Use only the first N training examples (quick runs on big datasets)."
)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    help="Report K-fold cross-validation instead of one split (saves a model only with -o).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for splits, initialisation and order.")
@click.option("--device", help="torch device for rnn models (cpu, cuda, cuda:1...).")
@click.option(
    "--autotune",
    is_flag=True,
    help="Search model kind (bow, fasttext), features and hyperparameters on held-out data, then refit the best.",
)
@click.option(
    "--autotune-duration",
    type=FiniteFloat(min=0, min_open=True, max=1e7),
    default=180.0,
    show_default=True,
    help="Seconds the --autotune search may take.",
)
@click.option(
    "--autotune-metric",
    type=click.Choice(["accuracy", "macro_f1"]),
    default="accuracy",
    show_default=True,
    help="What --autotune maximises.",
)
@click.option(
    "--autotune-trials",
    type=click.IntRange(min=1),
    help="Stop --autotune after this many trials (a run that does not depend on the machine's speed).",
)
@click.option("-o", "--output", type=click.Path(), help="Model folder to write (config.json + weights.safetensors).")
@force_option
@json_option
def train_clf(
    dataset,
    data_dir,
    text_field,
    label_field,
    revision,
    errors,
    kind,
    lang,
    lowercase,
    zh_mode,
    hmm,
    user_dict,
    valid_fraction,
    limit,
    folds,
    seed,
    autotune,
    autotune_duration,
    autotune_metric,
    autotune_trials,
    output,
    force,
    as_json,
    **options,
):
    """Train a text classifier on the train split of --dataset and save it to -o.

    \b
    Examples:
      textkit train-clf --dataset imdb --data-dir ~/data --model bow --features nb --ngrams 3 -o models/imdb_nb
      textkit train-clf --dataset sogou_news --data-dir ~/data/sogou_news_csv --model fasttext --lang whitespace \
          --epochs 5 -o models/sogou_ft
      textkit train-clf --dataset reviews.csv --text-field title,body --label-field stars --model lstm \
          --epochs 3 -o models/reviews_lstm
      textkit train-clf --dataset small.jsonl --model bow --folds 5 --json
      textkit train-clf --dataset reviews.csv --lang zh --autotune --autotune-duration 120 -o models/reviews_auto
    """
    import inspect

    from textkit.classify import cross_validate, train_classifier
    from textkit.classify.base import classifier_class

    if autotune:
        given = sorted(f"--{o.replace('_', '-')}" for o, v in options.items() if v is not None and o != "threads")
        if kind is not None or folds is not None or given:
            clash = (["--model"] if kind is not None else []) + (["--folds"] if folds is not None else []) + given
            raise click.UsageError(f"--autotune chooses the model and its settings itself; drop {', '.join(clash)}")
        if output is None:
            raise click.UsageError("give -o MODEL_DIR to save the model --autotune finds")
    else:
        if kind is None:
            raise click.UsageError("give --model (bow, fasttext, rnn, lstm, gru, ensemble) or --autotune")
        for name, value in (
            ("duration", autotune_duration != 180.0),
            ("metric", autotune_metric != "accuracy"),
            ("trials", autotune_trials),
        ):
            if value:
                raise click.UsageError(f"--autotune-{name} applies only with --autotune")
    if output is None and folds is None:
        raise click.UsageError("give -o MODEL_DIR to save the model (or --folds K to cross-validate only)")
    check_overwrite(output, force)
    tokenizer = make_tokenizer(lang, lowercase, zh_mode, hmm, user_dict)
    if autotune:
        return _autotune(
            dataset,
            data_dir,
            text_field,
            label_field,
            revision,
            errors,
            tokenizer,
            limit,
            seed,
            autotune_duration,
            autotune_metric,
            autotune_trials,
            valid_fraction,
            options.get("threads"),
            output,
            force,
            as_json,
        )
    accepted = set(inspect.signature(classifier_class(kind).__init__).parameters)
    params = {"tokenizer": tokenizer}
    for option, value in options.items():
        if value is None:
            continue
        name = MODEL_OPTIONS[option]
        if name not in accepted:
            flag = next(p.opts[0] for p in click.get_current_context().command.params if p.name == option)
            raise click.UsageError(f"{flag} does not apply to --model {kind}")
        params[name] = value
    data = _load_split(dataset, "train", data_dir, text_field, label_field, revision, errors)
    if limit is not None:
        data = data.subset(range(min(limit, len(data))))
    log(f"train-clf: {kind} on {dataset} ({len(data)} examples, {len(set(data.labels))} classes)")
    result = {"model": kind, "dataset": dataset, "n": len(data)}
    if folds is not None:
        result["cross_validation"] = cross_validate(kind, data, folds=folds, seed=seed, **params)
    if output is not None:
        if valid_fraction is None:
            valid_fraction = 0.0 if kind in ("bow", "ensemble") else 0.1
        model, info = train_classifier(kind, data, validation_fraction=valid_fraction, seed=seed, **params)
        from textkit.io import write_json

        report = {"dataset": dataset, "data_dir": data_dir, "seed": seed, **info}
        model.save(output, force=force, files=lambda folder: write_json(folder / "training.json", report))
        result.update(output=output, **info)
    if as_json:
        emit_json(result)
        return
    if folds is not None:
        cv = result["cross_validation"]
        click.echo(
            f"{folds}-fold cross-validation: accuracy {cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}, "
            f"macro-F1 {cv['macro_f1_mean']:.4f} ± {cv['macro_f1_std']:.4f}"
        )
    if output is not None:
        line = f"saved {output}: {result['n_train']} training examples, {result['train_seconds']:.1f} s"
        if "validation" in result:
            v = result["validation"]
            line += f"; validation accuracy {v['accuracy']:.4f}, macro-F1 {v['macro_f1']:.4f} (n {v['n']})"
        click.echo(line)


def _autotune(
    dataset,
    data_dir,
    text_field,
    label_field,
    revision,
    errors,
    tokenizer,
    limit,
    seed,
    duration,
    metric,
    trials,
    valid_fraction,
    threads,
    output,
    force,
    as_json,
):
    from textkit.classify.autotune import autotune
    from textkit.io import write_json

    data = _load_split(dataset, "train", data_dir, text_field, label_field, revision, errors)
    if limit is not None:
        data = data.subset(range(min(limit, len(data))))
    log(f"train-clf: autotune on {dataset} ({len(data)} examples, {len(set(data.labels))} classes) for {duration:g} s")
    model, report = autotune(
        data.texts,
        data.labels,
        tokenizer=tokenizer,
        duration=duration,
        metric=metric,
        seed=seed,
        # Given a share, the search holds it out; otherwise the library picks (folds for small and
        # medium data, a tenth held out above).
        validation_fraction=valid_fraction or 0.1,
        folds=0 if valid_fraction else None,
        max_trials=trials,
        threads=threads,
        log=log,
    )
    trials = {"dataset": dataset, "data_dir": data_dir, **report}
    model.save(output, force=force, files=lambda folder: write_json(folder / "autotune.json", trials))
    best = report["best"]
    result = {"model": best["kind"], "dataset": dataset, "n": len(data), "output": output, "autotune": report}
    if as_json:
        emit_json(result)
        return
    click.echo(f"{'trial':>5s} {'kind':8s} {metric:>8s} {'seconds':>7s}  params")
    for t in report["trials"]:
        click.echo(
            f"{t['trial']:5d} {t['kind']:8s} {'stopped' if t['score'] is None else format(t['score'], '.4f'):>8s} "
            f"{t['seconds']:7.1f}  " + (" ".join(f"{k}={v}" for k, v in sorted(t["params"].items())) or "(defaults)")
        )
    click.echo(
        f"saved {output}: best {best['kind']} ({report['protocol']} {metric} {best['score']:.4f}), "
        f"refit on {len(data)} examples; "
        f"trials in {output}/autotune.json"
    )


@click.command("eval-clf")
@click.argument("model_dir", type=click.Path())
@dataset_options
@click.option(
    "--split",
    type=click.Choice(["train", "test"]),
    default="test",
    show_default=True,
    help="Split of a named dataset (a file is one split).",
)
@click.option("--confusion-png", type=click.Path(dir_okay=False), help="Also draw the confusion matrix into this PNG.")
@click.option("--device", default="cpu", show_default=True, help="torch device for rnn models.")
@force_option
@json_option
def eval_clf(
    model_dir,
    dataset,
    data_dir,
    text_field,
    label_field,
    revision,
    errors,
    split,
    confusion_png,
    device,
    force,
    as_json,
):
    """Score a trained classifier: accuracy, macro-F1, per-class precision/recall, confusion matrix.

    \b
    Examples:
      textkit eval-clf models/imdb_bow --dataset imdb --data-dir ~/data --split test
      textkit eval-clf models/reviews_lstm --dataset reviews_test.csv --text-field title,body --label-field stars --json
      textkit eval-clf models/sogou_ft --dataset sogou_news --data-dir ~/data/sogou_news_csv --confusion-png sogou.png
    """
    from textkit.classify import evaluate, format_report, load_classifier, plot_confusion

    check_overwrite(confusion_png, force)
    check_model_kind(model_dir, "classifier")
    model = load_classifier(model_dir, device=device)
    data = _load_split(dataset, split, data_dir, text_field, label_field, revision, errors)
    report = evaluate(model, data.texts, data.labels)
    if report["unseen_labels"]:
        log(
            f"eval-clf: {len(report['unseen_labels'])} label(s) absent from training count as errors: "
            f"{', '.join(report['unseen_labels'])}"
        )
    if confusion_png:
        plot_confusion(report, confusion_png, title=f"{model.kind} on {dataset}")
    if as_json:
        emit_json({"model": model_dir, "dataset": dataset, "split": split, **report})
    else:
        click.echo(format_report(report))


@click.command("predict")
@click.argument("model_dir", type=click.Path())
@click.argument("texts", nargs=-1)
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Labels to print per text, most probable first.",
)
@click.option("--device", default="cpu", show_default=True, help="torch device for rnn models.")
@errors_option
@json_option
def predict(model_dir, texts, top_k, device, errors, as_json):
    """Label TEXTS (or each line of stdin) with a trained classifier, with probabilities.

    \b
    Examples:
      textkit predict models/imdb_bow "A tedious, overlong film." "Wonderful acting!"
      cat reviews.txt | textkit predict models/imdb_bow --top-k 2
      textkit predict models/sogou_ft --json "zhong1guo2 zu2qiu2 dui4"
    """
    import numpy as np

    from textkit.classify import load_classifier
    from textkit.io import decode_lines

    check_model_kind(model_dir, "classifier")
    model = load_classifier(model_dir, device=device)
    if not texts:
        texts = tuple(decode_lines(sys.stdin.buffer, "<stdin>", errors))
    proba = model.predict_proba(list(texts))
    k = min(top_k, len(model.labels_))
    rows = []
    for text, p in zip(texts, proba):
        best = np.argsort(-p, kind="stable")[:k]
        rows.append(
            {"text": text, "labels": [model.labels_[i] for i in best], "probabilities": [float(p[i]) for i in best]}
        )
    if as_json:
        emit_json({"model": model_dir, "predictions": rows})
        return
    for row in rows:
        click.echo("\t".join(f"{label}\t{prob:.4f}" for label, prob in zip(row["labels"], row["probabilities"])))
