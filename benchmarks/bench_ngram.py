"""n-gram language models: textkit vs NLTK (build + score) and vs KenLM (scoring; whole-process builds).

Five parts, all on gensim's English Wikipedia sample (``textkit.corpora`` name ``wiki``, ~460k words):

1. **NLTK** (``nltk.lm``), order 3, trained on the first 100k tokens, scored on held-out lines.
   Both libraries count the same n-grams (one ``<s>``, as KenLM; NLTK is fed textkit's n-grams).
   Training input: NLTK gets the lines already split into token lists (building its n-gram tuples
   is timed), textkit gets the text lines and splits them itself (``fit_lines``, timed). Scoring:
   both start from the text lines. After an untimed warm-up, each side runs three times and its
   fastest run counts.
   MLE and Laplace must give equal perplexity; for Laplace textkit gets one phantom vocabulary entry
   standing in for NLTK's ``<s>``, which NLTK (unlike textkit) lets the model predict. NLTK's
   Kneser-Ney scores one word by looping over every stored n-gram, so it is timed on a few hundred
   tokens and its per-token time extrapolated (said so in the output).
2. **KenLM** (``kenlm.Model``): a modified-KN order-5 ARPA built by textkit, scored by both; totals
   must agree; the speed ratio is printed (textkit vectorised over the whole text vs kenlm's C++
   called once per sentence from Python).
3. **Build time and peak memory** for order 3 and 5 on ~2.3M tokens: the sample in five variants
   (as is, words reversed, lowercased, both, shuffled within each line) so that the counts are not
   five identical copies. Each build runs in a fresh process; peak RSS is measured with
   ``resource.getrusage`` before and after ``fit``.
4. **Whole process vs KenLM's lmplz**: ``textkit train-lm --model ngram --order 5`` and ``lmplz -o 5``
   (``--discount_fallback``, as textkit always does) as a user runs them, fresh processes on the same
   text file with the same memory budget (``--memory``, lmplz ``-S``), alternated; wall time, each
   process's own peak RSS (``os.wait4``), the ratio, and whether the ``\\data\\`` counts of the two
   ARPA files are equal. Sizes: the wiki sample (whitespace-split, ~0.46M words; three runs each)
   and ~20M words (one run each) made by :func:`streamed_corpus`: the sample as is, reversed,
   lowercased, both, then shuffled within each line with a new seed per pass. lmplz is found as
   ``$LMPLZ`` or on PATH (built from the ``kenlm`` source distribution); else the part is skipped.
   textkit gets ``--memory`` (and ``--temp-dir``) like lmplz's ``-S`` (and ``-T``): a corpus that
   does not fit is built in partitions spilled to disk. Larger corpora are made once with
   ``--write-corpus`` and compared with ``--lmplz-corpus`` (one pair each; say 100M words with
   ``--memory 2G``; a build of that size takes minutes per side).

5. **Scoring, whole process vs the kenlm module**: ``textkit eval-ppl`` on a native-format model
   folder against a Python script scoring each line with ``kenlm.Model.score``, on the same order-5
   model (built by lmplz; kenlm loads KenLM's binary format from build_binary, else the ARPA file),
   same text file, alternated; wall time, peak RSS, the ratio, and whether the perplexities agree to
   0.1. Test texts: the wiki sample and the ~20M-word stream (``--score-test`` for others).

    python benchmarks/bench_ngram.py            # full
    python benchmarks/bench_ngram.py --write-corpus 1e8 /tmp/s100m.txt     # the streamed corpus as a file
    python benchmarks/bench_ngram.py --lmplz-corpus /tmp/s100m.txt --memory 2G   # that file vs lmplz
    python benchmarks/bench_ngram.py --quick    # smaller corpora, same comparisons (lmplz: the sample only)
    python benchmarks/bench_ngram.py --skip nltk kenlm build    # only the whole-process lmplz comparison
    python benchmarks/bench_ngram.py --score-train /tmp/s5m.txt --score-test /tmp/a.txt /tmp/b.txt  # scoring only
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from textkit.corpora import read_corpus
from textkit.lm.ngram import NgramLM
from textkit.vocab import Vocab


def wiki_lines() -> list[list[str]]:
    return [line.split() for line in read_corpus("wiki")]


def take_tokens(lines: list[list[str]], n_tokens: int) -> tuple[list[list[str]], list[list[str]]]:
    """The first lines holding ``n_tokens`` words, and the rest."""
    total = 0
    for i, words in enumerate(lines):
        total += len(words)
        if total >= n_tokens:
            return lines[: i + 1], lines[i + 1 :]
    return lines, []


def nltk_ngrams(lines: list[list[str]], order: int):
    """textkit's counting convention in NLTK's input format (see tests/test_ngram.py)."""
    out = []
    for words in lines:
        s = ["<s>"] + words + ["</s>"]
        out.append(
            [tuple(s[i : i + n]) for n in range(1, order + 1) for i in range(len(s) - n + 1) if s[i + n - 1] != "<s>"]
        )
    return out


def test_ngrams(lines: list[list[str]], order: int, vocab) -> list[tuple[str, ...]]:
    """The highest-order n-gram ending at every predicted token, OOV words as NLTK's <UNK>."""
    grams = []
    for words in lines:
        s = ["<s>"] + [w if w in vocab else "<UNK>" for w in words] + ["</s>"]
        grams.extend(tuple(s[max(0, i - order + 1) : i + 1]) for i in range(1, len(s)))
    return grams


