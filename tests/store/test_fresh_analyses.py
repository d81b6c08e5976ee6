"""The rules pass reads the analyses just saved from memory: exactly what reading the rows gives."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from core.domain import Analysis, PIISpan, Post, Reason, Sentiment
from store.codec import analysis_as_stored, analysis_fields, analysis_from_fields, dumps, stored_fields
from store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

analyses = st.builds(
    Analysis,
    normalized=st.text(max_size=30),
    tokens=st.lists(st.text(min_size=1, max_size=4), max_size=5),
    sentiment=st.sampled_from(list(Sentiment)),
    polarity=st.floats(-1, 1),
    spam=st.floats(0, 1), rumour=st.floats(0, 1), grievance=st.floats(0, 1), abuse=st.floats(0, 1),
    topic=st.one_of(st.none(), st.sampled_from(["薪酬待遇", "食堂餐饮"])),
    keywords=st.lists(st.text(min_size=1, max_size=4), max_size=4),
    pii=st.lists(st.builds(PIISpan, kind=st.sampled_from(["phone", "id_card"]), start=st.integers(0, 20),
                           end=st.integers(21, 40)), max_size=2),
    reasons=st.lists(st.builds(Reason, score=st.sampled_from(["spam", "rumour"]), code=st.text(max_size=6),
                               text=st.text(max_size=20), weight=st.floats(-1, 1)), max_size=3),
    extra=st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                                                     st.text(max_size=5)), max_size=2),
    model_version=st.text(max_size=8),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(analyses, min_size=1, max_size=6), st.booleans())
def test_rules_get_the_same_analyses_from_memory_as_from_the_rows(tmp_path_factory, batch, edit):
    path = tmp_path_factory.mktemp("fresh") / "s.db"
    store = SqliteStore(path)
    store.migrate()
    store.ingest("t", [Post("qq", str(i), "u", f"第{i}条", T0 + timedelta(minutes=i)) for i in range(len(batch))], None)
    posts = store.posts_to_analyze(100)
    store.save_analyses(list(zip(posts, batch)))
    if edit:  # the post changes and is analysed again: the rules must see the newer analysis
        store.ingest("t", [Post("qq", "0", "u", "改过的第0条", T0)], None)
        again = store.posts_to_analyze(100)
        store.save_analyses([(again[0], Analysis(normalized="新", tokens=[], sentiment=Sentiment.NEG,
                                                 polarity=-0.9, spam=0.0, rumour=0.7, model_version="v2"))])
    other = SqliteStore(path)  # another process: nothing in memory, everything from the rows
    from_rows = other.posts_for_rules(100)
    from_memory = store.posts_for_rules(100)
    assert [(p, a) for p, a in from_memory] == [(p, a) for p, a in from_rows]
    read = {id(p) for p in posts} | ({id(again[0])} if edit else set())
    assert all(id(p) in read for p, _ in from_memory)  # the very posts read for analysis: not read again
    assert not store._fresh  # taken once
    other.close()
    store.close()


def _one_saved(tmp_path) -> tuple[SqliteStore, Post]:
    """A store holding one post whose analysis this store object just saved (kept in memory)."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    store.ingest("t", [Post("qq", "1", "u", "电话 13800138000", T0)], None)
    p = store.posts_to_analyze(10)[0]
    store.save_analyses([(p, Analysis(normalized="电话 13800138000", tokens=[], sentiment=Sentiment.NEU,
                                      polarity=0.0, spam=0.1, rumour=0.1, model_version="v1"))])
    return store, p


def test_an_analysis_changed_after_the_save_is_read_from_its_row(tmp_path):
    store, p = _one_saved(tmp_path)
    writer = SqliteStore(tmp_path / "s.db")  # e.g. another instance re-analysed it
    writer.save_analyses([(p, Analysis(normalized="重新分析", tokens=[], sentiment=Sentiment.POS, polarity=0.5,
                                       spam=0.0, rumour=0.0, model_version="v2"))])
    [(_, a)] = store.posts_for_rules(10)
    assert a.normalized == "重新分析" and a.model_version == "v2"
    writer.close()
    store.close()


def test_a_post_redacted_after_the_save_is_read_from_its_row(tmp_path):
    store, _ = _one_saved(tmp_path)
    other = SqliteStore(tmp_path / "s.db")  # another process redacts the post (same version)
    with other._tx() as c:
        c.execute("UPDATE posts SET text = '电话 138****8000', redacted_at = '2026-03-03T00:00:00.000000+00:00'")
    [(post, _)] = store.posts_for_rules(10)
    assert post.text == "电话 138****8000"
    other.close()
    store.close()


def test_posts_not_read_for_analysis_by_this_store_are_read_from_their_rows(tmp_path):
    """A caller's own post object (not the one posts_to_analyze returned) is never taken for the row."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    mine = Post("qq", "1", "u", "原文", T0.astimezone(timezone(timedelta(hours=8))))
    store.ingest("t", [mine], None)
    store.save_analyses([(mine, Analysis(normalized="原文", tokens=[], sentiment=Sentiment.NEU, polarity=0.0,
                                         spam=0.0, rumour=0.0, model_version="v1"))])
    [(post, _)] = store.posts_for_rules(10)
    assert post is not mine and post.created_at.utcoffset() == timedelta(0)
    store.close()


@settings(max_examples=200, deadline=None)
@given(analyses)
def test_stored_fields_are_the_analysis_fields_as_json(a):
    f = analysis_fields(a)
    assert stored_fields(a) == (
        f["normalized"], f["sentiment"], f["polarity"], f["spam"], f["rumour"], f["grievance"], f["abuse"],
        f["topic"], dumps(f["keywords"]), dumps(f["pii"]), dumps(f["reasons"]), dumps(f["extra"]),
        f["debunk_id"], f["model_version"])
    assert analysis_as_stored(a, 3) == analysis_from_fields({**f, "version": 3})

