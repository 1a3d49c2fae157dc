"""Text classification: textkit ``fasttext`` and ``bow`` against the fastText package and a
scikit-learn TF-IDF + LogisticRegression pipeline, on the same split, in the same run.

The data is real text that ships offline with gensim's test data, labelled by where it comes from
(4 classes): Wikipedia paragraphs (textkit's ``wiki`` corpus), news articles (the Lee background
corpus), and posts from two newsgroups (alt.atheism, sci.space; gensim's ``mini_newsgroup``, with
the mail headers removed so that the "Newsgroups:" line cannot give the answer away). Every
document is cut into pieces of ``--chunk`` tokens; each class is capped at ``--cap`` pieces.

Both fastText implementations get identical hyperparameters (dim, epochs, lr, word bigrams,
buckets, minCount 1, softmax, threads) and identical whitespace-tokenized, lowercased text.
fastText training times are the median over ``--repeats`` fits (the logistic regressions, slow
and not the speed target, are fitted once); textkit's numba kernels are compiled (and
cached) by a warm-up fit first, as a fair comparison with a precompiled C++ peer.

    python benchmarks/bench_clf.py            # full run (a few minutes on 2 busy cores)
    python benchmarks/bench_clf.py --epochs 50 --skip-linear   # stress the fastText kernels only
    python benchmarks/bench_clf.py --replicate 10 --skip-linear # 80k training pieces, 1.6M tokens
    python benchmarks/bench_clf.py --quick    # smaller caps, one repeat
    python benchmarks/bench_clf.py --json
"""

from __future__ import annotations

import argparse
import copyreg
import io
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
import zlib

import numpy as np

from textkit.classify.bow import BagOfWordsClassifier
from textkit.classify.fasttext import FastTextClassifier
from textkit.corpora import gensim_datapath, read_corpus
from textkit.datasets.classification import LabelledTexts, train_validation_split
from textkit.io import iter_lines
from textkit.tokenize import get_tokenizer


# ------------------------------------------------------------------------------------- data


class _Bunch(dict):
    pass


# gensim stores mini_newsgroup as a zlib-compressed pickle of a scikit-learn Bunch. It is read with
# an allow-list unpickler: only these plain containers can be built, so the file cannot run code.
_ALLOWED = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("sklearn.datasets.base", "Bunch"): _Bunch,
    ("__builtin__", "dict"): dict,
    ("__builtin__", "object"): object,
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__new__,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"mini_newsgroup: refusing to build {module}.{name}")


def _ndarray_reconstruct(cls, shape, dtype):
    return np.ndarray.__new__(cls, shape, dtype)


_ALLOWED[("numpy.core.multiarray", "_reconstruct")] = _ndarray_reconstruct


def newsgroup_posts() -> list[tuple[str, str]]:
    """(group, body) for the 200 posts of gensim's mini_newsgroup; headers dropped."""
    with open(gensim_datapath("mini_newsgroup"), "rb") as f:
        bunch = _AllowListUnpickler(io.BytesIO(zlib.decompress(f.read())), encoding="latin1").load()
    names = bunch["target_names"]
    out = []
    for text, target in zip(bunch["data"], bunch["target"]):
        _, _, body = text.partition("\n\n")  # as scikit-learn's remove=("headers",)
        out.append((names[int(target)], body))
    return out


def source_documents() -> dict[str, list[str]]:
    docs: dict[str, list[str]] = {"wikipedia": list(read_corpus("wiki")), "news": list(iter_lines(gensim_datapath("lee_background.cor")))}
    for group, body in newsgroup_posts():
        docs.setdefault(group, []).append(body)
    return docs


