"""Word-vector commands: train-w2v, eval-w2v, similar, analogy, plot-embeddings."""

from __future__ import annotations

import os

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

DEFAULT_OUTPUT = "models/w2v.bin"
SHOWCASE_WORDS = ("france", "january", "two", "war", "water", "university")  # clear on the wiki sample


@click.command("train-w2v")
@click.argument("corpus", required=False)
@click.option(
    "-o",
    "--output",
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Vectors to write: .bin (word2vec binary), .txt/.vec (text), or a folder (the whole model: "
    "can train further).",
)
@click.option("--sg/--cbow", default=False, show_default=True, help="Skip-gram or CBOW (mean of the context).")
@click.option(
    "--hs", is_flag=True, help="Hierarchical softmax (Huffman tree); combine with --negative 0 to use it alone."
)
@click.option(
    "--negative",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Negative samples per example (0: off).",
)
@click.option(
    "--embed-dim",
    "dim",
    cls=AliasedOption,
    hidden_aliases=("--dim",),
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Vector size.",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Largest context window (each word draws a smaller one at random).",
)
@click.option(
    "--min-freq",
    "min_count",
    cls=AliasedOption,
    hidden_aliases=("--min-count",),
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Ignore words rarer than this.",
)
@click.option(
    "--max-vocab",
    "max_vocab_size",
    cls=AliasedOption,
    hidden_aliases=("--max-vocab-size",),
    type=click.IntRange(min=1),
    default=None,
    help="Bound on distinct words held while counting (rarer ones are pruned, as gensim's max_vocab_size).",
)
@click.option(
    "--sample",
    type=FiniteFloat(min=0),
    default=1e-3,
    show_default=True,
    help="Subsampling threshold for frequent words (0: off).",
)
@click.option(
    "--alpha", type=FiniteFloat(min=0, min_open=True), default=0.025, show_default=True, help="Initial learning rate."
)
@click.option(
    "--min-alpha",
    type=FiniteFloat(min=0),
    default=0.0001,
    show_default=True,
    help="Final learning rate (linear decay over all epochs).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(os.cpu_count() or 1, 4),
    show_default=True,
    help="Training threads (1 + --seed: reproducible).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--kernel",
    type=click.Choice(["hogbatch", "classic"]),
    default="hogbatch",
    show_default=True,
    help="hogbatch: a window's context words share the target's negatives (fast); classic: pair by pair, "
    "as the C tool and gensim.",
)
@tokenizer_options
@errors_option
@force_option
@json_option
def train_w2v(
    corpus,
    output,
    sg,
    hs,
    negative,
    dim,
    window,
    min_count,
    max_vocab_size,
    sample,
    alpha,
    min_alpha,
    epochs,
    workers,
    seed,
    kernel,
    lang,
    lowercase,
    zh_mode,
    hmm,
    user_dict,
    errors,
    force,
    as_json,
):
    """Train word2vec on CORPUS (a text file or a named corpus; default: the Wikipedia sample).

    The corpus is read and tokenized once: its word ids go to an anonymous temporary file that every
    epoch replays. Loss per epoch and words/s are reported; a progress bar shows on a terminal.

    \b
    Examples:
      textkit train-w2v                                   # Wikipedia sample → models/w2v.bin
      textkit train-w2v corpus.txt --sg --embed-dim 200 -o models/sg.txt --epochs 10
      textkit train-w2v zh.txt --lang zh --min-freq 2 -o models/zh
      textkit train-w2v corpus.txt --hs --negative 0 --workers 1 --seed 7 --json
    """
    from textkit.embeddings import save_vectors
    from textkit.io import check_writable
    from textkit.word2vec import Word2Vec

    _check_vector_output(output, force)
    tokenizer = make_tokenizer(lang, lowercase, zh_mode, hmm, user_dict)
    source = corpus if corpus is not None else "wiki"
    model = Word2Vec(
        vector_size=dim,
        window=window,
        min_count=min_count,
        max_vocab_size=max_vocab_size,
        sample=sample,
        alpha=alpha,
        min_alpha=min_alpha,
        sg=int(sg),
        hs=int(hs),
        negative=negative,
        epochs=epochs,
        workers=workers,
        seed=seed,
        kernel=kernel,
        tokenizer=tokenizer,
    )
    sentences = _sentences(source, tokenizer, errors)
    model.build_vocab(sentences)
    check_writable(output, need_bytes=4 * dim * len(model.vocab))  # room for the vectors, before training
    if not as_json:
        log(f"vocabulary: {len(model.vocab)} words (min_count {min_count}) from {model.corpus_total_words} words")
    report = model.train(sentences)
    written = save_vectors(model, output, force=force)
    summary = {
        "vocab_size": len(model.vocab),
        "output": str(written),
        **report.to_dict(),
        "settings": {
            "sg": int(sg),
            "hs": int(hs),
            "negative": negative,
            "vector_size": dim,
            "window": window,
            "min_count": min_count,
            "sample": sample,
            "alpha": alpha,
            "min_alpha": min_alpha,
            "epochs": epochs,
            "workers": workers,
            "seed": seed,
            "kernel": kernel,
            "corpus": source,
        },
    }
    if as_json:
        emit_json(summary)
        return
    log(
        f"trained {report.words} words in {report.train_seconds:.1f}s ({report.words_per_sec:,.0f} words/s); "
        f"loss per example by epoch: {', '.join(f'{x:.3f}' for x in report.epoch_mean_loss)}"
    )
    log(f"wrote {written}")
    if corpus is None:
        _show_neighbours(model.wv)


def _sentences(source: str, tokenizer, errors: str):
    """The corpus as token lists: split on whitespace straight from the file when that is the
    tokenizer (no tokenizer call per line), else through the tokenizer."""
    from textkit.corpora import TokenizedCorpus, resolve_corpus
    from textkit.tokenize import WhitespaceTokenizer
    from textkit.word2vec import LineCorpus

    if type(tokenizer) is WhitespaceTokenizer and not tokenizer.lowercase:
        return LineCorpus(resolve_corpus(source), errors=errors)
    return TokenizedCorpus(source, tokenizer, errors=errors)


def _check_vector_output(output: str, force: bool) -> None:
    """Refuse to replace existing vectors without --force, before any work."""
    from pathlib import Path

    if Path(output).suffix == ".safetensors":
        raise click.UsageError(f"{output}: textkit's own format is a folder; give a name without a suffix")
    check_overwrite(output, force)


def _check_image_name(output: str) -> None:
    """An image name matplotlib can write (its suffix picks the format), checked before any work."""
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    suffix = Path(output).suffix.lower().lstrip(".")
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if suffix and suffix not in formats:
        raise click.BadParameter(
            f"cannot write .{suffix} images; use one of {', '.join(sorted(formats))}", param_hint="-o/--output"
        )


def _show_neighbours(kv, words=SHOWCASE_WORDS, topn: int = 6) -> None:
    """A few nearest-neighbour lists, so a first run shows that the vectors mean something."""
    for word in [w for w in words if w in kv][:5]:
        neighbours = ", ".join(w for w, _ in kv.most_similar(word, topn=topn))
        click.echo(f"{word}: {neighbours}")


def _load(path: str):
    from textkit.embeddings import load_vectors

    check_model_kind(path, "vectors")
    return load_vectors(path)


@click.command("eval-w2v")
@click.argument("vectors")
@click.option(
    "--analogies", default=None, metavar="google|PATH", help="Analogy questions (questions-words.txt format)."
)
@click.option(
    "--similarity",
    default=None,
    metavar="ws353,simlex|PATH",
    help="Comma-separated word-pair sets (word1<TAB>word2<TAB>score).",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    default=300_000,
    show_default=True,
    help="Only the most frequent N words take part (gensim's default).",
)
@click.option(
    "--case-sensitive", is_flag=True, help="Match words with their case (default: case-insensitive, as gensim)."
)
@json_option
def eval_w2v(vectors, analogies, similarity, restrict_vocab, case_sensitive, as_json):
    """Evaluate VECTORS on word analogies and word-pair similarity (default: google, ws353, simlex).

    \b
    Examples:
      textkit eval-w2v models/w2v.bin
      textkit eval-w2v models/w2v.bin --analogies google --similarity ws353,simlex --json
      textkit eval-w2v vectors.txt --similarity my_pairs.tsv
    """
    from textkit.embeddings import evaluate_analogies, evaluate_pairs

    kv = _load(vectors)
    if analogies is None and similarity is None:
        analogies, similarity = "google", "ws353,simlex"
    result: dict = {"vectors": vectors, "vocab_size": len(kv)}
    if analogies:
        r = evaluate_analogies(kv, analogies, restrict_vocab=restrict_vocab, case_insensitive=not case_sensitive)
        result["analogies"] = {"set": analogies, **r}
    if similarity:
        result["similarity"] = {}
        for name in [s.strip() for s in similarity.split(",") if s.strip()]:
            result["similarity"][name] = evaluate_pairs(
                kv, name, restrict_vocab=restrict_vocab, case_insensitive=not case_sensitive
            )
    if as_json:
        emit_json(result)
        return
    if "analogies" in result:
        a = result["analogies"]
        click.echo(
            f"analogies ({analogies}): accuracy {a['accuracy']:.4f} on {a['covered']}/{a['total']} questions covered"
        )
        for s in a["sections"]:
            click.echo(f"  {s['section']:<28} {s['accuracy']:.4f}  ({s['correct']}/{s['covered']})")
    for name, r in result.get("similarity", {}).items():
        click.echo(
            f"similarity ({name}): spearman {r['spearman']:.4f}  pearson {r['pearson']:.4f}  "
            f"pairs {r['pairs']}  oov {100 * r['oov_ratio']:.1f}%"
        )


@click.command("similar")
@click.argument("vectors")
@click.argument("words", nargs=-1, required=True)
@click.option("--minus", multiple=True, help="Subtract this word's direction (repeatable).")
@click.option("--topn", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--restrict-vocab", type=click.IntRange(min=1), default=None, help="Search only the N most frequent words."
)
@json_option
def similar(vectors, words, minus, topn, restrict_vocab, as_json):
    """Nearest words (cosine) to WORDS in VECTORS.

    \b
    Examples:
      textkit similar models/w2v.bin france
      textkit similar models/w2v.bin king woman --minus man --topn 5 --json
    """
    from textkit.embeddings import check_words

    kv = _load(vectors)
    check_words(kv, [*words, *minus])
    neighbours = kv.most_similar(positive=list(words), negative=list(minus), topn=topn, restrict_vocab=restrict_vocab)
    if as_json:
        emit_json(
            {
                "words": list(words),
                "minus": list(minus),
                "similar": [{"word": w, "cosine": float(s)} for w, s in neighbours],
            }
        )
        return
    for w, s in neighbours:
        click.echo(f"{w}\t{s:.4f}")


@click.command("analogy")
@click.argument("vectors")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd", show_default=True)
@click.option("--topn", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--restrict-vocab", type=click.IntRange(min=1), default=None, help="Answer only from the N most frequent words."
)
@json_option
def analogy(vectors, a, b, c, method, topn, restrict_vocab, as_json):
    """A is to B as C is to ?  (e.g. man king woman → queen).

    \b
    Examples:
      textkit analogy models/w2v.bin man king woman
      textkit analogy models/w2v.bin paris france berlin --method 3cosmul --json
    """
    from textkit.embeddings import check_words

    kv = _load(vectors)
    check_words(kv, [a, b, c])
    query = kv.most_similar if method == "3cosadd" else kv.most_similar_cosmul  # 3CosMul: Levy and Goldberg 2014
    answers = query(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
    if as_json:
        emit_json(
            {"a": a, "b": b, "c": c, "method": method, "answers": [{"word": w, "score": float(s)} for w, s in answers]}
        )
        return
    for w, s in answers:
        click.echo(f"{w}\t{s:.4f}")


@click.command("plot-embeddings")
@click.argument("vectors")
@click.option("--words", default=None, help="Comma-separated words to plot (default: the --top most frequent).")
@click.option("--top", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--method", type=click.Choice(["pca", "tsne"]), default="pca", show_default=True)
@click.option(
    "-o",
    "--output",
    default="embeddings.png",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Image to write (.png, .pdf, .svg).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="t-SNE seed.")
@force_option
@json_option
def plot_embeddings(vectors, words, top, method, output, seed, force, as_json):
    """A 2-D map (PCA or t-SNE) of word vectors, with labels.

    \b
    Examples:
      textkit plot-embeddings models/w2v.bin -o emb.png
      textkit plot-embeddings models/w2v.bin --words king,queen,man,woman,paris,france --method tsne -o emb.png
    """
    from textkit.embeddings import plot_embeddings as plot

    _check_image_name(output)
    check_overwrite(output, force)
    kv = _load(vectors)
    chosen = [w.strip() for w in words.split(",") if w.strip()] if words else kv.index_to_key[:top]
    plot(kv, chosen, output, method=method, seed=seed)
    if as_json:
        emit_json({"output": output, "words": len(chosen), "method": method})
    else:
        log(f"wrote {output} ({len(chosen)} words, {method})")
