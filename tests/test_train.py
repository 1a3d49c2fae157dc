"""The training loop: learning, clipping, schedules, checkpoints and exact resume, divergence."""

import copy
import json
import math
import subprocess
import sys

import pytest
import torch

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UsageError
from textkit.lm.neural import NeuralLM, build_lm_vocab
from textkit.lm.train import (
    CHECKPOINT,
    LMTrainer,
    TrainConfig,
    TrainingDiverged,
    split_lines,
    train_language_model,
)
from textkit.tokenize import get_tokenizer

# a text a small model can learn almost perfectly: perplexity near 1 once memorised
REPETITIVE = ["a b c d e f g h", "h g f e d c b a", "a c e g b d f h"] * 40
TINY = dict(model="gru", embed_dim=16, hidden_dim=16, layers=1, dropout=0.0)


def _trainer(tmp_path, lines=REPETITIVE, architecture=TINY, **config):
    torch.manual_seed(0)
    tok = get_tokenizer("whitespace")
    train, valid = split_lines(lines)
    vocab = build_lm_vocab(tok.tokenize_lines(train))
    model = NeuralLM(vocab, tok, **architecture)
    train_ids, _ = model.encode_lines(train)
    valid_ids, _ = model.encode_lines(valid)
    settings = dict(epochs=2, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    settings.update(config)
    return LMTrainer(model, train_ids, valid_ids, TrainConfig(**settings), tmp_path / "run")


@pytest.mark.parametrize("sampler", ["sequential", "random"])
def test_both_samplers_learn_a_repetitive_text(tmp_path, sampler):
    result = _trainer(tmp_path, sampler=sampler, epochs=8, architecture={**TINY, "model": "lstm"}).fit()
    assert result["history"][0]["train_ppl"] > 3
    # after 8 epochs the valid text (same patterns) is almost predictable; reset state costs some context
    assert result["valid_ppl"] < (1.6 if sampler == "sequential" else 2.5)


def test_clipping_bounds_the_global_gradient_norm(tmp_path):
    def grad_norm(trainer):
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    norms = []
    _trainer(tmp_path, clip=None, optimizer="sgd", lr=1.0, epochs=1).fit(on_batch=grad_norm)
    assert max(norms) > 0.05  # unclipped gradients are larger than the bound below
    norms = []
    _trainer(tmp_path, clip=0.05, optimizer="sgd", lr=1.0, epochs=1).fit(on_batch=grad_norm)
    assert max(norms) <= 0.05 + 1e-6


def test_seeded_runs_repeat_exactly(tmp_path):
    a = _trainer(tmp_path / "a", architecture={**TINY, "dropout": 0.3}).fit()
    b = _trainer(tmp_path / "b", architecture={**TINY, "dropout": 0.3}).fit()
    assert a["history"][-1]["valid_ppl"] == b["history"][-1]["valid_ppl"]


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize(
    "stop_at,schedule,softmax",
    [
        ((0, 5), "plateau", "full"),
        ((1, 0), "plateau", "full"),
        ((0, 5), "cyclic", "full"),
        ((1, 0), "cyclic", "full"),
        ((0, 5), "plateau", "adaptive"),
    ],
)
def test_resume_continues_exactly(tmp_path, stop_at, schedule, softmax):
    tied = softmax == "adaptive"  # the adaptive head's word rows tied to the embedding
    settings = dict(
        epochs=3,
        optimizer="sgd",
        lr=2.0,
        momentum=0.5,
        schedule=schedule,
        architecture={**TINY, "dropout": 0.2, "model": "lstm", "softmax": softmax, "tied": tied},
    )
    reference = _trainer(tmp_path / "ref", **settings)
    reference.fit()

    interrupted = _trainer(tmp_path, **settings)

    def stop(trainer):
        if (trainer.epoch, trainer.batch) == (stop_at[0], stop_at[1] or len(trainer.sampler)):
            trainer.request_stop()

    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(on_batch=stop)
    assert (tmp_path / "run" / CHECKPOINT).exists()

    resumed = _trainer(tmp_path, **{**settings, "architecture": {**settings["architecture"]}})
    torch.manual_seed(12345)  # the checkpoint's RNG state must win over whatever came before
    resumed.restore()
    resumed.fit()
    assert [h["valid_ppl"] for h in resumed.history] == [h["valid_ppl"] for h in reference.history]
    for name, value in _weights(reference).items():
        torch.testing.assert_close(_weights(resumed)[name], value, rtol=0, atol=0)


def test_checkpoint_files_and_plot(tmp_path):
    train, valid = split_lines(REPETITIVE)
    config = TrainConfig(epochs=2, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    train_language_model(train, valid, tmp_path / "run", TINY, config, tokenizer="whitespace", device="cpu")
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} == {
        "config.json",
        "vocab.json",
        "weights.safetensors",
        CHECKPOINT,
        "perplexity.png",
    }
    assert (run / "perplexity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((run / "config.json").read_text())
    assert config["training"]["optimizer"] == "adam" and config["kind"] == "lm.neural"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the checkpoint folder moved inside
    # no pickle anywhere: every file is JSON, PNG or safetensors
    assert not any(p.suffix in (".pt", ".pth", ".pkl") for p in run.iterdir())


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, epochs=3)
    before = {}

    def poison(t):
        if t.epoch == 1 and t.batch == 2:
            before["checkpoint"] = (tmp_path / "run" / CHECKPOINT).read_bytes()
            with torch.no_grad():
                t.model.decoder.bias.fill_(math.nan)

    with pytest.raises(TrainingDiverged, match="epoch 2.*last good checkpoint \\(epoch 1\\)"):
        trainer.fit(on_batch=poison)
    assert all(torch.isfinite(p).all() for p in trainer.model.encoder.parameters())  # the bad step was not taken
    assert (tmp_path / "run" / CHECKPOINT).read_bytes() == before["checkpoint"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "adagrad", "rmsprop"])