def warm_up() -> None:
    """Untimed: fit and score a tiny model of each kind, with and without a given vocabulary.

    textkit's first call in a process starts numba's runtime and loads the compiled kernels from
    its cache (about 0.25 s, once per process, like an import; after an install the kernels are
    compiled once, about 8 s). The figures below are for a process that has done that.
    """
    lines = ["a b c d", "b c d a", "c d a b"]
    vocab = Vocab(["<unk>", "<s>", "</s>", "a", "b", "c"], specials=("<unk>", "<s>", "</s>"))
    for smoothing in ("mle", "addk", "kn", "mkn"):
        for given in (None, vocab):
            lm = NgramLM(order=3, smoothing=smoothing, vocab=given).fit_lines(lines)
            lm.perplexity(lines)
            lm.fit([line.split() for line in lines]).perplexity(lines)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


REPEATS = 3  # runs per side in the NLTK comparison; the fastest counts
CPU = {"nltk": 0.0, "textkit": 0.0}  # CPU seconds per side of the NLTK comparison (the machine is shared)


def cpu_timed(side: str, fn):
    start = time.process_time()
    value, wall = timed(fn)
    CPU[side] += time.process_time() - start
    return value, wall


# ---- 1. NLTK -------------------------------------------------------------------------------------
def bench_nltk(lines: list[list[str]], train_tokens: int, test_lines: int, kn_tokens: int) -> None:
    from nltk.lm import MLE, KneserNeyInterpolated, Laplace

    order = 3
    train, rest = take_tokens(lines, train_tokens)
    test = [w for w in rest[:test_lines] if w]
    test_text = [" ".join(w) for w in test]
    n_train = sum(map(len, train))
    n_test = sum(len(w) + 1 for w in test)
    print(f"\n== NLTK vs textkit: order {order}, {n_train} training tokens, {n_test} test tokens ==")
    vocab_text = [w for line in train for w in line] + ["<s>", "</s>"]
    train_text = [" ".join(w) for w in train]  # textkit reads the lines and splits them itself
    seen_text = train_text[: len(test)]  # MLE needs text without unseen events
    # Untimed warm-up on the NLTK side too (textkit's is warm_up()); then each side is timed
    # REPEATS times and its fastest run kept: runs of a few milliseconds are at the mercy of this
    # shared machine.
    for cls in (MLE, Laplace):
        cls(order).fit(nltk_ngrams(train[:2], order), vocabulary_text=vocab_text[:50])
    rows = []
    for name, nltk_cls, smoothing in [("MLE", MLE, "mle"), ("Laplace", Laplace, "addk")]:

        def build_nltk(nltk_cls=nltk_cls):
            model = nltk_cls(order)
            model.fit(nltk_ngrams(train, order), vocabulary_text=vocab_text)
            return model

        phantom = None
        if smoothing == "addk":  # NLTK's V counts <s>: add one never-seen word to textkit's V
            words = list(dict.fromkeys(vocab_text))
            words = [w for w in words if w not in ("<s>", "</s>")]
            phantom = Vocab(["<unk>", "<s>", "</s>", *words, "<phantom>"], specials=("<unk>", "<s>", "</s>"))
        text = seen_text if smoothing == "mle" else test_text
        runs = {"nltk": [], "textkit": []}  # (build s, score s, CPU s) per run
        for _ in range(REPEATS):
            CPU.update(nltk=0.0, textkit=0.0)
            ref, t_nltk_build = cpu_timed("nltk", build_nltk)
            lm, t_tk_build = cpu_timed(
                "textkit",
                lambda smoothing=smoothing, phantom=phantom: NgramLM(
                    order=order, smoothing=smoothing, vocab=phantom
                ).fit_lines(train_text),
            )
            # Both sides score from the same text lines: NLTK's preparation of its n-gram tuples (splitting,
            # <UNK> mapping, padding) is part of its scoring, as textkit's tokenizing and id lookup are.
            grams = None

            def score_nltk(text=text, ref=ref):
                nonlocal grams
                grams = test_ngrams([t.split() for t in text], order, ref.vocab)
                return ref.perplexity(grams)

            ppl_nltk, t_nltk_score = cpu_timed("nltk", score_nltk)
            ppl_tk, t_tk_score = cpu_timed("textkit", lambda lm=lm, text=text: lm.perplexity(text).perplexity)
            runs["nltk"].append((t_nltk_build, t_nltk_score, CPU["nltk"]))
            runs["textkit"].append((t_tk_build, t_tk_score, CPU["textkit"]))
        (nb, ns, nltk_cpu), (tb, ts, tk_cpu) = (min(r, key=lambda run: run[0] + run[1]) for r in runs.values())
        rows.append((name, nb, ns, tb, ts, nltk_cpu / tk_cpu, ppl_nltk, ppl_tk, len(grams)))
    print(
        f"{'model':8} {'nltk build':>11} {'nltk score':>11} {'textkit build':>14} {'textkit score':>14} "
        f"{'ratio':>6} {'(cpu)':>6}  perplexity nltk / textkit"
    )
    for name, nb, ns, tb, ts, cpu_ratio, pn, pt, n in rows:  # fastest of REPEATS runs per side
        ratio = (nb + ns) / (tb + ts)
        same = "equal" if math.isclose(pn, pt, rel_tol=1e-9) else "DIFFERENT"
        print(
            f"{name:8} {nb:10.3f}s {ns:10.3f}s {tb:13.3f}s {ts:13.3f}s {ratio:5.0f}x {cpu_ratio:5.0f}x  "
            f"{pn:.4f} / {pt:.4f} ({same}; {n} tokens)"
        )

    # Kneser-Ney: NLTK is timed on a few hundred tokens; probabilities compared where the
    # conventions agree (fixed discount 0.1 above order 1, none at order 1; contexts not <s> at order 2).
    ref, t_nltk_build = timed(lambda: _fit(KneserNeyInterpolated(order, discount=0.1), train, order, vocab_text))
    lm, t_tk_build = timed(
        lambda: NgramLM(order=order, smoothing="kn", discounts=[0.0, 0.1, 0.1]).fit_lines(train_text)
    )
    grams = [g for g in test_ngrams(test, order, ref.vocab) if g[0] != "<s>" or len(g) == order][:kn_tokens]
    probs_nltk, t_nltk_score = timed(lambda: [ref.score(g[-1], g[:-1]) for g in grams])
    unk = {"<UNK>": "<unk>"}
    probs_tk = [10 ** lm.logprob(unk.get(g[-1], g[-1]), [unk.get(w, w) for w in g[:-1]]) for g in grams]
    _, t_tk_score = timed(lambda: lm.perplexity(test_text))
    per_token_nltk = t_nltk_score / len(grams)
    nltk_full = t_nltk_build + per_token_nltk * n_test
    max_diff = float(np.max(np.abs(np.array(probs_nltk) - np.array(probs_tk))))
    print(
        f"{'KN':8} {t_nltk_build:10.3f}s {nltk_full:10.1f}s* {t_tk_build:13.3f}s {t_tk_score:13.3f}s "
        f"{nltk_full / (t_tk_build + t_tk_score):6.0f}x {'':6}  "
        f"max |p_nltk - p_textkit| = {max_diff:.2e} over {len(grams)} tokens"
    )
    print(
        f"  * NLTK KN scoring extrapolated from {len(grams)} tokens ({per_token_nltk * 1e3:.1f} ms/token) to {n_test}"
    )


