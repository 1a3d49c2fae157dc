"""textkit's neural LMs against a plain PyTorch loop, whole process against whole process.

The peer is the loop of pytorch/examples ``word_language_model`` written out below (``--plain-side``
runs it as its own process): nn.Embedding + nn.LSTM/GRU + nn.Linear with PyTorch's default
initialisation, ``repackage_hidden``, ``clip_grad_norm_`` and a hand-written SGD step, trained on
the whole training file, then the test file scored as one stream, in one process. textkit is the
CLI a user runs, also one process: ``textkit train-lm TRAIN --valid-fraction 0 --test TEST ...``
(trains, writes the model folder, scores TEST with the same definition as ``eval-ppl``). Both read
the same whitespace-tokenized files and predict every word and one ``<eos>`` per line, with words
under ``--min-freq`` as ``<unk>``. Settings: 2 layers of 200, dropout 0.2, BPTT 35, batch 20, SGD
lr 20, clip 0.25, one epoch, ``--threads`` torch threads on both sides. With 2 threads on a machine
whose cores other jobs also use, how idle OpenMP threads wait decides the times more than the code
does (spinning threads take the time their partner needs); ``--plain-env NAME=VALUE`` sets an
environment variable for the plain loop only, e.g. to compare runtime settings.

Common random numbers: for seed s the peer builds its model after ``torch.manual_seed(s)``, seeds
dropout with s again and takes the minibatches of textkit's sequential sampler (the stream starts
0-35 tokens in, drawn from s; whole minibatches only), exactly as ``textkit train-lm --seed s``
does. A seed then gives both sides the same computation, so the per-seed perplexity ratio
measures the implementation (1.000 when they agree), and the spread over seeds (about +-10% at
lr 20 after one epoch) is shown separately for each side.

Corpora (built from gensim's test data, so nothing is downloaded):

* ``wiki``: gensim's Wikipedia sample tokenized as gensim's ``WikiCorpus`` does (lowercased words);
  the first 40 articles train, the next 10 test (min count 3);
* ``lee``: gensim's Lee background corpus, lowercased words; the first 270 articles train, the
  last 30 test (min count 3);
* ``wiki-all``: the whole Wikipedia sample less its last 8 articles (~407k tokens), every word kept
  (~33k words): the adaptive-softmax case (``--softmax adaptive`` against the plain full softmax).

One line per seed (seconds of each whole process, train + test evaluation, the side that runs
first alternating with the seed), then per case: mean, range and standard deviation over the seeds
of the speed ratio (plain seconds / textkit seconds: above 1 is textkit faster), of each side's
seconds and test perplexity, of the perplexity ratio (textkit / plain), the ratio of CPU seconds
(user + system, all threads: steadier than wall time on a busy machine, though a thread spinning at
a barrier counts too) and the peak RSS of each side. ``--log`` appends the per-seed records to a
file so that a long series can be run in several calls and summarised with ``--summarize``.

    python benchmarks/bench_lm.py --seeds 0-4                       # every case, 5 seeds
    python benchmarks/bench_lm.py --cases lee:lstm --seeds 0-4 --threads 1 --log lm.jsonl
    python benchmarks/bench_lm.py --summarize lm.jsonl
    python benchmarks/bench_lm.py --quick                           # 40k training tokens per corpus
    python benchmarks/bench_lm.py --cases wiki:gru --inits torch,uniform   # compare initialisations
"""

from __future__ import annotations

import argparse
import bz2
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = dict(embed_dim=200, hidden_dim=200, layers=2, dropout=0.2, bptt=35, batch_size=20, lr=20.0, clip=0.25)
CASES = ("wiki:lstm", "wiki:gru", "lee:lstm", "lee:gru", "wiki-all:lstm:adaptive")


# ---- corpora ------------------------------------------------------------------------------------
def wiki_articles() -> list[str]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki, tokenize
    from gensim.test.utils import datapath

    name = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    with bz2.open(datapath(name), "rb") as f:
        articles = [" ".join(tokenize(filter_wiki(text))) for _, text, _ in extract_pages(f)]
    return [a for a in articles if len(a.split()) >= 50]


def lee_articles() -> list[str]:
    from gensim.test.utils import datapath
    from gensim.utils import tokenize

    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        return [" ".join(tokenize(line, lower=True)) for line in f if line.strip()]


