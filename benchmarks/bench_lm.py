"""textkit's RNN language-model training against a minimal plain-PyTorch loop, side by side.

Speed: training tokens/s of textkit's trainer (``LMTrainer``: sampler, truncated BPTT, clipping,
progress bookkeeping) against the loop of pytorch/examples word_language_model written out below
(nn.Embedding + nn.LSTM/GRU + nn.Linear, the same sizes, BPTT, batch, dropout and clipping), on the
same token ids, alternating runs so that machine noise hits both. The target is a ratio ≥ 0.95 with
2 CPU threads. The from-scratch cells (``--impl scratch``) are timed too.

Quality: both train the same number of epochs (SGD, lr 20, divided by 4 when validation stops
improving, clip 0.25) on the gensim Wikipedia sample split 90/10; both final models are scored by
the same evaluator. textkit should be no worse.

    python benchmarks/bench_lm.py            # full: ~15 min on 2 cores
    python benchmarks/bench_lm.py --quick    # ~2 min
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

from textkit.corpora import read_corpus
from textkit.lm.neural import NeuralLM, build_lm_vocab, encode_token_lists
from textkit.lm.perplexity import perplexity_from_logprob
from textkit.lm.train import EVAL_ROWS, LMTrainer, TrainConfig, split_lines
from textkit.tokenize import get_tokenizer


# ---- the peer: a minimal plain-PyTorch loop ------------------------------------------------------
class PlainRNNModel(nn.Module):
    """nn.Embedding + nn.LSTM/GRU + nn.Linear, named like NeuralLM so one evaluator scores both."""

    def __init__(self, cell: str, vocab_size: int, embed_dim: int, hidden_dim: int, layers: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.encoder = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](embed_dim, hidden_dim, layers, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_dim, vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, x, hidden):
        output, hidden = self.encoder(self.drop(self.embedding(x)), hidden)
        return self.decoder(self.drop(output)), hidden


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    rows = ids.numel() // batch_size
    return ids[: rows * batch_size].view(batch_size, rows).t().contiguous()  # (rows, B)


def repackage_hidden(h):
    return tuple(v.detach() for v in h) if isinstance(h, tuple) else h.detach()


def plain_train_epoch(model, data, bptt, lr, clip, vocab_size) -> tuple[list[float], float]:
    """One epoch; returns (seconds of every batch, mean training loss)."""
    model.train()
    criterion = nn.CrossEntropyLoss()
    batch_size = data.size(1)
    weight = next(model.parameters())
    h = weight.new_zeros(model.encoder.num_layers, batch_size, model.encoder.hidden_size)
    hidden = (h, h.clone()) if isinstance(model.encoder, nn.LSTM) else h
    total_loss, batch_seconds = 0.0, []
    last = time.perf_counter()
    for i in range(0, data.size(0) - 1 - bptt + 1, bptt):
        x, y = data[i : i + bptt], data[i + 1 : i + 1 + bptt]
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(x, hidden)
        loss = criterion(output.view(-1, vocab_size), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        total_loss += loss.item()
        now = time.perf_counter()
        batch_seconds.append(now - last)
        last = now
    return batch_seconds, total_loss / max(len(batch_seconds), 1)


# ---- textkit ------------------------------------------------------------------------------------
def textkit_trainer(cell, impl, vocab, tok, train_ids, valid_ids, args, epochs, outdir) -> LMTrainer:
    model = NeuralLM(vocab, tok, model=cell, embed_dim=args.dim, hidden_dim=args.dim, layers=2,
                     dropout=args.dropout, impl=impl)
    config = TrainConfig(bptt=35, batch_size=20, lr=20.0, clip=0.25, epochs=epochs, optimizer="sgd",
                         schedule="plateau", progress=False, seed=0)
    return LMTrainer(model, train_ids, valid_ids, config, outdir)


def shared_eval(model: nn.Module, template: NeuralLM, valid_ids: torch.Tensor) -> float:
    """Validation perplexity of either model through textkit's evaluator (same segments, same tokens)."""
    template.load_state_dict(model.state_dict())
    stream = torch.cat([torch.tensor([template.vocab.eos_id]), valid_ids])
    return perplexity_from_logprob(*template.stream_logprob(stream, rows=EVAL_ROWS)).perplexity