def _fit(model, train, order, vocab_text):
    model.fit(nltk_ngrams(train, order), vocabulary_text=vocab_text)
    return model


# ---- 2. KenLM ------------------------------------------------------------------------------------
def bench_kenlm(lines: list[list[str]], n_train_lines: int, n_test_lines: int, order: int) -> None:
    import kenlm

    train, test = lines[:n_train_lines], [w for w in lines[n_train_lines : n_train_lines + n_test_lines] if w]
    text = [" ".join(w) for w in test]
    lm = NgramLM(order=order, smoothing="mkn").fit(train)
    with tempfile.TemporaryDirectory() as d:
        arpa = Path(d) / "model.arpa"
        lm.to_arpa(arpa)
        lm.save(Path(d) / "native", native=True)
        ours, t_load_tk = timed(lambda: NgramLM.load(arpa))
        native, t_load_native = timed(lambda: NgramLM.load(Path(d) / "native"))
        theirs, t_load_kenlm = timed(lambda: _quiet(lambda: kenlm.Model(str(arpa))))
        n_tokens = sum(len(w) + 1 for w in test)
        print(
            f"\n== KenLM vs textkit: scoring one order-{order} modified-KN model "
            f"on {n_tokens} tokens ({len(text)} lines) =="
        )
        # alternated, fastest of five CPU times each: wall times of ~0.1 s mean little on a shared machine
        sides = {
            "arpa": lambda: ours.score_lines(text)[0] / math.log(10),
            "native": lambda: native.score_lines(text)[0] / math.log(10),
            "kenlm": lambda: sum(theirs.score(line, bos=True, eos=True) for line in text),
        }
        cpu, totals = {name: [] for name in sides}, {}
        for _ in range(5):
            for name, fn in sides.items():
                start = time.process_time()
                totals[name] = fn()
                cpu[name].append(time.process_time() - start)
        t_tk, t_native, t_kenlm = (min(cpu[name]) for name in sides)
        total_tk, total_kenlm = totals["arpa"], totals["kenlm"]
    rel = abs(total_tk - total_kenlm) / abs(total_kenlm)
    print(
        f"total log10 p: textkit {total_tk:.4f}  kenlm {total_kenlm:.4f}  "
        f"relative difference {rel:.1e} ({'equal' if rel <= 1e-4 else 'DIFFERENT'})"
    )
    print(
        f"scoring CPU time (fastest of 5, alternated): textkit {t_tk:.3f}s  textkit native {t_native:.3f}s  "
        f"kenlm {t_kenlm:.3f}s  "
        f"textkit/kenlm time = {t_tk / t_kenlm:.2f}, native {t_native / t_kenlm:.2f} "
        f"({n_tokens / t_native / 1e6:.2f} vs {n_tokens / t_kenlm / 1e6:.2f} M tokens/s)"
    )
    print(
        f"loading: textkit ARPA {t_load_tk:.2f}s  textkit native {t_load_native:.3f}s  kenlm ARPA {t_load_kenlm:.2f}s"
    )