def corpus_files(name: str, folder: Path, max_train_tokens: int | None) -> tuple[Path, Path, int]:
    """Write train.txt / test.txt for ``name``; returns them and the min count to use."""
    if name == "wiki":
        articles = wiki_articles()
        train, test, min_count = articles[:40], articles[40:50], 3
    elif name == "wiki-all":
        articles = wiki_articles()
        train, test, min_count = articles[:-8], articles[-8:], 1
    elif name == "lee":
        articles = lee_articles()
        train, test, min_count = articles[:270], articles[270:], 3
    else:
        raise SystemExit(f"unknown corpus {name}")
    if max_train_tokens:
        kept, count = [], 0
        for line in train:
            words = line.split()
            kept.append(" ".join(words[: max_train_tokens - count]))
            count += len(words)
            if count >= max_train_tokens:
                break
        train = kept
    paths = folder / f"{name}.train.txt", folder / f"{name}.test.txt"
    for path, lines in zip(paths, (train, test)):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths[0], paths[1], min_count


# ---- the peer: pytorch/examples word_language_model, written out ---------------------------------
def plain_side(cell: str, train_path: str, test_path: str, min_count: int, seed: int) -> None:
    import numpy as np
    import torch
    from torch import nn

    def read(path):
        with open(path, encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]

    train_lines = read(train_path)
    counts: dict[str, int] = {}
    for words in train_lines:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    # textkit's specials and order, so that for one seed both sides start from the same weights
    vocab = ["<unk>", "<pad>", "<bos>", "<eos>"] + sorted(
        (w for w, c in counts.items() if c >= min_count), key=lambda w: -counts[w]
    )
    index = {w: i for i, w in enumerate(vocab)}

    def encode(lines):
        ids = []
        for words in lines:
            ids.extend(index.get(w, 0) for w in words)
            ids.append(3)
        return torch.tensor(ids, dtype=torch.long)

    class RNNModel(nn.Module):
        def __init__(self, ntoken):
            super().__init__()
            s = SETTINGS
            self.drop = nn.Dropout(s["dropout"])
            self.encoder = nn.Embedding(ntoken, s["embed_dim"])
            self.rnn = getattr(nn, cell.upper())(s["embed_dim"], s["hidden_dim"], s["layers"], dropout=s["dropout"])
            self.decoder = nn.Linear(s["hidden_dim"], ntoken)

        def forward(self, x, hidden):
            output, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
            return self.decoder(self.drop(output)), hidden

        def init_hidden(self, bsz):
            h = torch.zeros(SETTINGS["layers"], bsz, SETTINGS["hidden_dim"])
            return (h, h.clone()) if cell == "lstm" else h

    def repackage_hidden(h):
        return tuple(repackage_hidden(v) for v in h) if isinstance(h, tuple) else h.detach()

    torch.manual_seed(seed)
    model, criterion, ntokens = RNNModel(len(vocab)), nn.CrossEntropyLoss(), len(vocab)
    # Common random numbers: the same dropout seed and the same minibatches as textkit's run with
    # this seed (its sequential sampler starts 0-35 tokens in, drawn from the seed, and takes whole
    # minibatches only), so one seed gives both sides the same computation up to float rounding.
    torch.manual_seed(seed)
    data = encode(train_lines)
    bsz, bptt = SETTINGS["batch_size"], SETTINGS["bptt"]
    offset = int(np.random.default_rng(seed).integers(0, bptt + 1))
    nbatch = (len(data) - offset - 1) // bsz
    steps = (len(data) - bptt - 1) // bsz // bptt
    source = data[offset : offset + nbatch * bsz].view(bsz, -1).t().contiguous()
    target = data[offset + 1 : offset + 1 + nbatch * bsz].view(bsz, -1).t().contiguous()
    model.train()
    hidden = model.init_hidden(bsz)
    for i in range(0, steps * bptt, bptt):
        x, y = source[i : i + bptt], target[i : i + bptt].reshape(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(x, hidden)
        loss = criterion(output.view(-1, ntokens), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), SETTINGS["clip"])
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-SETTINGS["lr"])
    # test: one stream, preceded by <eos> as context (textkit's perplexity contract)
    test = torch.cat([torch.tensor([3]), encode(read(test_path))])
    model.eval()
    total, hidden = 0.0, model.init_hidden(1)
    with torch.no_grad():
        for i in range(0, len(test) - 1, bptt):
            seq_len = min(bptt, len(test) - 1 - i)
            output, hidden = model(test[i : i + seq_len].unsqueeze(1), hidden)
            logp = torch.log_softmax(output.view(-1, ntokens), -1)
            total += float(logp.gather(1, test[i + 1 : i + 1 + seq_len].unsqueeze(1)).sum())
    print(json.dumps({"perplexity": math.exp(-total / (len(test) - 1)), "vocab": len(vocab)}))