def build_dataset(chunk: int, cap: int, seed: int) -> LabelledTexts:
    """Pieces of ``chunk`` lowercased tokens, at most ``cap`` per class, as space-joined text."""
    tokenize = get_tokenizer("en").tokenize
    rng = np.random.default_rng(seed)
    data = LabelledTexts()
    for label, docs in sorted(source_documents().items()):
        pieces = []
        for doc in docs:
            tokens = tokenize(doc)
            pieces += [" ".join(tokens[i : i + chunk]) for i in range(0, len(tokens) - chunk // 2, chunk)]
        pieces = [pieces[i] for i in rng.permutation(len(pieces))[:cap]]
        data.texts += pieces
        data.labels += [label] * len(pieces)
    return data


# ------------------------------------------------------------------------------------- runs


def timed(fit, repeats: int):
    times, model = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return model, statistics.median(times)


def run_fasttext_package(train, test, args):
    import fasttext

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for text, label in zip(train.texts, train.labels):
            f.write(f"__label__{label} {text}\n")
        path = f.name
    try:
        fit = lambda: fasttext.train_supervised(  # noqa: E731
            path, dim=args.dim, epoch=args.epochs, lr=args.lr, wordNgrams=args.ngrams, bucket=args.buckets,
            minCount=1, loss="softmax", thread=args.threads, verbose=0, seed=args.seed,
        )
        model, seconds = timed(fit, args.repeats)
    finally:
        os.unlink(path)
    predicted = [labels[0][len("__label__") :] for labels in model.predict(test.texts)[0]]
    return predicted, seconds


def run_textkit_fasttext(train, test, args):
    params = dict(lang="whitespace", embed_dim=args.dim, epochs=args.epochs, lr=args.lr, ngrams=args.ngrams,
                  buckets=args.buckets, threads=args.threads, seed=args.seed, progress=False)
    FastTextClassifier(**{**params, "epochs": 1}).fit(train.texts[:50], train.labels[:50])  # compile the kernels
    model, seconds = timed(lambda: FastTextClassifier(**params).fit(train.texts, train.labels), args.repeats)
    return model.predict(test.texts), seconds


def run_sklearn(train, test, args):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    fit = lambda: make_pipeline(  # noqa: E731
        TfidfVectorizer(ngram_range=(1, args.ngrams), sublinear_tf=True, tokenizer=str.split, token_pattern=None, lowercase=False),
        LogisticRegression(C=args.C, max_iter=1000),
    ).fit(train.texts, train.labels)
    model, seconds = timed(fit, 1)  # the logistic regressions are slow and not the speed target: one fit
    return list(model.predict(test.texts)), seconds


def run_textkit_bow(train, test, args):
    fit = lambda: BagOfWordsClassifier(lang="whitespace", ngrams=args.ngrams, C=args.C, seed=args.seed).fit(train.texts, train.labels)  # noqa: E731
    model, seconds = timed(fit, 1)
    return model.predict(test.texts), seconds


def run_textkit_rnn(train, test, args):
    from textkit.classify.rnn import RecurrentClassifier

    fit = lambda: RecurrentClassifier(cell=args.rnn, lang="whitespace", embed_dim=64, hidden_dim=64, epochs=args.rnn_epochs, threads=1, seed=args.seed, progress=False).fit(train.texts, train.labels)  # noqa: E731
    model, seconds = timed(fit, 1)
    return model.predict(test.texts), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="cap 600 pieces per class, one repeat")
    ap.add_argument("--chunk", type=int, default=20, help="tokens per example")
    ap.add_argument("--cap", type=int, default=3000, help="examples per class at most")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--ngrams", type=int, default=2)
    ap.add_argument("--buckets", type=int, default=2_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of both logistic regressions")
    ap.add_argument("--repeats", type=int, default=3, help="fits per fastText implementation (median time)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replicate", type=int, default=1, help="repeat the training pieces K times (timing at scale; accuracy then flatters)")
    ap.add_argument("--rnn", choices=["rnn", "lstm", "gru"], help="also train this textkit recurrent model (no peer; accuracy counts as textkit's)")
    ap.add_argument("--rnn-epochs", type=int, default=4)
    ap.add_argument("--skip-linear", action="store_true", help="run only the two fastText implementations")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    if args.quick:
        args.cap, args.repeats = 600, 1

    data = build_dataset(args.chunk, args.cap, args.seed)
    train, test = train_validation_split(data, args.test_fraction, seed=args.seed)
    if args.replicate > 1:
        train = LabelledTexts(train.texts * args.replicate, train.labels * args.replicate)
    counts = {label: data.labels.count(label) for label in sorted(set(data.labels))}
    print(f"data: {len(train)} train / {len(test)} test pieces of {args.chunk} tokens; classes {counts}", file=sys.stderr)

    gold = np.array(test.labels)
    results = {}
    runs = [("fastText package", run_fasttext_package), ("textkit fasttext", run_textkit_fasttext)]
    if not args.skip_linear:
        runs += [("sklearn tfidf+LR", run_sklearn), ("textkit bow", run_textkit_bow)]
    if args.rnn:
        runs.append((f"textkit {args.rnn}", run_textkit_rnn))
    for name, run in runs:
        predicted, seconds = run(train, test, args)
        results[name] = {"accuracy": float(np.mean(np.array(predicted) == gold)), "train_seconds": seconds}
        print(f"  {name:18s} accuracy {results[name]['accuracy']:.4f}  train {seconds:.3f} s", file=sys.stderr)

    best_textkit = max(r["accuracy"] for name, r in results.items() if name.startswith("textkit"))
    best_peer = max(r["accuracy"] for name, r in results.items() if not name.startswith("textkit"))
    summary = {
        "data": {"train": len(train), "test": len(test), "classes": counts, "chunk": args.chunk},
        "settings": {k: getattr(args, k) for k in ("dim", "epochs", "lr", "ngrams", "buckets", "threads", "C", "repeats")},
        "results": results,
        "accuracy_gap_points": 100 * (best_textkit - best_peer),
        "fasttext_time_ratio": results["textkit fasttext"]["train_seconds"] / results["fastText package"]["train_seconds"],
    }
    if not args.skip_linear:
        summary["bow_time_ratio"] = results["textkit bow"]["train_seconds"] / results["sklearn tfidf+LR"]["train_seconds"]
    summary["accuracy_target_met"] = summary["accuracy_gap_points"] >= -0.5
    summary["speed_target_met"] = summary["fasttext_time_ratio"] <= 2.0
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{'system':18s} {'accuracy':>8s} {'train s':>8s}")
    for name, r in results.items():
        print(f"{name:18s} {r['accuracy']:8.4f} {r['train_seconds']:8.3f}")
    print(f"best textkit - best peer: {summary['accuracy_gap_points']:+.2f} points (target >= -0.5: {summary['accuracy_target_met']})")
    print(f"train time textkit fasttext / fastText: {summary['fasttext_time_ratio']:.2f}x (target <= 2: {summary['speed_target_met']})")
    if "bow_time_ratio" in summary:
        print(f"train time textkit bow / sklearn: {summary['bow_time_ratio']:.2f}x")


if __name__ == "__main__":
    main()