def _quiet(fn):
    """kenlm prints a progress bar on stderr while loading an ARPA file."""
    import os

    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            return fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# ---- 3. build time and memory --------------------------------------------------------------------
def variant_corpus(copies: int) -> list[list[str]]:
    lines = wiki_lines()
    rng = np.random.default_rng(0)
    makers = [
        lambda w: w,
        lambda w: w[::-1],
        lambda w: [x.lower() for x in w],
        lambda w: [x.lower() for x in w[::-1]],
        lambda w: [w[i] for i in rng.permutation(len(w))],
    ]
    return [make(words) for make in makers[:copies] for words in lines]


def _build_child(order: int, copies: int, queue) -> None:
    import tracemalloc

    corpus = variant_corpus(copies)
    n_tokens = sum(map(len, corpus))
    warm_up()  # a fresh process: numba's start-up is not the build's
    lm, seconds = timed(lambda: NgramLM(order=order, smoothing="mkn").fit(corpus))
    del lm
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: this is the fit's own peak
    lm = NgramLM(order=order, smoothing="mkn").fit(corpus)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = sum(a.nbytes for a in lm.tables_.keys + lm.tables_.log10_prob + lm.tables_.log10_backoff)
    queue.put((n_tokens, seconds, peak, rss, lm.tables_.counts(), model))