# ---- running and timing whole processes -----------------------------------------------------------
def timed(cmds: list[list[str]], threads: int, extra_env: dict | None = None) -> tuple[float, int, str, float]:
    """Run commands in turn with ``threads`` torch threads: total seconds, the largest peak RSS, the test
    perplexity printed last, and the CPU seconds (user + system) of all threads."""
    total, peak, out, cpu = 0.0, 0, "", 0.0
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **(extra_env or {})}
    for cmd in cmds:
        start = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
            proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, text=True, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            total += time.perf_counter() - start
            out_file.seek(0)
            err_file.seek(0)
            out, err = out_file.read(), err_file.read()
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
        peak = max(peak, usage.ru_maxrss)
        cpu += usage.ru_utime + usage.ru_stime
    figures = json.loads(out)
    return total, peak, figures.get("test_perplexity", figures.get("perplexity")), cpu


def textkit_cmds(cell, softmax, init, train, test, min_count, out, seed) -> list[list[str]]:
    s = SETTINGS
    train_cmd = [
        sys.executable,
        "-m",
        "textkit_cli.main",
        "train-lm",
        str(train),
        "--model",
        cell,
        "--lang",
        "whitespace",
        "--min-freq",
        str(min_count),
        "--valid-fraction",
        "0",
        "--epochs",
        "1",
        "--no-progress",
        "--device",
        "cpu",
        "--embed-dim",
        str(s["embed_dim"]),
        "--hidden-dim",
        str(s["hidden_dim"]),
        "--layers",
        str(s["layers"]),
        "--dropout",
        str(s["dropout"]),
        "--bptt",
        str(s["bptt"]),
        "--batch-size",
        str(s["batch_size"]),
        "--lr",
        str(s["lr"]),
        "--clip",
        str(s["clip"]),
        "--softmax",
        softmax,
        "--init",
        init,
        "--seed",
        str(seed),
        "--test",
        str(test),
        "--force",
        "-o",
        str(out),
        "--json",
    ]
    return [train_cmd]


