"""textkit.tokenize: en / zh / char / whitespace / spm tokenizers, pickling, workers, spm training."""

from __future__ import annotations

import pickle

import pytest

from textkit.corpora import read_corpus
from textkit.errors import InputFileError, ModelFileError, UsageError
from textkit.tokenize import (
    CharTokenizer,
    ChineseTokenizer,
    EnglishTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    WhitespaceTokenizer,
    get_tokenizer,
    read_user_dict,
    train_sentencepiece,
)


# ---- English ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,tokens",
    [
        ("Don't panic: it's 3.14!", ["don't", "panic", ":", "it's", "3.14", "!"]),
        ("State-of-the-art results, isn't it?", ["state-of-the-art", "results", ",", "isn't", "it", "?"]),
        (
            "It costs $1,299.99 (plus 20% tax).",
            ["it", "costs", "$", "1,299.99", "(", "plus", "20", "%", "tax", ")", "."],
        ),
        ("COVID-19 arrived in 2020.", ["covid-19", "arrived", "in", "2020", "."]),
        ("rock 'n' roll", ["rock", "'", "n", "'", "roll"]),
        ("Moore’s law", ["moore’s", "law"]),
        ("trailing- hyphen and -leading", ["trailing", "-", "hyphen", "and", "-", "leading"]),
        ("a--b", ["a", "-", "-", "b"]),
        ("Grüße aus Köln", ["grüße", "aus", "köln"]),
        ("   ", []),
        ("", []),
    ],
)
def test_english_cases(text, tokens):
    assert get_tokenizer("en")(text) == tokens


def test_english_lowercase_switch():
    assert EnglishTokenizer(lowercase=False).tokenize("Hello World") == ["Hello", "World"]
    assert get_tokenizer("en", lowercase=False)("Hello") == ["Hello"]
    assert get_tokenizer("en")("Hello") == ["hello"]


def test_english_tokens_are_substrings_in_order():
    tok = EnglishTokenizer(lowercase=False)
    for line in read_corpus("en_sample"):
        pos = 0
        for t in tok(line):
            pos = line.index(t, pos) + len(t)
        assert "".join(tok(line)) == "".join(line.split())  # nothing but whitespace is dropped


# ---- Chinese ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zh():
    return get_tokenizer("zh")


def test_zh_precise(zh):
    assert zh("我来到北京清华大学") == ["我", "来到", "北京", "清华大学"]


def test_zh_full_and_search_modes():
    full = get_tokenizer("zh", mode="full")("我来到北京清华大学")
    assert {"清华", "清华大学", "华大", "大学"} <= set(full)
    search = get_tokenizer("zh", mode="search")("小明硕士毕业于中国科学院计算所")
    assert {"中国", "科学", "学院", "科学院", "中国科学院"} <= set(search)
    precise = get_tokenizer("zh")("小明硕士毕业于中国科学院计算所")
    assert len(search) > len(precise)


def test_zh_modes_match_jieba_on_pure_chinese():
    import jieba

    text = "他来到了网易杭研大厦"
    assert get_tokenizer("zh")(text) == jieba.lcut(text)
    assert get_tokenizer("zh", hmm=False)(text) == jieba.lcut(text, HMM=False)
    assert get_tokenizer("zh", mode="search")(text) == jieba.lcut_for_search(text)
    assert get_tokenizer("zh", mode="full")(text) == jieba.lcut(text, cut_all=True)


def test_zh_hmm_on_and_off():
    text = "他来到了网易杭研大厦"
    with_hmm = get_tokenizer("zh", hmm=True)(text)
    without = get_tokenizer("zh", hmm=False)(text)
    assert "杭研" in with_hmm  # a new word only the HMM finds
    assert "杭研" not in without and "杭" in without and "研" in without


def test_zh_keeps_english_words_and_numbers_whole(zh):
    tokens = zh("我在北京使用iPhone 15，花了1,299.99元，COVID-19以后很少出门。")
    for whole in ("iPhone", "15", "1,299.99", "COVID-19", "北京"):
        assert whole in tokens
    assert " " not in tokens and "" not in tokens
    assert zh("Wi-Fi密码是abc123") == ["Wi-Fi", "密码", "是", "abc123"]
    assert zh("今天是2023年10月1日")[:3] == ["今天", "是", "2023"]


def test_zh_mixed_script_dictionary_words_survive(zh):
    assert "T恤" in zh("我买了一件T恤")
    assert "B超" in zh("去医院做B超")