def bench_build(copies: int) -> None:
    print(f"\n== Build time and peak memory: modified KN on the wiki sample in {copies} variant(s) ==")
    ctx = multiprocessing.get_context("spawn")
    for order in (3, 5):
        queue = ctx.Queue()
        child = ctx.Process(target=_build_child, args=(order, copies, queue))
        child.start()
        n_tokens, seconds, peak, rss, counts, model = queue.get()
        child.join()
        mib = 2**20
        print(
            f"order {order}: {n_tokens / 1e6:.2f}M tokens in {seconds:.2f}s "
            f"({n_tokens / seconds / 1e6:.2f} M tokens/s); "
            f"fit peak {peak / mib:.0f} MiB = {peak / n_tokens:.0f} bytes/token "
            f"(tracemalloc; the corpus itself not counted); "
            f"process peak RSS {rss / mib:.0f} MiB with the corpus as Python lists"
        )
        print(
            f"         n-grams per order {counts} ({sum(counts) / 1e6:.2f}M); "
            f"model arrays {model / mib:.0f} MiB = {model / sum(counts):.0f} bytes/n-gram"
        )


def streamed_corpus(n_tokens: int):
    """Lazily: the five variants, then the sample shuffled within lines with new seeds, until
    ``n_tokens`` words. Shuffled lines have far more distinct long n-grams than real text, so this
    over-estimates the memory a natural corpus of that size needs."""
    lines = wiki_lines()
    produced, seed = 0, 0
    while True:
        rng = np.random.default_rng(seed)
        for words in lines:
            if seed < 5:
                lowered = [x.lower() for x in words]
                variant = [words, words[::-1], lowered, [x.lower() for x in words[::-1]], None][seed]
            else:
                variant = None
            if variant is None:
                variant = [words[i] for i in rng.permutation(len(words))]
            yield variant
            produced += len(variant)
            if produced >= n_tokens:
                return
        seed += 1


def _scale_child(order: int, n_tokens: int, queue) -> None:
    warm_up()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lm, seconds = timed(lambda: NgramLM(order=order, smoothing="mkn").fit(streamed_corpus(n_tokens)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put((lm.train_tokens_, seconds, base, rss, lm.tables_.counts()))


def bench_scale(order: int, n_tokens: int) -> None:
    print(
        f"\n== Scaling: order-{order} modified KN on {n_tokens / 1e6:.0f}M streamed tokens "
        "(peak RSS of a fresh process) =="
    )
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_scale_child, args=(order, n_tokens, queue))
    child.start()
    n, seconds, base, rss, counts = queue.get()
    child.join()
    mib = 2**20
    print(
        f"{n / 1e6:.1f}M tokens (words + </s>) in {seconds:.1f}s; peak RSS {rss / mib:.0f} MiB "
        f"(after imports {base / mib:.0f} MiB): {(rss - base) / n:.0f} bytes/token; "
        f"n-grams {counts} ({sum(counts) / n:.2f} per token)"
    )


# ---- 4. whole process vs KenLM's lmplz ----------------------------------------------------------
LMPLZ_HELP = (
    "lmplz not found: set LMPLZ=/path/to/lmplz or put it on PATH. To build it: install cmake and Boost "
    "(program-options, system, thread), zlib, bzip2 and lzma headers; `pip download --no-deps --no-binary :all: "
    "kenlm`; unpack; `cmake -S kenlm-* -B build -DCMAKE_BUILD_TYPE=Release && make -C build lmplz`"
)


def find_lmplz() -> str | None:
    import os
    import shutil

    path = os.environ.get("LMPLZ") or shutil.which("lmplz")
    return path if path and os.access(path, os.X_OK) else None


def write_corpus(path: Path, n_tokens: int | None) -> int:
    """The wiki sample as whitespace-split lines (``n_tokens`` None), or :func:`streamed_corpus`'s
    stream of variants and shuffles up to ``n_tokens`` words; returns the number of words."""
    words = 0
    with open(path, "w", encoding="utf-8") as f:
        for line in wiki_lines() if n_tokens is None else streamed_corpus(n_tokens):
            if line:
                f.write(" ".join(line) + "\n")
                words += len(line)
    return words


def run_process(
    command: list[str], stdin_path: Path | None = None, stdout_path: Path | None = None
) -> tuple[float, int]:
    """Run ``command`` to the end; its wall time (s) and its own peak RSS (bytes).

    The peak comes from ``/usr/bin/time`` where it exists: wait4's figure for a child of this process
    starts at the fork, so it would count this (larger) process's memory too.
    """
    import os
    import subprocess

    rss_file = None
    if os.access("/usr/bin/time", os.X_OK):
        rss_file = Path(tempfile.mkstemp(prefix="rss-")[1])
        command = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + list(command)
    with contextlib.ExitStack() as stack:
        stdin = stack.enter_context(open(stdin_path, "rb")) if stdin_path else subprocess.DEVNULL
        stdout = stack.enter_context(open(stdout_path, "wb")) if stdout_path else subprocess.DEVNULL
        stderr = stack.enter_context(tempfile.TemporaryFile())
        start = time.perf_counter()
        child = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command[:8])} ... failed: {stderr.read().decode(errors='replace')[-500:]}")
    if rss_file is not None:
        peak_kib = int(rss_file.read_text().split()[-1])
        rss_file.unlink()
        return wall, peak_kib * 1024
    return wall, usage.ru_maxrss * 1024


