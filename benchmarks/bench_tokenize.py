"""Chinese tokenization of a multi-MB file: textkit (1 and 2 workers) vs jieba.lcut line by line.

The file is built from corpora/zh_sample.txt: its lines repeated in a seeded random order until the
file reaches --megabytes. Both sides read the same file line by line, tokenize every line and count
the tokens; jieba's dictionary is loaded before the clock starts on both sides (for workers=2 the
workers' own start-up, dictionary loading included, is inside textkit's time). Each timing is the
best of --repeat runs, taken in alternation so a busy machine hurts both sides alike.

    python benchmarks/bench_tokenize.py            # ~5 MB
    python benchmarks/bench_tokenize.py --quick    # ~1 MB, one run each
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import jieba

from textkit.corpora import read_corpus
from textkit.io import iter_lines
from textkit.tokenize import get_tokenizer


def build_file(path: Path, megabytes: float, seed: int = 0) -> tuple[int, int]:
    """Write zh_sample's lines, shuffled and repeated, until ``megabytes``; return (bytes, lines)."""
    lines = list(read_corpus("zh_sample"))
    rng = random.Random(seed)
    target, size, count = int(megabytes * 1e6), 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while size < target:
            rng.shuffle(lines)
            for line in lines:
                f.write(line + "\n")
                size += len(line.encode()) + 1
                count += 1
    return size, count


def run_jieba(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            n += len(jieba.lcut(line.rstrip("\n")))
    return n


def run_textkit(path: Path, workers: int) -> int:
    tok = get_tokenizer("zh")
    return sum(len(tokens) for tokens in tok.tokenize_lines(iter_lines(path), workers=workers))


def run_jieba_parallel(path: Path, workers: int) -> int:
    # jieba's own parallel mode: the whole text in memory, split by lines over a process pool
    jieba.enable_parallel(workers)
    try:
        return sum(1 for w in jieba.lcut(path.read_text(encoding="utf-8")) if w.strip())
    finally:
        jieba.disable_parallel()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pools)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeat: int, runs: dict) -> dict:
    """name -> (best wall seconds, CPU seconds of that run, tokens)."""
    best = {name: (float("inf"), 0.0) for name in runs}
    tokens = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            cpu, start = cpu_seconds(), time.perf_counter()
            tokens[name] = fn()
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            best[name] = min(best[name], (wall, cpu))
    return {name: (*best[name], tokens[name]) for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="~1 MB, one run each")
    parser.add_argument("--jieba-parallel", action="store_true", help="also time jieba.enable_parallel(2)")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.repeat = 1.0, 1
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    get_tokenizer("zh")("预热")  # textkit's dictionary, loaded once per process

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zh_big.txt"
        size, n_lines = build_file(path, args.megabytes)
        runs = {
            "jieba.lcut per line": lambda: run_jieba(path),
            "textkit workers=1": lambda: run_textkit(path, 1),
            "textkit workers=2": lambda: run_textkit(path, 2),
        }
        if args.jieba_parallel:
            runs["jieba enable_parallel(2)"] = lambda: run_jieba_parallel(path, 2)
        results = best_of(args.repeat, runs)

    print(f"file: {size / 1e6:.2f} MB, {n_lines} lines (zh_sample shuffled and repeated); best of {args.repeat}")
    print(
        f"{'':26s} {'seconds':>8s} {'MB/s':>6s} {'lines/s':>9s} {'tokens':>9s} "
        f"{'vs jieba':>9s} {'CPU s':>7s} {'MB/CPU s':>9s}"
    )
    base = results["jieba.lcut per line"][0]
    for name, (seconds, cpu, tokens) in results.items():
        print(
            f"{name:26s} {seconds:8.2f} {size / 1e6 / seconds:6.2f} {n_lines / seconds:9.0f} {tokens:9d} "
            f"{base / seconds:8.2f}x {cpu:7.2f} {size / 1e6 / cpu:9.2f}"
        )
    print(
        f"machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(wall-time ratios need idle cores; CPU seconds show the work done)"
    )
    one, two = results["textkit workers=1"][0], results["textkit workers=2"][0]
    print(f"ratio textkit(1 worker) / jieba.lcut speed: {base / one:.2f}x (target >= 0.95)")
    print(
        f"ratio textkit(2 workers) / jieba.lcut speed: {base / two:.2f}x (target > 1); 2 vs 1 worker: {one / two:.2f}x"
    )


if __name__ == "__main__":
    main()
