"""textkit word2vec vs gensim: the whole process of each, as a user runs it, same corpus and settings.

One side is the ``textkit train-w2v`` command; the other a gensim script (this file with
``--gensim-side``: import gensim, ``LineSentence`` over the file, ``build_vocab``, ``train``,
``save_word2vec_format``). Each run is a fresh process; for every seed the two run one after the
other, the order alternating, and wall time and peak RSS are the operating system's figures for
the finished child (read by ``/usr/bin/time``, so the parent's size does not leak into the
child's figure). Both read the same pre-tokenized file (textkit's English tokenizer, lowercased,
run once and cached) split on whitespace (``--lang whitespace``), and write text vectors. Quality
is gensim's own evaluation (Google analogies, WS353 and SimLex-999 Spearman) of both output
files. Speed-ups are gensim time / textkit time (above 1: textkit is faster), the median of the
per-seed pairs, with their range.

Corpora: ``wiki`` (gensim's Wikipedia sample, ~0.5M tokens, 5 epochs) and ``stream``: ~20M tokens
made from the same sample's lines drawn in a random order (seed 0) with replacement, trained for 1
epoch (every word of the sample then passes min_count, so the vocabulary is several times larger).

    python benchmarks/bench_w2v.py                       # wiki, sg-ns, cbow-ns, sg-hs, 3 seeds
    python benchmarks/bench_w2v.py --corpus wiki,stream  # both sizes, one table each
    python benchmarks/bench_w2v.py --corpus stream --modes sg-hs
    python benchmarks/bench_w2v.py --quick --json        # 1 seed
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {"sg-ns": (1, 0, 5), "cbow-ns": (0, 0, 5), "sg-hs": (1, 1, 0)}  # (sg, hs, negative)
STREAM_WORDS = 20_000_000


def gensim_side(argv: list[str]) -> None:
    """The peer's whole process: read, count, train, write; the same settings as textkit's."""
    import logging

    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    logging.getLogger("gensim").setLevel(logging.ERROR)
    corpus, output, sg, hs, negative, seed, epochs, workers = argv
    model = Word2Vec(
        vector_size=100,
        window=5,
        min_count=5,
        sample=1e-3,
        sg=int(sg),
        hs=int(hs),
        negative=int(negative),
        epochs=int(epochs),
        workers=int(workers),
        seed=int(seed),
    )
    sentences = LineSentence(corpus)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    model.wv.save_word2vec_format(output, binary=False)


def textkit_command(corpus: str, output: str, mode: str, seed: int, epochs: int, workers: int) -> list[str]:
    sg, hs, negative = MODES[mode]
    textkit = Path(sys.executable).with_name("textkit")
    return [
        str(textkit),
        "train-w2v",
        corpus,
        "--lang",
        "whitespace",
        "--sg" if sg else "--cbow",
        *(["--hs"] if hs else []),
        "--negative",
        str(negative),
        "--dim",
        "100",
        "--window",
        "5",
        "--min-count",
        "5",
        "--epochs",
        str(epochs),
        "--workers",
        str(workers),
        "--seed",
        str(seed),
        "-o",
        output,
        "--force",
    ]


def gensim_command(corpus: str, output: str, mode: str, seed: int, epochs: int, workers: int) -> list[str]:
    sg, hs, negative = MODES[mode]
    return [
        sys.executable,
        __file__,
        "--gensim-side",
        corpus,
        output,
        str(sg),
        str(hs),
        str(negative),
        str(seed),
        str(epochs),
        str(workers),
    ]


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one fresh process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as figures:
        start = time.perf_counter()
        process = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", figures.name, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            sys.exit(f"failed ({process.returncode}): {shlex.join(command)}\n{process.stderr.decode(errors='replace')}")
        peak_kib = int(figures.read().split()[-1])
    return seconds, peak_kib / 1024


def quality(path: str) -> dict:
    """Google analogy accuracy, WS353 and SimLex-999 Spearman, by gensim's evaluation."""
    import logging

    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    logging.getLogger("gensim").setLevel(logging.ERROR)
    kv = KeyedVectors.load_word2vec_format(path, binary=False)
    analogy, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    ws353 = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1][0]
    simlex = kv.evaluate_word_pairs(datapath("simlex999.txt"))[1][0]
    return {"analogy": float(analogy), "ws353": float(ws353), "simlex": float(simlex)}


def tokenized(source: Path, target: Path) -> Path:
    """``source`` tokenized by textkit's English tokenizer (lowercased), one line per line (cached)."""
    if target.exists():
        return target
    from textkit.tokenize import get_tokenizer

    tokenizer = get_tokenizer("en")
    partial = target.with_suffix(".part")
    with open(source, encoding="utf-8") as lines, open(partial, "w", encoding="utf-8") as out:
        for line in lines:
            tokens = tokenizer.tokenize(line)
            if tokens:
                out.write(" ".join(tokens) + "\n")
    partial.rename(target)
    return target


