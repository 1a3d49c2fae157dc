"""textkit.zh_segment: jieba's precise mode restated; jieba itself is the oracle."""

from __future__ import annotations

import logging
import re

import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.corpora import read_corpus
from textkit.tokenize import get_tokenizer
from textkit.zh_segment import cut_precise

BLOCK = jieba.re_han_default  # the stretches jieba hands to its DAG cutter


@pytest.fixture(scope="module")
def seg():
    jieba.setLogLevel(logging.WARNING)
    s = jieba.Tokenizer()
    s.initialize()
    return s


def _jieba_blocks(seg, text, hmm):
    cutter = seg._Tokenizer__cut_DAG if hmm else seg._Tokenizer__cut_DAG_NO_HMM
    return [(part, list(cutter(part))) for part in BLOCK.split(text) if part and BLOCK.match(part)]


@pytest.mark.parametrize("hmm", [True, False])
def test_equals_jieba_on_the_chinese_sample(seg, hmm):
    blocks = 0
    for line in read_corpus("zh_sample"):
        for part, expected in _jieba_blocks(seg, line, hmm):
            assert cut_precise(seg, part, hmm) == expected, part
            blocks += 1
    assert blocks > 700


@pytest.mark.parametrize("hmm", [True, False])
def test_pure_chinese_equals_jieba_lcut(seg, hmm):
    for line in list(read_corpus("zh_sample"))[:150]:
        for run in re.findall(r"[\u4e00-\u9fd5]+", line):
            assert cut_precise(seg, run, hmm) == seg.lcut(run, HMM=hmm)


ALPHABET = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要出也得里后自以会家可下而过天去能对小"
    "多然于心学么之都好看起发当没成只如事把还用第样道想作种开美从无情己面最女但现前些所同日手又行意动方期"
    "它头经长儿回位分爱老因很给名法间知世什两次使身者被高已其进此话常与活正感恤超ABCKOTabz019"
    "-.%"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=40), st.booleans())
def test_random_blocks_equal_jieba(seg, text, hmm):
    for part, expected in _jieba_blocks(seg, text, hmm):
        assert cut_precise(seg, part, hmm) == expected


def test_user_words_are_honoured(seg):
    local = jieba.Tokenizer()
    local.initialize()
    local.add_word("云计算平台", 50)
    assert cut_precise(local, "我们的云计算平台", True) == list(local._Tokenizer__cut_DAG("我们的云计算平台"))
    assert "云计算平台" in cut_precise(local, "我们的云计算平台", True)


def test_search_mode_equals_jieba_on_pure_chinese():
    tok = get_tokenizer("zh", mode="search")
    for line in list(read_corpus("zh_sample"))[:150]:
        for run in re.findall(r"[\u4e00-\u9fd5]+", line):
            assert tok(run) == jieba.lcut_for_search(run)