def test_zh_lowercase_option():
    tokens = get_tokenizer("zh", lowercase=True)("我用iPhone和T恤")
    assert "iphone" in tokens and "t恤" in tokens and "iPhone" not in tokens
    assert "iPhone" in get_tokenizer("zh")("我用iPhone")


def test_zh_tokens_cover_the_text(zh):
    for line in list(read_corpus("zh_sample"))[:120]:
        assert "".join(zh(line)) == "".join(line.split())


def test_zh_decode_joins(zh):
    assert zh.decode(zh("我爱北京天安门")) == "我爱北京天安门"


def test_zh_bad_mode():
    with pytest.raises(UsageError, match="jieba mode"):
        get_tokenizer("zh", mode="fast")


def test_jieba_is_lazy_quiet_and_loaded_once_per_process(capfd):
    tok = ChineseTokenizer()
    assert tok._jieba is None  # nothing loaded until the first text
    tok("结巴分词")
    assert tok._jieba is not None
    assert "Building prefix dict" not in capfd.readouterr().err
    other = ChineseTokenizer(mode="search", hmm=False)
    other("结巴分词")
    assert other._jieba is tok._jieba  # same dictionary: options are per call, not per dictionary


# ---- user dictionary ----------------------------------------------------------------------------
def test_user_dict_changes_segmentation(tmp_path):
    text = "我们在杭研大厦讨论云计算平台"
    assert "云计算平台" not in get_tokenizer("zh")(text)
    path = tmp_path / "user.dict"
    path.write_text("云计算平台 20 n\n杭研大厦\n", encoding="utf-8")
    tokens = get_tokenizer("zh", user_dict=path)(text)
    assert "云计算平台" in tokens and "杭研大厦" in tokens


def test_user_dict_with_bom_crlf_and_mixed_script(tmp_path):
    path = tmp_path / "win.dict"
    path.write_bytes("\ufeff云计算平台 5 n\r\niPhone手机 10\r\n\r\n".encode("utf-8"))
    assert read_user_dict(path) == [("云计算平台", 5, "n"), ("iPhone手机", 10, None)]
    tokens = get_tokenizer("zh", user_dict=path)("他的iPhone手机连上了云计算平台")
    assert "云计算平台" in tokens and "iPhone手机" in tokens


@pytest.mark.parametrize(
    "content,line",
    [
        ("好词 3 n\n一 二 三 四\n", 2),
        ("好词 3\n坏词 1.5\n", 2),
        ("a\nb\n坏词 -3 n\n", 3),
        ("坏词 n 3\n", 1),
    ],
)
def test_user_dict_malformed_line_is_rejected_with_its_number(tmp_path, content, line):
    path = tmp_path / "bad.dict"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError, match=f"line {line}"):
        get_tokenizer("zh", user_dict=path)


