"""textkit word2vec vs gensim: training speed and vector quality, same corpus, same settings, one run.

The corpus (gensim's Wikipedia sample as plain text, ~0.5M words) is tokenized once and the same
token lists go to both. Each configuration is trained alternately by gensim and textkit for every
seed; speed is raw corpus words per second of ``train()`` (vocabulary building excluded), quality
the Google-analogy accuracy and WordSim353 Spearman, both computed by gensim's own evaluation on
both sets of vectors. Ratios are textkit / gensim.

    python benchmarks/bench_w2v.py                 # skip-gram and CBOW, 3 seeds
    python benchmarks/bench_w2v.py --quick         # 1 seed, 2 epochs
    python benchmarks/bench_w2v.py --json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time

from textkit.corpora import gensim_datapath, resolve_corpus
from textkit.tokenize import get_tokenizer
from textkit.word2vec import Word2Vec


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="wiki", help="corpus name or path (default: wiki)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (quality is the mean)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--modes", default="sg,cbow", help="comma-separated: sg, cbow")
    p.add_argument("--quick", action="store_true", help="1 seed, 2 epochs")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures")
    return p.parse_args()


def settings(sg: int, seed: int, epochs: int, workers: int) -> dict:
    return dict(vector_size=100, window=5, min_count=5, negative=5, hs=0, sample=1e-3, epochs=epochs,
                workers=workers, sg=sg, seed=seed)


def train_gensim(sentences, params: dict):
    import gensim

    model = gensim.models.Word2Vec(**params)
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    seconds = time.perf_counter() - start
    return model.wv, model.corpus_total_words * model.epochs / seconds


def train_textkit(sentences, params: dict):
    model = Word2Vec(**params, progress=False)
    model.build_vocab(sentences)
    report = model.train(sentences)
    return model.wv, report.words_per_sec


def quality(gensim_kv) -> tuple[float, float]:
    """Google analogy accuracy and WS353 Spearman, by gensim's evaluation (the same for both)."""
    analogy, _ = gensim_kv.evaluate_word_analogies(str(gensim_datapath("questions-words.txt")))
    _, spearman, _ = gensim_kv.evaluate_word_pairs(str(gensim_datapath("wordsim353.tsv")))
    return float(analogy), float(spearman[0])


def as_gensim(kv):
    from gensim.models import KeyedVectors

    g = KeyedVectors(kv.vector_size)
    g.add_vectors(kv.index_to_key, kv.vectors)
    return g


def main() -> None:
    args = parse_args()
    logging.getLogger("gensim").setLevel(logging.ERROR)
    seeds = 1 if args.quick else args.seeds
    epochs = 2 if args.quick else args.epochs
    tokenizer = get_tokenizer("en")
    with open(resolve_corpus(args.corpus), encoding="utf-8") as f:
        sentences = [t for t in (tokenizer.tokenize(line) for line in f) if t]
    n_words = sum(map(len, sentences))
    print(f"corpus: {n_words} words, {len(sentences)} sentences; {seeds} seed(s), {epochs} epochs, "
          f"{args.workers} workers", file=sys.stderr)
    Word2Vec(sentences[:50], min_count=1, vector_size=8, epochs=1, workers=1, progress=False)  # load compiled kernels
    results = {}
    for mode in args.modes.split(","):
        sg = {"sg": 1, "cbow": 0}[mode]
        runs = {"gensim": [], "textkit": []}
        for seed in range(1, seeds + 1):
            params = settings(sg, seed, epochs, args.workers)
            for name, train in (("gensim", train_gensim), ("textkit", train_textkit)):
                kv, words_per_sec = train(sentences, params)
                gkv = kv if name == "gensim" else as_gensim(kv)
                analogy, spearman = quality(gkv)
                runs[name].append({"words_per_sec": words_per_sec, "analogy": analogy, "ws353": spearman})
                print(f"{mode} seed {seed} {name:8s} {words_per_sec:>10,.0f} words/s  analogy {analogy:.4f}  "
                      f"ws353 {spearman:.4f}", file=sys.stderr)
        summary = {name: {k: statistics.mean(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
        summary["speed_ratio"] = summary["textkit"]["words_per_sec"] / summary["gensim"]["words_per_sec"]
        summary["analogy_diff"] = summary["textkit"]["analogy"] - summary["gensim"]["analogy"]
        summary["ws353_diff"] = summary["textkit"]["ws353"] - summary["gensim"]["ws353"]
        summary["runs"] = runs
        results[mode] = summary
    if args.json:
        print(json.dumps({"corpus_words": n_words, "seeds": seeds, "epochs": epochs, "workers": args.workers, **results}))
        return
    print(f"{'mode':5s} {'gensim w/s':>12s} {'textkit w/s':>12s} {'ratio':>6s}   "
          f"{'analogy g/t':>15s} {'ws353 g/t':>15s}")
    for mode, s in results.items():
        g, t = s["gensim"], s["textkit"]
        print(f"{mode:5s} {g['words_per_sec']:>12,.0f} {t['words_per_sec']:>12,.0f} {s['speed_ratio']:>6.2f}   "
              f"{g['analogy']:.4f}/{t['analogy']:.4f}  {g['ws353']:.4f}/{t['ws353']:.4f}")


if __name__ == "__main__":
    main()
