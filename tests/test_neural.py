"""NeuralLM: scoring under the perplexity contract, files, generation, tokenizers."""

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import EmptyCorpusError, ModelFileError, UsageError
from textkit.lm import evaluate, load_language_model
from textkit.lm.neural import NeuralLM, build_lm_vocab, encode_lines
from textkit.tokenize import get_tokenizer

LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"]


def _model(model="lstm", impl="torch", tokenizer="whitespace", lines=LINES, **kw):
    torch.manual_seed(0)
    tok = get_tokenizer(tokenizer)
    vocab = build_lm_vocab(tok.tokenize_lines(lines))
    options = dict(embed_dim=8, hidden_dim=8, layers=2, dropout=0.0)
    options.update(kw)
    return NeuralLM(vocab, tok, model=model, impl=impl, **options)


def test_encode_lines_adds_eos_and_counts_oov():
    lm = _model()
    ids, oov = encode_lines(["the cat", "", "zebra dog"], lm.tokenizer, lm.vocab)
    assert lm.vocab.decode(ids.tolist()) == ["the", "cat", "<eos>", "<unk>", "dog", "<eos>"]
    assert oov == 1


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_score_lines_matches_token_by_token_oracle(model):
    lm = _model(model).eval()
    text = ["the cat sat", "zebra on the log"]
    logprob, tokens, oov = lm.score_lines(text)
    assert (tokens, oov) == (3 + 1 + 4 + 1, 1)
    # oracle: feed one token at a time, starting from <eos> as context, carrying the state
    ids, _ = lm.encode_lines(text)
    stream = [lm.vocab.eos_id] + ids.tolist()
    total, state = 0.0, None
    with torch.no_grad():
        for prev, nxt in zip(stream, stream[1:]):
            logits, state = lm(torch.tensor([[prev]]), state)
            total += torch.log_softmax(logits[0, 0].double(), -1)[nxt].item()
    assert logprob == pytest.approx(total, rel=1e-6)
    result = evaluate(lm, text)
    assert result.perplexity == pytest.approx(math.exp(-total / tokens), rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 7), world=st.integers(1, 3))
def test_segments_shared_between_processes_count_every_token_once(rows, world):
    lm = _model("gru", layers=1).eval()
    stream = torch.arange(40) % len(lm.vocab)
    full_lp, full_n = lm.stream_logprob(stream, rows=rows)
    parts = [lm.stream_logprob(stream, rows=rows, row_subset=range(r, rows, world)) for r in range(world)]
    assert sum(n for _, n in parts) == full_n == 39
    assert sum(lp for lp, _ in parts) == pytest.approx(full_lp, rel=1e-6)


def test_save_load_roundtrip_and_loader(tmp_path):
    lm = _model("gru", tied=True).eval()
    lm.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format"] == "textkit" and config["kind"] == "lm.neural" and config["tied"] is True
    assert config["tokenizer"]["name"] == "whitespace"
    loaded = load_language_model(tmp_path / "m")
    assert isinstance(loaded, NeuralLM)
    assert loaded.decoder.weight is loaded.embedding.weight
    assert loaded.score_lines(LINES) == pytest.approx(lm.score_lines(LINES))
    import textkit.artifacts

    assert textkit.artifacts.load(tmp_path / "m").score_lines(LINES) == pytest.approx(lm.score_lines(LINES))
    # a folder written by textkit 0.1 (its format, kind, weight file and tokenizer entry) still loads
    old = dict(
        config, format="textkit.lm", kind="rnn", tokenizer={"spec": "whitespace", "options": {"lowercase": False}}
    )
    for key in ("softmax", "cutoffs", "textkit_version"):
        old.pop(key, None)
    (tmp_path / "m" / "config.json").write_text(json.dumps(old))
    (tmp_path / "m" / "weights.safetensors").rename(tmp_path / "m" / "model.safetensors")
    assert load_language_model(tmp_path / "m").score_lines(LINES) == pytest.approx(lm.score_lines(LINES))


def test_scratch_and_torch_share_weights(tmp_path):
    lm = _model("lstm", impl="torch").eval()
    lm.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["impl"] = "scratch"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    scratch = NeuralLM.load(tmp_path / "m")
    assert scratch.config["impl"] == "scratch"
    assert scratch.score_lines(LINES)[0] == pytest.approx(lm.score_lines(LINES)[0], rel=1e-5)