def test_every_optimizer_lowers_the_loss(tmp_path, optimizer):
    lr = {"sgd": 2.0, "adagrad": 0.2}.get(optimizer, 0.01)
    result = _trainer(tmp_path, optimizer=optimizer, lr=lr, epochs=3, weight_decay=1e-5, schedule="none").fit()
    assert result["history"][-1]["train_ppl"] < result["history"][0]["train_ppl"]


def test_schedules_follow_their_formulas(tmp_path):
    exp = _trainer(tmp_path / "e", schedule="exponential", lr=0.01, lr_decay=0.3, epochs=3).fit()
    assert [h["lr"] for h in exp["history"]] == pytest.approx([0.01 * math.exp(-0.3 * t) for t in range(3)])
    step = _trainer(tmp_path / "s", schedule="step", lr=0.01, step_epochs=2, lr_factor=10, epochs=3).fit()
    assert [h["lr"] for h in step["history"]] == pytest.approx([0.01, 0.01, 0.001])


def test_plateau_divides_and_patience_stops(tmp_path, monkeypatch):
    from textkit.lm.perplexity import perplexity_from_logprob

    trainer = _trainer(tmp_path, schedule="plateau", lr=0.01, lr_factor=4, epochs=6, patience=2)
    figures = iter([10.0, 8.0, 9.0, 9.5, 7.0, 7.0])  # validation: better, better, worse, worse -> stop
    monkeypatch.setattr(trainer, "evaluate", lambda: perplexity_from_logprob(-math.log(next(figures)), 1))
    result = trainer.fit()
    assert result["epochs"] == 4 and result["early_stopped"]
    assert [h["lr"] for h in result["history"]] == pytest.approx([0.01, 0.01, 0.01, 0.0025])


def test_bad_settings_and_input(tmp_path):
    with pytest.raises(UsageError):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(UsageError):
        TrainConfig(schedule="warmup")
    with pytest.raises(EmptyCorpusError):
        split_lines(["", "  "])
    with pytest.raises(EmptyCorpusError):
        _trainer(tmp_path, lines=["a b", "c d"], batch_size=4, bptt=6)
    with pytest.raises(ModelFileError, match="no training checkpoint"):
        train_language_model(["a b c"], ["a b"], tmp_path / "nothing", resume=True, device="cpu")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit()
    path = tmp_path / "run" / CHECKPOINT
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="safetensors"):
        _trainer(tmp_path).restore()


