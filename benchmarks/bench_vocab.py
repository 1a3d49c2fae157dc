"""Building a vocabulary: textkit's Vocab.build vs collections.Counter + sorting, same tokens, same run.

The corpus is the ``wiki`` sample (gensim's Wikipedia test file as plain text, ~470k words) tokenized
with textkit's English tokenizer and repeated ``--copies`` times (with a suffix per copy, so the
vocabulary grows with the corpus, like a real one). Tokenizing is not timed; only building.

Peers, each producing what Vocab holds (token list in order, token -> id dict, frequencies):

* ``Counter + sorted``: ``Counter(chain.from_iterable(lists))``, ``sorted(items, key=itemgetter(1),
  reverse=True)``, specials first, a dict comprehension for ids;
* ``d2l Vocab``: the d2l.ai recipe (flatten, Counter, sort with a lambda, add tokens in a loop).

    python benchmarks/bench_vocab.py            # ~4 copies of the sample (~10 MB of text)
    python benchmarks/bench_vocab.py --quick    # one copy
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from itertools import chain
from operator import itemgetter

from textkit.corpora import read_corpus
from textkit.io import iter_lines
from textkit.tokenize import get_tokenizer
from textkit.vocab import DEFAULT_SPECIALS, Vocab


def load_token_lists(copies: int) -> tuple[list[list[str]], int]:
    tok = get_tokenizer("en")
    base = [t for t in tok.tokenize_lines(read_corpus("wiki")) if t]
    nbytes = sum(len(line.encode()) + 1 for line in iter_lines(_wiki_path())) * copies
    lists = list(base)
    for c in range(1, copies):
        # rare words get a per-copy twin so the vocabulary grows too; frequent ones stay shared
        suffix = f"_{c}"
        lists += [[w if len(w) < 7 else w + suffix for w in tokens] for tokens in base]
    return lists, nbytes


def _wiki_path():
    from textkit.corpora import resolve_corpus

    return resolve_corpus("wiki")


def counter_sorted(lists, min_freq=1, specials=DEFAULT_SPECIALS):
    counts = Counter(chain.from_iterable(lists))
    items = sorted(counts.items(), key=itemgetter(1), reverse=True)
    tokens = list(specials) + [t for t, c in items if c >= min_freq and t not in specials]
    stoi = {t: i for i, t in enumerate(tokens)}
    freqs = [counts.get(t, 0) for t in tokens]
    return tokens, stoi, freqs


def d2l_vocab(lists, min_freq=1, specials=DEFAULT_SPECIALS):
    counter = Counter([token for line in lists for token in line])
    token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
    idx_to_token = list(specials)
    token_to_idx = {token: idx for idx, token in enumerate(idx_to_token)}
    for token, freq in token_freqs:
        if freq < min_freq:
            break
        if token not in token_to_idx:
            idx_to_token.append(token)
            token_to_idx[token] = len(idx_to_token) - 1
    return idx_to_token, token_to_idx


def textkit_vocab(lists, min_freq=1, specials=DEFAULT_SPECIALS):
    return Vocab.build(lists, min_freq=min_freq, specials=specials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the wiki sample")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--min-freq", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="one copy, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.copies, args.repeat = 1, 3
    lists, nbytes = load_token_lists(args.copies)
    n_tokens = sum(map(len, lists))

    runs = {"Counter + sorted": counter_sorted, "d2l Vocab": d2l_vocab, "textkit Vocab.build": textkit_vocab}
    best = {name: float("inf") for name in runs}
    sizes = {}
    for _ in range(args.repeat):  # alternate, so a busy machine slows every side alike
        for name, build in runs.items():
            start = time.process_time()  # CPU seconds: one process, and steadier than wall time on a shared machine
            result = build(lists, args.min_freq)
            best[name] = min(best[name], time.process_time() - start)
            sizes[name] = len(result) if isinstance(result, Vocab) else len(result[0])
            del result

    reference = counter_sorted(lists, args.min_freq)[0]
    assert Vocab.build(lists, min_freq=args.min_freq).tokens == reference, "textkit and Counter disagree"
    print(
        f"corpus: {n_tokens:,} tokens in {len(lists):,} lists (~{nbytes / 1e6:.1f} MB of text); "
        f"vocabulary {sizes['textkit Vocab.build']:,}; best of {args.repeat}"
    )
    print(f"{'':22s} {'cpu s':>8s} {'Mtokens/s':>10s} {'textkit speed vs this':>22s}")
    ours = best["textkit Vocab.build"]
    for name, seconds in best.items():
        print(f"{name:22s} {seconds:8.3f} {n_tokens / seconds / 1e6:10.2f} {seconds / ours:21.2f}x")
    print(f"ratio textkit / (Counter + sorted) speed: {best['Counter + sorted'] / ours:.2f}x (target >= 1.0)")


if __name__ == "__main__":
    main()