def arpa_counts(path: Path) -> list[int]:
    """The n-gram counts of an ARPA file's \\data\\ header."""
    counts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("ngram "):
                counts.append(int(line.split("=")[1]))
            elif line.startswith("\\1-grams"):
                return counts
    return counts


def bench_lmplz(sizes: list[int | str | None], memory: str, repeats: int) -> None:
    """``textkit train-lm --model ngram`` and ``lmplz`` as a user runs them: fresh processes, the
    same text file, order 5, modified KN, the same memory budget; A/B alternated."""
    import subprocess

    lmplz = find_lmplz()
    print(f"\n== Whole process vs KenLM lmplz: order 5 modified KN, memory budget {memory} ==")
    if lmplz is None:
        print(LMPLZ_HELP)
        return
    textkit = [sys.executable, "-m", "textkit_cli.main", "train-lm"]
    has_memory = "--memory" in subprocess.run(textkit + ["--help"], capture_output=True, text=True).stdout
    if not has_memory:
        print("(textkit train-lm has no --memory option here: it builds in memory, without a budget)")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for size in sizes:
            if isinstance(size, str):  # a text file made beforehand (e.g. with --write-corpus)
                corpus = Path(size)
                with open(corpus, "rb") as f:
                    n_words = sum(len(line.split()) for line in f)
                how = f"{corpus.name}"
            else:
                corpus = d / "corpus.txt"
                n_words = write_corpus(corpus, size)
                how = (
                    "the wiki sample, whitespace-split"
                    if size is None
                    else "the wiki sample, its variants and in-line shuffles"
                )
            tk_cmd = textkit + [
                str(corpus),
                "--model",
                "ngram",
                "--order",
                "5",
                "--smoothing",
                "mkn",
                "--lang",
                "whitespace",
                "-o",
                str(d / "tk"),
                "--force",
            ]
            if has_memory:
                tk_cmd += ["--memory", memory, "--temp-dir", str(d)]
            lm_cmd = [lmplz, "-o", "5", "-S", memory, "-T", str(d), "--discount_fallback"]
            run_process(
                textkit + [str(corpus), "--order", "2", "--lang", "whitespace", "-o", str(d / "warm"), "--force"]
            )  # kernels cached
            runs = {"textkit": [], "lmplz": []}
            for r in range(repeats):
                sides = [("textkit", (tk_cmd, None, None)), ("lmplz", (lm_cmd, corpus, d / "lmplz.arpa"))]
                for name, command in sides if r % 2 == 0 else sides[::-1]:
                    runs[name].append(run_process(*command))
            tk_counts, lm_counts = arpa_counts(d / "tk" / "model.arpa"), arpa_counts(d / "lmplz.arpa")
            gib = 2**30
            print(f"{n_words / 1e6:.2f}M words ({how}), {repeats} alternated run(s) each:")
            for name, results in runs.items():
                walls = ", ".join(f"{w:.2f}" for w, _ in results)
                fastest, peak = min(w for w, _ in results), max(m for _, m in results) / gib
                print(f"  {name:8} wall {fastest:7.2f}s (runs: {walls})  peak RSS {peak:.2f} GiB")
            ratio = min(w for w, _ in runs["lmplz"]) / min(w for w, _ in runs["textkit"])
            print(f"  lmplz time / textkit time = {ratio:.2f} (fastest runs; > 1: textkit faster)")
            same = "EQUAL" if tk_counts == lm_counts else "DIFFERENT"
            print(f"  \\data\\ counts: textkit {tk_counts}  lmplz {lm_counts}  {same}")