def test_train_language_model_end_to_end(tmp_path):
    train, valid = split_lines(REPETITIVE)
    config = TrainConfig(epochs=2, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    model, result = train_language_model(
        train, valid, tmp_path / "m", TINY, config, tokenizer="whitespace", device="cpu"
    )
    assert result["epochs"] == 2
    rate = sum(h["train_tokens"] for h in result["history"]) / sum(h["train_seconds"] for h in result["history"])
    assert result["tokens_per_sec"] == pytest.approx(rate)  # training tokens over training time
    loaded = NeuralLM.load(tmp_path / "m")
    assert loaded.vocab == model.vocab
    # resume with more epochs continues from epoch 2 (the finished folder keeps its checkpoint)
    config.epochs = 3
    _, more = train_language_model(train, valid, tmp_path / "m", None, config, device="cpu", resume=True)
    assert more["epochs"] == 3 and len(more["history"]) == 3
    # but not with another architecture, nor on other text
    with pytest.raises(UsageError, match="hidden_dim 16 -> 32"):
        train_language_model(train, valid, tmp_path / "m", {"hidden_dim": 32}, config, device="cpu", resume=True)
    with pytest.raises(UsageError, match="training text differs"):
        train_language_model(train[:-5], valid, tmp_path / "m", None, config, device="cpu", resume=True)


def test_ctrl_c_saves_a_checkpoint_then_stops(tmp_path):
    import os
    import signal

    trainer = _trainer(tmp_path, epochs=2)

    def press_ctrl_c(t):
        if (t.epoch, t.batch) == (0, 3):
            os.kill(os.getpid(), signal.SIGINT)  # the real signal, through the trainer's handler

    with pytest.raises(KeyboardInterrupt):
        trainer.fit(on_batch=press_ctrl_c)
    resumed = _trainer(tmp_path, epochs=2)
    resumed.restore()
    assert (resumed.epoch, resumed.batch) == (0, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


def _plain_loop(model, ids, config, steps):
    """pytorch/examples word_language_model's loop, written out: the oracle for textkit's trainer."""
    import numpy as np

    b, t = config.batch_size, config.bptt
    offset = int(np.random.default_rng(config.seed).integers(0, t + 1))  # the sampler's first offset
    rows = (len(ids) - offset - 1) // b
    data = ids[offset : offset + b * rows].view(b, rows).t()
    target = ids[offset + 1 : offset + 1 + b * rows].view(b, rows).t()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    hidden, losses = model.init_state(b), []
    model.train()
    for i in range(0, steps * t, t):
        hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
        model.zero_grad()
        logits, hidden = model(data[i : i + t], hidden)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target[i : i + t].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_trainer_takes_the_same_steps_as_a_plain_torch_loop(tmp_path, cell):
    """Same seed, init and tokens: textkit's loop and the plain loop give the same loss sequence,
    at the pytorch/examples recipe (SGD lr 20, clip 0.25, dropout, carried and detached state)."""
    import copy

    train, _ = split_lines(REPETITIVE, valid_fraction=0)
    tok = get_tokenizer("whitespace")
    vocab = build_lm_vocab(tok.tokenize_lines(train))
    torch.manual_seed(0)
    model = NeuralLM(vocab, tok, model=cell, embed_dim=16, hidden_dim=16, layers=2, dropout=0.2, init="torch")
    plain_model = copy.deepcopy(model)
    ids, _ = model.encode_lines(train)
    config = TrainConfig(epochs=1, batch_size=4, bptt=5, lr=20.0, clip=0.25, progress=False)
    trainer = LMTrainer(model, ids, None, config)
    losses = []
    torch.manual_seed(1)
    trainer.fit(on_batch=lambda t: losses.append(t.running["loss_sum"] / t.running["tokens"] * t.batch - sum(losses)))
    torch.manual_seed(1)
    expected = _plain_loop(plain_model, ids, config, len(losses))
    assert len(losses) > 20
    assert losses == pytest.approx(expected, rel=1e-4, abs=1e-4)
    for name, value in plain_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-4, atol=1e-5)


def test_no_validation_text_keeps_the_last_epoch(tmp_path):
    train, _ = split_lines(REPETITIVE, valid_fraction=0)
    assert len(train) == len(REPETITIVE)
    config = TrainConfig(epochs=2, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    model, result = train_language_model(train, None, None, TINY, config, tokenizer="whitespace", device="cpu")
    assert result["valid_ppl"] is None and result["best_valid_ppl"] is None and len(result["history"]) == 2
    assert list(tmp_path.iterdir()) == []  # no output folder: nothing written anywhere


def test_fit_trains_in_memory():
    tok = get_tokenizer("whitespace")
    train, valid = split_lines(REPETITIVE)
    torch.manual_seed(0)
    lm = NeuralLM(build_lm_vocab(tok.tokenize_lines(train)), tok, **TINY)
    before = lm.score_lines(valid)[0]
    result = lm.fit(
        train, valid, TrainConfig(epochs=2, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    )
    assert result["epochs"] == 2 and lm.score_lines(valid)[0] > before


def test_force_run_that_fails_leaves_the_old_model_and_resume_finds_its_checkpoint(tmp_path):
    from textkit.lm.train import checkpoint_folder

    train, valid = split_lines(REPETITIVE)
    config = TrainConfig(epochs=1, batch_size=4, bptt=6, optimizer="adam", lr=0.02, progress=False)
    out = tmp_path / "m"
    train_language_model(train, valid, out, TINY, config, tokenizer="whitespace", device="cpu")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(UsageError, match="exists"):
        train_language_model(train, valid, out, TINY, config, tokenizer="whitespace", device="cpu")

    def interrupt(trainer):
        if trainer.batch == 3:
            trainer.request_stop()

    config.epochs = 2
    with pytest.raises(KeyboardInterrupt):
        train_language_model(
            train,
            valid,
            out,
            {**TINY, "model": "lstm"},
            config,
            tokenizer="whitespace",
            device="cpu",
            force=True,
            on_batch=interrupt,
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old model is untouched
    assert NeuralLM.load(out).config["model"] == "gru"
    assert (checkpoint_folder(out) / CHECKPOINT).exists()  # beside it, not inside
    model, result = train_language_model(train, valid, out, {"model": "lstm"}, config, device="cpu", resume=True)
    assert result["epochs"] == 2 and NeuralLM.load(out).config["model"] == "lstm"
    assert not checkpoint_folder(out).exists()


def test_a_read_only_destination_fails_before_training(tmp_path, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    train, valid = split_lines(REPETITIVE)
    trained = []
    with pytest.raises(TextkitError, match="cannot write.*[Rr]ead-only"):
        train_language_model(
            train,
            valid,
            tmp_path / "m",
            TINY,
            TrainConfig(progress=False),
            tokenizer="whitespace",
            device="cpu",
            on_batch=trained.append,
        )
    assert trained == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("field", ["lr", "clip", "momentum"])
def test_non_finite_settings_are_refused(field):
    with pytest.raises(UsageError, match="finite"):
        TrainConfig(**{field: math.nan})
    with pytest.raises(UsageError, match="finite"):
        TrainConfig(**{field: math.inf})


def test_recurrent_classifiers_share_the_loop_and_log_to_stderr(capsys):
    from textkit.classify.rnn import RecurrentClassifier

    texts = ["good fine great", "bad awful poor"] * 20
    labels = ["pos", "neg"] * 20
    model = RecurrentClassifier(cell="gru", embed_dim=8, hidden_dim=8, epochs=2, batch_size=8, threads=1, patience=1)
    model.fit(texts, labels, validation=(texts[:8], labels[:8]))
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays for results (--json)
    assert "gru epoch 1" in err and len(model.history_) >= 1


def test_early_stopping_counts_epochs_without_a_new_best():
    from textkit.training import EarlyStopping

    stopper = EarlyStopping(patience=2)
    assert [stopper.update(v) for v in (3.0, 2.0, 2.5, 2.0)] == [True, True, False, False]
    assert stopper.stop and stopper.best == 2.0
    assert not EarlyStopping(None).stop


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_textkit_sgd_steps_and_state_are_torch_optim_sgds(momentum, weight_decay):
    """The start-up-light SGD against the oracle it replaces: the same parameters after several
    steps, and either's state_dict resumes the other (checkpoints written by torch.optim.SGD load)."""
    from textkit.training import SGD

    def run(make, steps, start=None):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
        opt = make(model.parameters())
        if start is not None:
            model.load_state_dict(start[0])
            opt.load_state_dict(start[1])
        data = torch.Generator().manual_seed(1)
        for _ in range(steps):
            x = torch.randn(8, 6, generator=data)
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        return model, opt

    ours = lambda p: SGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay)  # noqa: E731
    oracle = lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay)  # noqa: E731
    a, _ = run(ours, 6)
    b, opt_b = run(oracle, 6)
    for x, y in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-7)
    # torch's state (a checkpoint of textkit 0.1) resumed by textkit's SGD, and the reverse
    c, _ = run(ours, 3, start=(copy.deepcopy(b.state_dict()), copy.deepcopy(opt_b.state_dict())))
    d, _ = run(oracle, 3, start=(copy.deepcopy(b.state_dict()), copy.deepcopy(opt_b.state_dict())))
    for x, y in zip(c.parameters(), d.parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-7)
    e, opt_e = run(ours, 6)
    f, _ = run(oracle, 3, start=(copy.deepcopy(e.state_dict()), copy.deepcopy(opt_e.state_dict())))
    g, _ = run(ours, 3, start=(copy.deepcopy(e.state_dict()), copy.deepcopy(opt_e.state_dict())))
    for x, y in zip(f.parameters(), g.parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-7)


KEEP_FREED_PROGRAM = """
import ctypes, resource, sys
from textkit.training import keep_freed_memory
applied = keep_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size, faults = 24 << 20, []
for _ in range(5):  # a step: three large buffers written, then all freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [libc.malloc(size) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, size)
    for b in blocks:
        libc.free(b)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sum(faults[1:]))
"""


def test_kept_freed_memory_is_reused_without_page_faults():
    out = subprocess.run([sys.executable, "-c", KEEP_FREED_PROGRAM], capture_output=True, text=True, check=True)
    applied, later_faults = out.stdout.split()
    if applied != "True":
        pytest.skip("not glibc: the allocator setting does not apply")
    pages_per_step = 3 * (24 << 20) // 4096
    # after the first step the buffers come back from the kept heap: no page is mapped again
    assert int(later_faults) < pages_per_step // 10