def spread(values: list[float]) -> str:
    """``mean (median, min-max, sd)`` of a series."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    mean, median = statistics.mean(values), statistics.median(values)
    return f"{mean:.4g} (median {median:.4g}, {min(values):.4g}-{max(values):.4g}, sd {sd:.2g})"


def summarize(records: list[dict]) -> None:
    """One block per case and initialisation: seeds, mean and spread of every figure."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["case"], r["init"], r["max_train_tokens"], r.get("threads"), json.dumps(r.get("plain_env") or {}))
        groups.setdefault(key, []).append(r)
    for (case, init, limit, threads, plain_env), runs in groups.items():
        runs.sort(key=lambda r: r["seed"])
        speed = [r["plain_s"] / r["textkit_s"] for r in runs]
        ppl_ratio = [r["textkit_ppl"] / r["plain_ppl"] for r in runs]
        size = f", first {limit} training tokens" if limit else ""
        env = f", plain loop with {plain_env}" if plain_env != "{}" else ""
        print(f"{case} (init {init}{size}, {threads} threads{env}), seeds {' '.join(str(r['seed']) for r in runs)}:")
        print(f"  speed (plain s / textkit s)   {spread(speed)}")
        print(f"  plain seconds                 {spread([r['plain_s'] for r in runs])}")
        print(f"  textkit seconds               {spread([r['textkit_s'] for r in runs])}")
        if all("plain_cpu_s" in r for r in runs):  # logs written before CPU time was recorded lack it
            cpu = [r["plain_cpu_s"] / r["textkit_cpu_s"] for r in runs]
            print(f"  CPU s ratio (plain/textkit)   {spread(cpu)}")
        print(f"  test ppl ratio (textkit/plain) {spread(ppl_ratio)}")
        mean_ratio = statistics.mean(r["textkit_ppl"] for r in runs) / statistics.mean(r["plain_ppl"] for r in runs)
        print(f"  ratio of mean test ppl        {mean_ratio:.3f}")
        print(f"  plain test ppl                {spread([r['plain_ppl'] for r in runs])}")
        print(f"  textkit test ppl              {spread([r['textkit_ppl'] for r in runs])}")
        print(
            f"  peak RSS MiB plain / textkit  {max(r['plain_rss_kib'] for r in runs) / 1024:.0f} / "
            f"{max(r['textkit_rss_kib'] for r in runs) / 1024:.0f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help="corpus:cell[:softmax], comma-separated")
    parser.add_argument("--seeds", default="0", help="seeds to run, e.g. 0-4 or 0,3 (one alternated A/B round each)")
    parser.add_argument("--quick", action="store_true", help="at most 40k training tokens per corpus")
    parser.add_argument("--max-train-tokens", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each side (OMP_NUM_THREADS)")
    parser.add_argument("--inits", default="torch", help="textkit initialisations to run (comma-separated)")
    parser.add_argument(
        "--plain-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the plain loop only, e.g. OMP_WAIT_POLICY=PASSIVE",
    )
    parser.add_argument("--log", help="append one JSON line per seed here (split a series over several calls)")
    parser.add_argument("--summarize", metavar="LOG", help="print the summary of a --log file and exit")
    parser.add_argument(
        "--plain-side", nargs=5, metavar=("CELL", "TRAIN", "TEST", "MIN_COUNT", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.plain_side:
        cell, train, test, min_count, seed = args.plain_side
        return plain_side(cell, train, test, int(min_count), int(seed))
    if args.summarize:
        with open(args.summarize, encoding="utf-8") as f:
            return summarize([json.loads(line) for line in f if line.strip()])
    limit = args.max_train_tokens or (40_000 if args.quick else None)
    seeds = [
        s
        for part in args.seeds.split(",")
        for s in (range(int(part.split("-")[0]), int(part.split("-")[1]) + 1) if "-" in part else [int(part)])
    ]
    plain_env = dict(item.split("=", 1) for item in args.plain_env)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in args.cases.split(","):
            corpus, cell, *rest = case.split(":")
            softmax = rest[0] if rest else "full"
            train, test, min_count = corpus_files(corpus, folder, limit)
            for init in args.inits.split(","):
                for seed in seeds:
                    plain_cmd = [sys.executable, __file__, "--plain-side", cell, str(train), str(test)]
                    plain_cmd += [str(min_count), str(seed)]
                    kit_cmd = textkit_cmds(cell, softmax, init, train, test, min_count, folder / "model", seed)
                    # the side that goes first alternates with the seed
                    order = ("plain", "textkit") if seed % 2 == 0 else ("textkit", "plain")
                    runs = {
                        side: timed([plain_cmd], args.threads, plain_env)
                        if side == "plain"
                        else timed(kit_cmd, args.threads)
                        for side in order
                    }
                    record = {
                        "case": case,
                        "init": init,
                        "max_train_tokens": limit,
                        "seed": seed,
                        "threads": args.threads,
                        "plain_env": plain_env,
                        **{
                            f"{side}_{name}": runs[side][i]
                            for side in runs
                            for i, name in enumerate(("s", "rss_kib", "ppl", "cpu_s"))
                        },
                    }
                    records.append(record)
                    print(
                        f"{case} {init} seed {seed}: plain {record['plain_s']:.1f}s ppl {record['plain_ppl']:.2f}, "
                        f"textkit {record['textkit_s']:.1f}s ppl {record['textkit_ppl']:.2f}, "
                        f"speed {record['plain_s'] / record['textkit_s']:.3f}",
                        flush=True,
                    )
                    if args.log:
                        with open(args.log, "a", encoding="utf-8") as f:
                            f.write(json.dumps(record) + "\n")
    summarize(records)


if __name__ == "__main__":
    main()
