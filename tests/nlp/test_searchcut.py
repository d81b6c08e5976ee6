"""The batched search-index cut gives jieba's tokens exactly: `search_tokens_many(texts)` equals
`[search_tokens(t) for t in texts]` on the demo sample, the union's seed sets and random texts that
mix Chinese with letters, digits, jieba's joiners (`+#&._%-`), punctuation, full-width forms,
Traditional characters, rare CJK, emoji, masked personal data and long runs. The store's index and
search results are therefore the same as before, which the store tests check end to end."""
from __future__ import annotations

import csv
import io
import json

from hypothesis import given, settings, strategies as st

from collectors.demo_data.generate import DEFAULT_OUT
from nlp import data as D
from nlp.tokenizer import search_tokens, search_tokens_many

COMMON = "的一是了不在人有我他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家十用发天如然作方成者多日都三小于还学工资绩效改革职称评审食堂停车住房补贴教师领导工会听说内部消息据说转发"
TRAD = "學術會議績效職稱評審後勤醫療費補貼"
RARE = "\u3400\u3401\u4db5\u9fd6\u9fea\u9fff\uf900\ufa0e"
OTHER = "abcXYZ0123456789+#&._%-@ ，。！？、：；“”（）【】…—～ \n\t　ＡＢ１２💔😂\u200b\ufeff"
alphabet = st.sampled_from(list(COMMON + TRAD + RARE + OTHER))
texts = st.lists(st.text(alphabet, max_size=80) | st.sampled_from(
    ["手机13812345678，身份证110101199003071234", "张老师说食堂的包子皮薄馅大", "中华人民共和国教育部",
     "哈" * 200, "加薇信 ｙｌａｕ８７３２９ 兼职刷单", "138****5678 的老师", "[已隐去] 请联系 [手机号]"]),
    min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_the_batched_cut_is_jiebas_cut_on_random_texts(batch):
    assert search_tokens_many(batch) == [search_tokens(t) for t in batch]


def test_the_batched_cut_is_jiebas_cut_on_the_demo_sample_and_the_seed_sets():
    corpus = [json.loads(line)["text"] for line in DEFAULT_OUT.read_text(encoding="utf-8").splitlines()[1:]]
    for path in sorted(D.SEED_DIR.glob("*.csv")):
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
        corpus += [r["text"] for r in rows if r.get("text")]
    assert len(corpus) > 5000
    for i in range(0, len(corpus), 500):
        chunk = corpus[i : i + 500]
        assert search_tokens_many(chunk) == [search_tokens(t) for t in chunk], i


def test_an_empty_batch_and_empty_texts():
    assert search_tokens_many([]) == []
    assert search_tokens_many(["", " ", "。"]) == [[], [], []]
