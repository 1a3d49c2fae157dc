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
    assert config["format"] == "textkit.lm" and config["kind"] == "rnn" and config["tied"] is True
    assert config["tokenizer"] == {"spec": "whitespace", "options": {"lowercase": False}}
    loaded = load_language_model(tmp_path / "m")
    assert isinstance(loaded, NeuralLM)
    assert loaded.decoder.weight is loaded.embedding.weight
    assert loaded.score_lines(LINES) == pytest.approx(lm.score_lines(LINES))


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
    weights = (tmp_path / "m" / "model.safetensors").read_bytes()
    (tmp_path / "m" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ModelFileError, match="safetensors"):
        NeuralLM.load(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(weights)
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
    (tmp_path / "small" / "model.safetensors").write_bytes((tmp_path / "big" / "model.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match="shape"):
        NeuralLM.load(tmp_path / "small")


def test_tied_needs_equal_sizes_and_init_schemes():
    with pytest.raises(UsageError, match="--embed-dim"):
        _model(tied=True, embed_dim=8, hidden_dim=16)
    for init in ("xavier", "kaiming"):
        lm = _model(init=init)
        assert torch.count_nonzero(lm.decoder.bias) == 0
        assert lm.embedding.weight.std() > 0
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