def test_user_dict_missing_or_not_utf8(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        get_tokenizer("zh", user_dict=tmp_path / "none.dict")
    path = tmp_path / "gbk.dict"
    path.write_bytes("云计算\n".encode("gbk"))
    with pytest.raises(InputFileError, match="line 1 is not valid UTF-8"):
        get_tokenizer("zh", user_dict=path)


# ---- char and whitespace ------------------------------------------------------------------------
def test_char_tokenizer():
    tok = CharTokenizer()
    assert tok("ab  c\t d") == ["a", "b", "▁", "c", "▁", "d"]
    assert tok.decode(tok("  hello   world ")) == "hello world"
    assert tok("中文") == ["中", "文"]
    assert CharTokenizer(lowercase=True)("AB") == ["a", "b"]
    assert CharTokenizer(space_token="_")("a b") == ["a", "_", "b"]


def test_whitespace_tokenizer():
    assert WhitespaceTokenizer()("  Hello,  world!\t\n") == ["Hello,", "world!"]
    assert get_tokenizer("whitespace", lowercase=True)("A B") == ["a", "b"]


# ---- pickling and worker processes --------------------------------------------------------------
@pytest.mark.parametrize("spec", ["en", "zh", "char", "whitespace"])
def test_tokenizers_pickle(spec):
    tok = get_tokenizer(spec)
    text = "我在北京用iPhone 15。Hello, world!"
    expected = tok(text)  # after use, so lazily loaded state exists and must not be pickled
    clone = pickle.loads(pickle.dumps(tok))
    assert type(clone) is type(tok) and clone(text) == expected


def test_zh_pickle_drops_jieba_but_keeps_user_dict(tmp_path):
    path = tmp_path / "u.dict"
    path.write_text("云计算平台 20\n", encoding="utf-8")
    tok = get_tokenizer("zh", mode="search", hmm=False, user_dict=path)
    tok("预热")
    data = pickle.dumps(tok)
    assert len(data) < 10_000  # jieba's dictionary (megabytes) is not in the pickle
    clone = pickle.loads(data)
    assert (clone.mode, clone.hmm) == ("search", False)
    path.unlink()  # the clone needs the parsed entries, not the file
    assert "云计算平台" in clone("我们的云计算平台")


@pytest.mark.parametrize("spec", ["en", "zh"])
def test_tokenize_lines_two_workers_equal_one(spec):
    lines = list(read_corpus("zh_sample" if spec == "zh" else "en_sample"))
    tok = get_tokenizer(spec)
    one = list(tok.tokenize_lines(lines))
    two = list(tok.tokenize_lines(iter(lines), workers=2, chunk_size=37))
    assert two == one and len(one) == len(lines)


def test_tokenize_lines_is_lazy_with_workers():
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield "我爱北京天安门"

    token_lists = get_tokenizer("zh").tokenize_lines(endless(), workers=2, chunk_size=50)
    first = [next(token_lists) for _ in range(120)]
    token_lists.close()
    assert first[0] == ["我", "爱", "北京", "天安门"]
    # bounded: the chunks yielded so far plus at most two per worker in flight, never the whole input
    assert pulled <= (3 + 2 * 2) * 50


def test_tokenize_lines_errors_propagate_from_input():
    def lines():
        yield "fine"
        raise InputFileError("x.txt: line 2 is not valid UTF-8")

    with pytest.raises(InputFileError, match="line 2"):
        list(get_tokenizer("en").tokenize_lines(lines(), workers=2, chunk_size=1))


def test_tokenize_lines_rejects_bad_worker_count():
    with pytest.raises(UsageError, match="workers"):
        list(get_tokenizer("en").tokenize_lines(["a"], workers=0))


def test_custom_tokenizer_subclass_works_with_workers():
    class Reverse(Tokenizer):
        spec = "reverse"

        def tokenize(self, text):
            return text.split()[::-1]

    assert list(Reverse().tokenize_lines(["a b", "c d"], workers=2, chunk_size=1)) == [["b", "a"], ["d", "c"]]


# ---- sentencepiece ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spm_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("spm")
    from textkit.corpora import resolve_corpus

    bpe = train_sentencepiece(resolve_corpus("en_sample"), out / "bpe", vocab_size=300, model_type="bpe")
    unigram = train_sentencepiece(read_corpus("en_sample"), out / "uni", vocab_size=300, model_type="unigram")
    return {"bpe": bpe, "unigram": unigram}


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_spm_train_and_round_trip(spm_models, kind):
    model = spm_models[kind]
    assert model.exists() and model.with_suffix(".vocab").exists()
    vocab_lines = model.with_suffix(".vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab_lines) == 300
    tok = get_tokenizer(f"spm:{model}")
    for line in list(read_corpus("en_sample"))[:50] + ["Unseen words: zyxwv, 42."]:
        pieces = tok(line)
        assert tok.decode(pieces) == " ".join(line.split())
        assert tok.decode_ids(tok.encode_ids(line)) == " ".join(line.split())
    assert len(tok("the morning train")) < len("the morning train")  # subwords, not characters
    assert "⁇" in tok.decode_ids(tok.encode_ids("a ☃ b"))  # a character never seen in training is <unk>


def test_spm_model_type_is_what_was_asked(spm_models):
    # BPE scores pieces by merge rank (0, -1, -2, ...); unigram by log-probabilities (fractions)
    def scores(path):
        return [
            float(line.split("\t")[1]) for line in path.with_suffix(".vocab").read_text(encoding="utf-8").splitlines()
        ]

    bpe, unigram = scores(spm_models["bpe"]), scores(spm_models["unigram"])
    assert all(s == int(s) for s in bpe) and len(set(bpe)) > 100
    assert sum(s != int(s) for s in unigram) > 100


def test_spm_tokenizer_pickles_and_works_in_workers(spm_models):
    tok = get_tokenizer(f"spm:{spm_models['bpe']}")
    lines = list(read_corpus("en_sample"))[:100]
    expected = [tok(line) for line in lines]
    assert pickle.loads(pickle.dumps(tok))(lines[0]) == expected[0]
    assert list(tok.tokenize_lines(lines, workers=2, chunk_size=10)) == expected


def test_spm_training_from_iterator_matches_file(spm_models, tmp_path):
    model = train_sentencepiece(iter(read_corpus("en_sample")), tmp_path / "again", vocab_size=300, model_type="bpe")
    assert model.read_bytes() == spm_models["bpe"].read_bytes()


def test_spm_training_errors(tmp_path):
    with pytest.raises(UsageError, match="model type"):
        train_sentencepiece(["a b"], tmp_path / "m", model_type="wordpiece")
    with pytest.raises(UsageError, match="vocab size"):
        train_sentencepiece(["a b"], tmp_path / "m", vocab_size=1)
    with pytest.raises(InputFileError, match="no text"):
        train_sentencepiece(["", "   "], tmp_path / "m")
    with pytest.raises(UsageError, match="sentencepiece training failed"):
        train_sentencepiece(["just a few words here"], tmp_path / "m", vocab_size=5000)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_spm_bad_model_files(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        get_tokenizer(f"spm:{tmp_path / 'missing.model'}")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelFileError, match="not a sentencepiece model"):
        SentencePieceTokenizer(junk)


# ---- get_tokenizer ------------------------------------------------------------------------------
def test_get_tokenizer_specs_and_errors():
    assert isinstance(get_tokenizer("en"), EnglishTokenizer)
    assert isinstance(get_tokenizer("zh"), ChineseTokenizer)
    assert isinstance(get_tokenizer("char"), CharTokenizer)
    assert isinstance(get_tokenizer("whitespace"), WhitespaceTokenizer)
    tok = EnglishTokenizer()
    assert get_tokenizer(tok) is tok
    with pytest.raises(UsageError, match="unknown tokenizer 'klingon'"):
        get_tokenizer("klingon")
    with pytest.raises(UsageError, match="needs a model path"):
        get_tokenizer("spm:")
    with pytest.raises(UsageError, match="bad option"):
        get_tokenizer("en", mode="search")
    with pytest.raises(UsageError, match="must be a string"):
        get_tokenizer(3)


def test_call_equals_tokenize_and_repr():
    tok = get_tokenizer("en")
    assert tok("A b") == tok.tokenize("A b")
    assert repr(tok) == "EnglishTokenizer('en')"


def test_spm_training_input_error_surfaces_as_itself(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(("a sentence with some words in it\n" * 50).encode() + b"caf\xe9\n")
    with pytest.raises(InputFileError, match="line 51 is not valid UTF-8"):
        train_sentencepiece(bad, tmp_path / "m", vocab_size=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]


def test_tokenizers_work_in_dataloader_workers():
    torch = pytest.importorskip("torch")

    class Lines(torch.utils.data.Dataset):
        def __init__(self, lines, tok):
            self.lines, self.tok = lines, tok

        def __len__(self):
            return len(self.lines)

        def __getitem__(self, i):
            return self.tok(self.lines[i])

    lines = list(read_corpus("zh_sample"))[:40]
    tok = get_tokenizer("zh", mode="search")
    loader = torch.utils.data.DataLoader(Lines(lines, tok), batch_size=8, num_workers=2, collate_fn=list)
    assert [t for batch in loader for t in batch] == [tok(line) for line in lines]


def _covers(tokens, text):
    return "".join(tokens) == "".join(text.split())


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_MIXED = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("我来到北京清华大学恤超卡拉的人们，。！“”、")),
        st.sampled_from(list("abcXYZ019 -.,'%_#&+\t\n")),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_MIXED, st.sampled_from(["precise", "search"]), st.booleans())
def test_zh_never_loses_or_invents_text(text, mode, hmm):
    tokens = get_tokenizer("zh", mode=mode, hmm=hmm)(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    if mode == "precise":
        assert _covers(tokens, text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_en_never_loses_or_invents_text(text):
    tokens = EnglishTokenizer(lowercase=False)(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert _covers(tokens, text)


def test_zh_rare_ideographs_outside_jiebas_range(zh):
    # U+3400 (extension A) and U+9FEF are Chinese characters that jieba's blocks do not include
    assert zh("，\u3400 \u9fef。") == ["，", "\u3400", "\u9fef", "。"]
    assert zh("ab \u3400cd") == ["ab", "\u3400", "cd"]