def make_stream(source: Path, target: Path, words: int = STREAM_WORDS, seed: int = 0) -> Path:
    """``words`` words of ``source``'s lines drawn in a random order with replacement (cached)."""
    if target.exists():
        return target
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    partial = target.with_suffix(".part")
    written = 0
    with open(partial, "w", encoding="utf-8") as out:
        while written < words:
            line = rng.choice(lines)
            out.write(line + "\n")
            written += len(line.split())
    partial.rename(target)
    return target


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="wiki", help="comma-separated: wiki, stream (~20M words), or paths")
    p.add_argument("--modes", default="sg-ns,cbow-ns,sg-hs", help=f"comma-separated: {', '.join(MODES)}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="default: 5 (wiki), 1 (stream)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-quality", action="store_true", help="time only")
    p.add_argument("--quick", action="store_true", help="1 seed")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures")
    return p.parse_args()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--gensim-side":
        gensim_side(sys.argv[2:])
        return
    args = parse_args()
    from textkit.corpora import cache_dir, resolve_corpus

    folder = cache_dir() / "corpora"
    wiki = tokenized(resolve_corpus("wiki"), folder / "wiki_sample_en_tokens.txt")
    seeds = 1 if args.quick else args.seeds
    tables = []
    with tempfile.TemporaryDirectory(prefix="bench-w2v-") as tmp:
        # one unmeasured run first: compiles the kernels into textkit's cache if the code changed
        timed(textkit_command(str(wiki), str(Path(tmp) / "warm.txt"), "sg-ns", 1, 1, args.workers))
        for name in args.corpus.split(","):
            if name == "stream":
                corpus = make_stream(wiki, folder / "wiki_stream_20M_en_tokens.txt")
            elif name == "wiki":
                corpus = wiki
            else:
                corpus = resolve_corpus(name)
            epochs = args.epochs if args.epochs is not None else (1 if name == "stream" else 5)
            print(f"corpus {corpus}; {epochs} epoch(s), {args.workers} workers, {seeds} seed(s)", file=sys.stderr)
            results = compare(args, str(corpus), epochs, seeds, tmp)
            tables.append({"corpus": str(corpus), "epochs": epochs, "workers": args.workers, "seeds": seeds, **results})
    if args.json:
        print(json.dumps(tables[0] if len(tables) == 1 else {"corpora": tables}))
        return
    for table in tables:
        print(f"{table['corpus']}: {table['epochs']} epoch(s), {table['workers']} workers, {table['seeds']} seed(s)")
        print_table({mode: table[mode] for mode in args.modes.split(",")})


def compare(args: argparse.Namespace, corpus: str, epochs: int, seeds: int, tmp: str) -> dict:
    """Every mode, each seed a textkit run and a gensim run in alternating order; their summaries."""
    results = {}
    for mode in args.modes.split(","):
        runs: dict[str, list[dict]] = {"gensim": [], "textkit": []}
        for seed in range(1, seeds + 1):
            sides = [("gensim", gensim_command), ("textkit", textkit_command)]
            if seed % 2 == 0:
                sides.reverse()
            for name, make in sides:
                output = str(Path(tmp) / f"{name}-{mode}-{seed}.txt")
                seconds, peak = timed(make(corpus, output, mode, seed, epochs, args.workers))
                run = {"seconds": seconds, "peak_mib": peak}
                if not args.no_quality:
                    run.update(quality(output))
                runs[name].append(run)
                print(
                    f"{mode} seed {seed} {name:8s} " + "  ".join(f"{k} {v:.4f}" for k, v in run.items()),
                    file=sys.stderr,
                )
        summary = {name: {k: statistics.mean(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
        pairs = [g["seconds"] / t["seconds"] for g, t in zip(runs["gensim"], runs["textkit"])]
        summary["speedup"] = statistics.median(pairs)
        summary["speedup_range"] = [min(pairs), max(pairs)]
        summary["runs"] = runs
        results[mode] = summary
    return results


def print_table(results: dict) -> None:
    print(
        f"{'mode':8s} {'gensim s':>9s} {'textkit s':>9s} {'speedup':>8s} {'range':>11s} {'peak MiB g/t':>14s}   "
        f"{'analogy g/t':>13s} {'ws353 g/t':>13s} {'simlex g/t':>13s}"
    )
    for mode, s in results.items():
        g, t = s["gensim"], s["textkit"]
        line = (
            f"{mode:8s} {g['seconds']:>9.2f} {t['seconds']:>9.2f} {s['speedup']:>7.2f}x "
            f"{s['speedup_range'][0]:>5.2f}-{s['speedup_range'][1]:<5.2f} "
            f"{g['peak_mib']:>6.0f}/{t['peak_mib']:<6.0f}"
        )
        if "analogy" in g:
            line += "   " + " ".join(f"{g[k]:.4f}/{t[k]:.4f}" for k in ("analogy", "ws353", "simlex"))
        print(line)


if __name__ == "__main__":
    main()