def test_corrupt_and_mismatched_files(tmp_path):
    lm = _model()
    lm.save(tmp_path / "m")
    weights = (tmp_path / "m" / "weights.safetensors").read_bytes()
    (tmp_path / "m" / "weights.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ModelFileError, match="safetensors"):
        NeuralLM.load(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(weights)
    other = build_lm_vocab([["only", "three", "words", "here", "now"]])
    other.save(tmp_path / "m" / "vocab.json")
    with pytest.raises(ModelFileError, match="does not belong"):
        NeuralLM.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError):
        load_language_model(tmp_path / "m")


def test_weights_of_another_vocab_size_are_rejected(tmp_path):
    small, big = _model(lines=LINES[:1]), _model()
    big.save(tmp_path / "big")
    small.save(tmp_path / "small")
    (tmp_path / "small" / "weights.safetensors").write_bytes((tmp_path / "big" / "weights.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match="shape"):
        NeuralLM.load(tmp_path / "small")


def test_tied_needs_equal_sizes_and_init_schemes():
    with pytest.raises(UsageError, match="embedding size"):
        _model(tied=True, embed_dim=8, hidden_dim=16)
    for init in ("xavier", "kaiming"):
        lm = _model(init=init)
        assert torch.count_nonzero(lm.decoder.bias) == 0
        assert lm.embedding.weight.std() > 0
    # torch: every layer's own default, so a plain torch.nn model built after the same seed is identical
    lm = _model(init="torch", model="gru", layers=1)
    torch.manual_seed(0)
    embedding, gru, decoder = (
        torch.nn.Embedding(len(lm.vocab), 8),
        torch.nn.GRU(8, 8),
        torch.nn.Linear(8, len(lm.vocab)),
    )
    torch.testing.assert_close(lm.embedding.weight, embedding.weight, rtol=0, atol=0)
    torch.testing.assert_close(lm.encoder.weight_hh_l0, gru.weight_hh_l0, rtol=0, atol=0)
    torch.testing.assert_close(lm.decoder.weight, decoder.weight, rtol=0, atol=0)
    with pytest.raises(UsageError):
        _model(init="zeros")


def test_generate_is_seeded_and_respects_top_k():
    lm = _model()
    a = lm.generate("the", length=12, temperature=0.7, seed=3)
    assert a == lm.generate("the", length=12, temperature=0.7, seed=3)
    assert a.startswith("the")
    greedy = lm.generate("the cat", length=6, top_k=1, seed=1)
    assert greedy == lm.generate("the cat", length=6, top_k=1, seed=2)  # top-1 is deterministic
    assert "<unk>" not in lm.generate("", length=50, seed=0)
    with pytest.raises(UsageError):
        lm.generate("the", length=3, temperature=0)


def test_empty_text_is_an_error():
    with pytest.raises(EmptyCorpusError):
        _model().score_lines(["", "   "])


def test_char_and_subword_models(tmp_path):
    char = _model(tokenizer="char")
    assert "▁" in char.vocab
    char.save(tmp_path / "char")
    assert NeuralLM.load(tmp_path / "char").score_lines(["the cat"])[1] == 8  # 7 chars + <eos>

    from textkit.tokenize import train_sentencepiece

    text = tmp_path / "text.txt"
    text.write_text("\n".join(LINES * 20) + "\n")
    spm = train_sentencepiece(text, tmp_path / "spm", vocab_size=30, model_type="bpe")
    lm = _model(tokenizer=f"spm:{spm}")
    lm.save(tmp_path / "sub")
    spm.unlink()  # the model folder keeps its own copy
    loaded = NeuralLM.load(tmp_path / "sub")
    assert loaded.score_lines(["the cat"]) == pytest.approx(lm.score_lines(["the cat"]))


ZIPF = [" ".join(f"w{(i * 7 + j) % (j + 3)}" for j in range(12)) for i in range(60)]


def _adaptive(**kw):
    return _model(lines=ZIPF, softmax="adaptive", **kw)


@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("tied", [False, True])
def test_adaptive_softmax_gives_normalised_exact_probabilities(impl, tied):
    lm = _adaptive(impl=impl, tied=tied, cutoffs=[6, 10]).eval()
    assert isinstance(lm.decoder, torch.nn.AdaptiveLogSoftmaxWithLoss)
    tokens = torch.tensor([[4], [5], [6]])
    scores, _ = lm(tokens)
    torch.testing.assert_close(torch.logsumexp(scores, -1), torch.zeros(3, 1), rtol=0, atol=1e-5)  # normalised
    # the training loss is the mean of -log p over the targets, the same distribution
    targets = torch.tensor([[5], [12], [3]])
    loss, _ = lm(tokens, None, targets)
    expected = -scores.gather(-1, targets.unsqueeze(-1)).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    # scoring a text is the token-by-token sum of those log-probabilities
    logprob, count, _ = lm.score_lines([ZIPF[0]])
    ids = [lm.vocab.eos_id] + lm.vocab.encode(ZIPF[0].split()) + [lm.vocab.eos_id]
    scores, _ = lm(torch.tensor(ids[:-1]).unsqueeze(1))
    manual = sum(float(scores[t, 0, ids[t + 1]]) for t in range(len(ids) - 1))
    assert count == len(ids) - 1 and logprob == pytest.approx(manual, rel=1e-5)


def test_adaptive_tied_head_shares_word_rows_with_the_embedding():
    lm = _adaptive(tied=True, cutoffs=[6])
    frequent = torch.tensor([[4]])
    torch.testing.assert_close(lm.embed(frequent)[0, 0], lm.decoder.head.weight[4])
    rare = torch.tensor([[len(lm.vocab) - 1]])
    torch.testing.assert_close(lm.embed(rare)[0, 0], lm.embedding.weight[-1])
    with pytest.raises(UsageError, match="cutoffs"):
        _adaptive(cutoffs=[len(lm.vocab) + 5])
    with pytest.raises(UsageError, match="cutoffs"):
        _model(cutoffs=[4])  # a full softmax has no clusters


def test_default_cutoffs_follow_the_frequency_profile():
    from textkit.lm.neural import default_cutoffs
    from textkit.vocab import Vocab

    words = [f"w{i}" for i in range(2000)]
    counts = {w: max(1, int(10000 / (i + 1))) for i, w in enumerate(words)}  # Zipf
    vocab = Vocab.from_counter(counts, specials=("<unk>", "<pad>", "<bos>", "<eos>"))
    cutoffs = default_cutoffs(vocab)
    freqs = torch.tensor(vocab.freqs, dtype=torch.float64)
    assert cutoffs == sorted(cutoffs) and cutoffs[-1] < len(vocab)
    assert float(freqs[: cutoffs[0]].sum() / freqs.sum()) >= 0.8  # the head covers 80% of the tokens
    assert float(freqs[: cutoffs[0] - 1].sum() / freqs.sum()) < 0.8  # and no more than it needs


def test_adaptive_model_saves_loads_and_generates(tmp_path):
    lm = _adaptive(tied=True)
    lm.save(tmp_path / "a")
    loaded = NeuralLM.load(tmp_path / "a")
    assert loaded.config["softmax"] == "adaptive" and loaded.config["cutoffs"] == lm.config["cutoffs"]
    assert loaded.score_lines(ZIPF[:3]) == pytest.approx(lm.score_lines(ZIPF[:3]))
    assert loaded.generate("w1", length=5, seed=0) == lm.generate("w1", length=5, seed=0)


def test_nan_weights_in_a_saved_model_are_rejected(tmp_path):
    from textkit.io import load_tensors, save_tensors

    _model().save(tmp_path / "m")
    path = tmp_path / "m" / "weights.safetensors"
    tensors = load_tensors(path)
    tensors["decoder.bias"][0] = math.nan
    save_tensors(path, tensors)
    with pytest.raises(ModelFileError, match="NaN"):
        NeuralLM.load(tmp_path / "m")


def test_a_tiny_temperature_is_greedy_not_an_error():
    lm = _model()
    greedy = lm.generate("the cat", length=6, top_k=1, seed=1)
    assert lm.generate("the cat", length=6, temperature=1e-300, seed=5) == greedy


def test_save_is_all_or_nothing(tmp_path, monkeypatch):
    first = _model()
    first.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    with pytest.raises(UsageError, match="exists"):
        first.save(tmp_path / "m")  # exists, no force
    other = _model(model="gru")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("textkit.lm.neural.save_tensors", fail)
    with pytest.raises(OSError):
        other.save(tmp_path / "m", force=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left behind


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_small_recurrent_steps_run_on_one_thread_and_the_setting_comes_back(impl, monkeypatch):
    from textkit.lm import neural

    lm = _model("lstm", impl=impl).eval()
    seen = []
    forward = type(lm.encoder).forward
    monkeypatch.setattr(
        type(lm.encoder), "forward", lambda self, *a: seen.append(torch.get_num_threads()) or forward(self, *a)
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lm.score_lines(["the cat sat", "a dog"])  # one stream: 1 x 8 x 32 multiply-adds a step
        lm.generate("the", length=3, seed=0)
        assert set(seen) == {1} and torch.get_num_threads() == 2
        seen.clear()
        monkeypatch.setattr(neural, "SERIAL_STEP_MACS", 1)  # every product counts as large
        lm.score_lines(["the cat sat"])
        assert seen == [2]
        # an error inside the recurrence still restores the setting
        monkeypatch.setattr(neural, "SERIAL_STEP_MACS", 1 << 40)
        with pytest.raises(RuntimeError):
            lm(torch.zeros(3, 1, dtype=torch.long), (torch.zeros(5, 5, 5), torch.zeros(5, 5, 5)))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