KENLM_SCRIPT = """\
import sys

import kenlm

model = kenlm.Model(sys.argv[1])
total, tokens = 0.0, 0
with open(sys.argv[2], "rb") as f:
    for line in f:
        n = len(line.split())
        if n:
            total += model.score(line)
            tokens += n + 1
print(10 ** (-total / tokens))
"""


def find_build_binary(lmplz: str) -> str | None:
    """KenLM's build_binary: $BUILD_BINARY, next to lmplz, or on PATH."""
    import os
    import shutil

    for path in (
        os.environ.get("BUILD_BINARY"),
        str(Path(lmplz).with_name("build_binary")),
        shutil.which("build_binary"),
    ):
        if path and os.access(path, os.X_OK):
            return path
    return None


def bench_scoring(train: Path | None, tests: list[int | str], repeats: int) -> None:
    """``textkit eval-ppl`` on a native model folder vs a Python script that scores each line with
    the ``kenlm`` module (the usual way to use it), both whole processes on the same text file, A/B
    alternated. The model: order 5, built by lmplz from ``train`` (the wiki sample if None); kenlm
    loads it as KenLM's binary (probing) format made by build_binary (its fastest start), or as the
    ARPA file when build_binary is missing (said so); textkit reads the ARPA once and saves it as
    its native format (memory-mapped safetensors). Perplexities must agree to 0.1."""
    import json
    import subprocess

    print("\n== Scoring, whole process: textkit eval-ppl (native format) vs the kenlm module ==")
    try:
        import kenlm  # noqa: F401
    except ImportError:
        print("kenlm module not installed: pip install kenlm")
        return
    lmplz = find_lmplz()
    if lmplz is None:
        print(LMPLZ_HELP)
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if train is None:
            train = d / "train.txt"
            write_corpus(train, None)
        arpa = d / "model.arpa"
        run_process([lmplz, "-o", "5", "-S", "1G", "-T", str(d), "--discount_fallback"], train, arpa)
        build_binary = find_build_binary(lmplz)
        kenlm_model = arpa
        if build_binary:
            kenlm_model = d / "model.binary"
            run_process([build_binary, str(arpa), str(kenlm_model)])
        convert = (
            "import sys; from textkit.lm.ngram import NgramLM; "
            "NgramLM.from_arpa(sys.argv[1]).save(sys.argv[2], native=True)"
        )
        run_process([sys.executable, "-c", convert, str(arpa), str(d / "native")])
        script = d / "kenlm_ppl.py"
        script.write_text(KENLM_SCRIPT)
        counts = arpa_counts(arpa)
        kind = "KenLM binary (probing)" if build_binary else "ARPA (no build_binary found)"
        print(f"model: lmplz -o 5 on {train.name}, n-grams per order {counts}; kenlm loads {kind}")
        for size in tests:
            if isinstance(size, str):
                text = Path(size)
            else:
                text = d / "test.txt"
                write_corpus(text, size)
            with open(text, "rb") as f:
                n_words = sum(len(line.split()) for line in f)
            tk_cmd = [sys.executable, "-m", "textkit_cli.main", "eval-ppl", str(d / "native"), "--file", str(text)]
            tk_cmd.append("--json")
            kenlm_cmd = [sys.executable, str(script), str(kenlm_model), str(text)]
            out = {}
            for name, command in (("textkit", tk_cmd), ("kenlm", kenlm_cmd)):  # untimed: warm the page cache
                out[name] = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            ppl_tk, ppl_kenlm = json.loads(out["textkit"])["perplexity"], float(out["kenlm"])
            runs = {"textkit": [], "kenlm": []}
            for r in range(repeats):
                sides = [("textkit", tk_cmd), ("kenlm", kenlm_cmd)]
                for name, command in sides if r % 2 == 0 else sides[::-1]:
                    runs[name].append(run_process(command))
            print(f"{n_words / 1e6:.2f}M test words ({text.name}), {repeats} alternated run(s) each:")
            for name, results in runs.items():
                walls = sorted(w for w, _ in results)
                peak = max(m for _, m in results) / 2**20
                listed = ", ".join(f"{w:.2f}" for w in walls)
                print(
                    f"  {name:8} wall median {walls[len(walls) // 2]:6.2f}s (runs: {listed})  peak RSS {peak:.0f} MiB"
                )
            ratios = sorted(k[0] / t[0] for t, k in zip(runs["textkit"], runs["kenlm"]))
            print(
                f"  kenlm time / textkit time = {ratios[len(ratios) // 2]:.2f} (median of pairs; > 1: textkit faster)"
            )
            agree = "AGREE" if abs(ppl_tk - ppl_kenlm) < 0.1 else "DIFFER"
            print(f"  perplexity textkit {ppl_tk:.4f}  kenlm {ppl_kenlm:.4f}  {agree} (to 0.1)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller corpora (about a minute).")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["nltk", "kenlm", "build", "lmplz", "scoring"],
        help="Parts to leave out.",
    )
    parser.add_argument(
        "--score-train", default=None, help="Training text of the scoring comparison's model (default: the sample)."
    )
    parser.add_argument(
        "--score-test",
        nargs="*",
        default=None,
        help="Test texts of the scoring comparison (default: the sample and the 20M-word stream).",
    )
    parser.add_argument(
        "--lmplz-tokens",
        type=float,
        nargs="*",
        default=[2e7],
        help="Sizes besides the wiki sample for the lmplz comparison (words).",
    )
    parser.add_argument(
        "--memory", default="1G", help="Memory budget given to both builders in the lmplz comparison (lmplz -S)."
    )
    parser.add_argument(
        "--lmplz-corpus",
        nargs="*",
        default=[],
        help="Text files for the lmplz comparison instead of generated ones (one alternated pair each).",
    )
    parser.add_argument(
        "--write-corpus",
        nargs=2,
        metavar=("WORDS", "PATH"),
        help="Only write the streamed corpus of WORDS words (variants and in-line shuffles) to PATH, then stop.",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Alternated runs per side on the wiki sample (1 on larger corpora)."
    )
    parser.add_argument(
        "--scale-tokens",
        type=float,
        default=0,
        help="Also build an order-5 model on this many streamed tokens (e.g. 1e7) and report its peak RSS.",
    )
    args = parser.parse_args(argv)
    if args.write_corpus:
        words = write_corpus(Path(args.write_corpus[1]), int(float(args.write_corpus[0])))
        print(f"wrote {words} words to {args.write_corpus[1]}")
        return
    if args.lmplz_corpus:
        bench_lmplz(args.lmplz_corpus, args.memory, 1)
        return
    if args.score_test is not None or args.score_train:
        tests = args.score_test or [None, int(2e7)]
        bench_scoring(Path(args.score_train) if args.score_train else None, tests, args.repeats)
        return
    lines = wiki_lines()
    warm_up()
    if "nltk" not in args.skip:
        bench_nltk(
            lines,
            train_tokens=30_000 if args.quick else 100_000,
            test_lines=100 if args.quick else 400,
            kn_tokens=100 if args.quick else 300,
        )
    if "kenlm" not in args.skip:
        cut = len(lines) * 4 // 5  # the sample has ~9k long lines: train on 80%, score the rest
        bench_kenlm(lines, n_train_lines=cut, n_test_lines=len(lines) - cut, order=3 if args.quick else 5)
    if "build" not in args.skip:
        bench_build(copies=1 if args.quick else 5)
    if args.scale_tokens:
        bench_scale(5, int(args.scale_tokens))
    if "lmplz" not in args.skip:
        bench_lmplz([None], args.memory, args.repeats)
        if not args.quick and args.lmplz_tokens:
            bench_lmplz([int(n) for n in args.lmplz_tokens], args.memory, 1)
    if "scoring" not in args.skip:
        bench_scoring(None, [None] if args.quick else [None, int(2e7)], args.repeats)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