# ---- the runs -----------------------------------------------------------------------------------
def speed(cell, vocab, tok, train_ids, args) -> dict:
    """Per-batch seconds of each implementation on the same slice, in alternating rounds.

    Rounds alternate (plain, textkit, plain, textkit, ...) and the figure is tokens per batch over
    the *median* batch time (first batch of each run dropped as warm-up): on a machine shared with
    other jobs, bursts of contention hit single batches and the median ignores them.
    """
    n_tokens = args.speed_batches * 20 * 35 + 40
    ids, valid = train_ids[:n_tokens], train_ids[:200]
    batch_seconds = {"plain": [], "textkit": [], "scratch": []}

    def timed_textkit(impl, tmp):
        stamps = []
        trainer = textkit_trainer(cell, impl, vocab, tok, ids, valid, args, 1, tmp)
        trainer.fit(on_batch=lambda t: stamps.append(time.perf_counter()))
        return [b - a for a, b in zip(stamps, stamps[1:])]

    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for side in ("plain", "textkit") if round_ % 2 == 0 else ("textkit", "plain"):  # no order bias
                torch.manual_seed(round_)
                if side == "textkit":
                    batch_seconds["textkit"] += timed_textkit("torch", tmp)
                    continue
                plain = PlainRNNModel(cell, len(vocab), args.dim, args.dim, 2, args.dropout)
                batch_seconds["plain"] += plain_train_epoch(plain, batchify(ids, 20), 35, 20.0, 0.25, len(vocab))[0][1:]
            if round_ < args.scratch_rounds:
                torch.manual_seed(round_)
                batch_seconds["scratch"] += timed_textkit("scratch", tmp)
        print(f"  {cell} round {round_ + 1}/{args.rounds}: " + ", ".join(
            f"{k} {20 * 35 / statistics.median(v):.0f} tok/s" for k, v in batch_seconds.items() if v), file=sys.stderr, flush=True)
    return {k: 20 * 35 / statistics.median(v) for k, v in batch_seconds.items() if v}


def quality(cell, vocab, tok, train_ids, valid_ids, args) -> dict:
    torch.manual_seed(0)
    plain = PlainRNNModel(cell, len(vocab), args.dim, args.dim, 2, args.dropout)
    template = NeuralLM(vocab, tok, model=cell, embed_dim=args.dim, hidden_dim=args.dim, layers=2, dropout=args.dropout)
    data, lr, best = batchify(train_ids, 20), 20.0, math.inf
    for epoch in range(args.epochs):  # pytorch/examples: divide lr by 4 when validation stops improving
        plain_train_epoch(plain, data, 35, lr, 0.25, len(vocab))
        valid_ppl = shared_eval(plain, template, valid_ids)
        print(f"  plain   {cell} epoch {epoch + 1}: valid ppl {valid_ppl:.2f}", file=sys.stderr)
        if valid_ppl >= best:
            lr /= 4
        best = min(best, valid_ppl)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        trainer = textkit_trainer(cell, "torch", vocab, tok, train_ids, valid_ids, args, args.epochs, tmp)
        trainer.config.progress = True
        result = trainer.fit()
    textkit_ppl = shared_eval(trainer.model, template, valid_ids)
    return {"plain_valid_ppl": valid_ppl, "textkit_valid_ppl": textkit_ppl, "textkit_own_valid_ppl": result["valid_ppl"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer batches, one short quality run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--max-vocab", type=int, default=10000, help="vocabulary cap (the softmax dominates otherwise)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--speed-only", action="store_true", help="skip the quality runs")
    args = parser.parse_args()
    args.dim, args.dropout = 200, 0.2
    args.speed_batches = 15 if args.quick else 40
    args.rounds = 4 if args.quick else 8
    args.scratch_rounds = 1 if args.quick else 2
    args.epochs = args.epochs or (1 if args.quick else 2)
    torch.set_num_threads(args.threads)

    tok = get_tokenizer("en")
    train_lines, valid_lines = split_lines(list(read_corpus("wiki")))
    if args.quick:
        train_lines, valid_lines = train_lines[:800], valid_lines[:150]
    train_tokens = list(tok.tokenize_lines(train_lines))
    vocab = build_lm_vocab(train_tokens, max_size=args.max_vocab)
    train_ids, _ = encode_token_lists(train_tokens, vocab)
    valid_ids, _ = encode_token_lists(tok.tokenize_lines(valid_lines), vocab)
    print(f"wiki sample: {len(train_ids)} train / {len(valid_ids)} valid tokens, vocab {len(vocab)}, "
          f"{args.threads} threads, embed/hidden {args.dim}, 2 layers, bptt 35, batch 20", file=sys.stderr)

    print(f"{'cell':5} {'plain tok/s':>12} {'textkit tok/s':>14} {'ratio':>6} {'scratch tok/s':>14} {'scratch ratio':>13}")
    for cell in args.cells.split(","):
        s = speed(cell, vocab, tok, train_ids, args)
        print(f"{cell:5} {s['plain']:12.0f} {s['textkit']:14.0f} {s['textkit'] / s['plain']:6.3f} "
              f"{s['scratch']:14.0f} {s['scratch'] / s['plain']:13.3f}", flush=True)
    for cell in args.cells.split(",") if not args.speed_only else []:
        q = quality(cell, vocab, tok, train_ids, valid_ids, args)
        print(f"{cell}: valid ppl after {args.epochs} epoch(s): plain {q['plain_valid_ppl']:.2f}, "
              f"textkit {q['textkit_valid_ppl']:.2f} (ratio {q['textkit_valid_ppl'] / q['plain_valid_ppl']:.3f}; "
              f"textkit's own all-token evaluation {q['textkit_own_valid_ppl']:.2f})", flush=True)


if __name__ == "__main__":
    main()
