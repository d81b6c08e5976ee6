"""What only the search-cluster stores have to show (the contract tests they share with SQLite are
in test_sqlite.py, marked @CONTRACT): exactly once under concurrent writers, documents the cluster
refuses or rejects for a while, the tokens searched, the methods not ported yet, and a node killed
in the middle of ingestion."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from core.config import load_settings
from core.domain import Analysis, Post, Sentiment
from core.errors import ConfigError
from store import open_store
from store.base import Store
from store.search import ElasticsearchStore, NotPortedError, OpenSearchStore, SearchStore
from store.search.client import Connection, OpenSearchClient
from tests.store.conftest import SEARCH

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)

# what store/search implements so far; everything else must say it is not ported
# what each area of store/search implements (one entry per area module)
PORTED_BY_AREA: dict[str, set[str]] = {
    "store": {"migrate", "close", "ingest", "checkpoint", "dead_letters", "get_post", "find_post", "posts_by_ids",
              "analyses_by_ids", "post_versions", "search", "posts_to_analyze", "save_analyses", "get_analysis",
              "quarantine_failure", "quarantined", "counts", "push_inbound", "inbound", "prune_inbound",
              "commit_rule_results"},  # each part in its area (see SearchStore's docstring)

    "leases": {"take_lease", "release_lease", "lease"},

    "audit": {"audit", "audit_log", "audit_page"},

    "privacy": {"redact_personal_data", "redact_dead_letters", "purge_posts", "purge_dead_letters", "purge_leftovers",
                "erase_author", "backup"},

    "alerts": {"last_alert_at", "get_case", "cases", "cases_assigned", "assign_case", "set_case_state",
               "add_case_response", "case_responses", "case_alerts", "case_post_times", "cases_to_subside",
               "cases_opened", "alerts", "get_alert", "alerts_notified", "alerts_to_escalate", "claim_alert",
               "acknowledge_alert", "alerts_page", "add_deliveries", "deliveries", "due_deliveries", "delivery_sent",
               "delivery_failed", "postpone_delivery", "digest_deliveries", "last_digest_at", "failing_notifiers"},

    "review": {"posts_for_rules", "recent_analyzed", "author_history", "author_posts", "queue_count", "queue_item",
               "queue_items", "queue_rules", "review_page", "review_queue", "rule_outcomes", "decide", "decisions",
               "decisions_page", "request_removal", "removal_requests", "flag_times", "moderation_times",
               "queue_writeback", "due_writebacks", "writeback_done", "writeback_failed", "writebacks_for"},

    "people": {"add_user", "get_user", "users", "update_user", "set_password", "update_profile", "save_debunk",
               "debunks", "get_debunk", "save_filter", "saved_filters", "delete_filter", "create_session",
               "get_session", "touch_session", "revoke_session", "revoke_user_sessions", "release_quarantine",
               "add_api_token", "api_token", "api_tokens", "revoke_api_token", "touch_api_token", "posts_page",
               "enqueue_report_mails", "report_mails_exist", "report_mails", "due_report_mails", "report_mail_done",
               "report_mail_failed"},

    "stats": {"channel_counts", "sentiment_series", "topic_counts", "grievance_leads", "grievance_topics", "lead_states",
              "set_lead_state", "daily_counts", "drill_posts", "rollup_channels", "top_words", "period_stats",
              "metrics_snapshot"},  # their alerts and cases through the alerts area's hooks
}
PORTED = set().union(*PORTED_BY_AREA.values())


def post(sid: str, text: str, minutes: int = 0, channel: str = "weibo", **kw) -> Post:
    return Post(channel=channel, source_id=sid, author="u1", text=text, created_at=T0 + timedelta(minutes=minutes), **kw)


def analysis(tokens: list[str]) -> Analysis:
    return Analysis(normalized="x", tokens=tokens, sentiment=Sentiment.NEU, polarity=0.0, spam=0.0, rumour=0.0)


def test_methods_not_ported_yet_say_so_by_name() -> None:
    s = OpenSearchStore(OpenSearchClient(Connection(hosts=("http://127.0.0.1:9",))))  # never contacted
    missing = sorted(Store.__abstractmethods__ - PORTED)
    assert len(missing) + len(PORTED) == len(Store.__abstractmethods__)
    for name in missing:
        with pytest.raises(NotPortedError) as err:
            _call_anyhow(getattr(s, name))
        assert name in str(err.value) and "sqlite" in str(err.value) and err.value.method == name
    from store.search.store import _NotPorted

    for name in PORTED:  # implemented by the store or one of its mixins, not the not-ported stand-in
        assert getattr(SearchStore, name) is not getattr(_NotPorted, name, None), name


def _call_anyhow(method):
    """Call with placeholders: a not-ported method raises before looking at its arguments."""
    import inspect

    params = [p for p in inspect.signature(method).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return method(*([None] * len(params)))


def test_credentials_come_from_the_named_environment_variables(monkeypatch) -> None:
    monkeypatch.delenv("SENTINEL_TEST_STORE_USER", raising=False)
    with pytest.raises(ConfigError) as err:
        Connection.from_settings({"hosts": ["http://h:9200"], "username_env": "SENTINEL_TEST_STORE_USER",
                                  "password_env": "SENTINEL_TEST_STORE_PASSWORD"}, "sentinel.yaml")
    assert err.value.where == "store.username_env" and "SENTINEL_TEST_STORE_USER" in err.value.problem
    monkeypatch.setenv("SENTINEL_TEST_STORE_USER", "sentinel")
    monkeypatch.setenv("SENTINEL_TEST_STORE_PASSWORD", "s3cret")
    conn = Connection.from_settings({"hosts": ["http://h:9200"], "username_env": "SENTINEL_TEST_STORE_USER",
                                     "password_env": "SENTINEL_TEST_STORE_PASSWORD", "index_prefix": "yq"}, "x")
    assert (conn.username, conn.password, conn.index_prefix) == ("sentinel", "s3cret", "yq")


@pytest.mark.parametrize("engine", [pytest.param("opensearch", marks=pytest.mark.opensearch),
                                    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def test_open_store_opens_the_configured_cluster(request, tmp_path, engine) -> None:
    cluster = request.getfixturevalue(f"{engine}_cluster")
    cfg = tmp_path / "sentinel.yaml"
    hosts = ", ".join(f"'{h}'" for h in cluster.hosts)
    cfg.write_text(f"store:\n  backend: {engine}\n  hosts: [{hosts}]\n  index_prefix: open{engine[:2]}\n",
                   encoding="utf-8")
    settings = load_settings(cfg, env={})
    s = open_store(settings)
    try:
        assert isinstance(s, {"opensearch": OpenSearchStore, "elasticsearch": ElasticsearchStore}[engine])
        assert s.migrate() == []  # open_store migrated; doing it again changes nothing
        s.ingest("inbox", [post("1", "食堂今天的红烧肉不错")], checkpoint="c1")
        again = open_store(settings)
        assert again.find_post("weibo", "1").text == "食堂今天的红烧肉不错" and again.checkpoint("inbox") == "c1"
        again.close()
    finally:
        s.client.delete_everything(f"open{engine[:2]}")
        s.close()


@SEARCH
def test_the_same_posts_from_concurrent_writers_are_stored_once(store) -> None:
    posts = [post(str(i), f"评论 {i}", i) for i in range(60)]
    results = []

    def writer(n: int) -> None:
        results.append(store.ingest(f"c{n}", [Post(**{**p.__dict__, "id": None}) for p in posts], checkpoint=str(n)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.new for r in results) == 60  # each post created by exactly one writer
    assert all(r.new + r.unchanged == 60 for r in results)
    assert store.counts()["posts"] == 60
    ids = {store.find_post("weibo", str(i)).id for i in range(60)}
    assert len(ids) == 60


@SEARCH
def test_a_document_the_cluster_refuses_becomes_a_dead_letter_and_its_key_is_free(store) -> None:
    too_long = "长" * 12_000  # a keyword term of 36,000 bytes: Lucene refuses it (the limit is 32,766)
    result = store.ingest("inbox", [post("1", "正常"), post("2", "线程名太长", thread=too_long)], checkpoint="cp")
    assert (result.new, result.dead) == (1, 1)
    [letter] = store.dead_letters()
    assert "数据库拒绝" in letter.error and '"source_id": "2"' in letter.raw
    assert store.find_post("weibo", "2") is None and store.checkpoint("inbox") == "cp"
    again = store.ingest("inbox", [post("2", "线程名正常了", thread="t")], None)
    assert again.new == 1 and store.find_post("weibo", "2").text == "线程名正常了"


@SEARCH
@pytest.mark.parametrize("rejected", ["keys", "posts"])
def test_documents_rejected_for_a_while_are_sent_again(store, monkeypatch, rejected) -> None:
    """The cluster stored the document but answered 429 (as a busy node may, or an answer lost on the
    way): the store sends it again, sees its own write, and neither waits nor stores it twice."""
    real = store.client.bulk
    calls = []

    def overloaded_once(operations, refresh=False):
        response = real(operations, refresh)
        calls.append(len(operations))
        if len(calls) == {"keys": 1, "posts": 2}[rejected]:
            first = next(iter(response["items"][0]))
            store.client.bulk = real
            response["items"][0][first] = {"status": 429, "error": {"type": "es_rejected_execution_exception"}}
        return response

    monkeypatch.setattr(store.client, "bulk", overloaded_once)
    started = time.monotonic()
    result = store.ingest("inbox", [post("1", "第一条"), post("2", "第二条")], None)
    assert len(calls) == {"keys": 1, "posts": 2}[rejected]  # the 429 was given
    assert result.new == 2 and time.monotonic() - started < 10
    assert {p.text for p in store.posts_by_ids([store.find_post("weibo", s).id for s in ("1", "2")]).values()} == {
        "第一条", "第二条"}
    assert store.counts()["posts"] == 2


@SEARCH
def test_search_is_over_the_analysis_tokens_not_the_text_again(store) -> None:
    store.ingest("inbox", [post("1", "今天天气很好")], None)
    [p] = store.posts_to_analyze(10)
    store.save_analyses([(p, analysis(["工会", "福利"]))])
    assert [x.source_id for x in store.search("福利")] == ["1"]
    assert store.search("天气") == []  # the text is not segmented again: the NLP step's tokens are indexed
    assert store.get_analysis(p.id).tokens == ["工会", "福利"]


@SEARCH
def test_a_compound_token_is_found_by_its_sub_words_as_in_sqlite(store) -> None:
    # the NLP step cuts with the union dictionary: "工会会员" and "绩效工资" stay whole
    store.ingest("inbox", [post("1", "工会会员福利发放太慢了"), post("2", "绩效工资改革方案什么时候公布", 1)], None)
    p1, p2 = store.posts_to_analyze(10)
    store.save_analyses([(p1, analysis(["工会会员", "福利", "发放", "太慢", "了"])),
                         (p2, analysis(["绩效工资", "改革方案", "什么", "时候", "公布"]))])
    assert [x.source_id for x in store.search("工会")] == ["1"]
    assert [x.source_id for x in store.search("会员福利")] == ["1"]
    assert [x.source_id for x in store.search("绩效工资")] == ["2"]
    assert [x.source_id for x in store.search("改革")] == ["2"]
    assert store.search("工会 改革") == []  # every term of the query
    assert store.get_analysis(p1.id).tokens == ["工会会员", "福利", "发放", "太慢", "了"]


@SEARCH
def test_an_edit_after_analysis_needs_analysis_again_and_keeps_the_old_analysis(store) -> None:
    store.ingest("inbox", [post("1", "停车位太少了")], None)
    [v1] = store.posts_to_analyze(10)
    store.ingest("inbox", [post("1", "停车位太少了，希望增加")], None)
    store.save_analyses([(v1, analysis(["停车位"]))])  # the analysis of version 1 lands after the edit
    [v2] = store.posts_to_analyze(10)
    assert (v2.version, v2.text) == (2, "停车位太少了，希望增加")
    assert store.get_analysis(v1.id).post_version == 1
    store.save_analyses([(v2, analysis(["停车位", "增加"]))])
    assert store.posts_to_analyze(10) == [] and store.counts()["analyzed"] == 1


@SEARCH
def test_quarantined_versions_are_left_out_of_the_analysis_queue(store) -> None:
    store.ingest("inbox", [post("1", "一"), post("2", "二", 1)], None)
    bad = store.find_post("weibo", "1")
    for n in range(1, 4):
        assert store.quarantine_failure("analyze", bad.id, bad.version, "模型出错", T0) == n
    assert [p.source_id for p in store.posts_to_analyze(10, skip_after=3)] == ["2"]
    assert [p.source_id for p in store.posts_to_analyze(10)] == ["1", "2"]
    [q] = store.quarantined("analyze")
    assert (q.post_id, q.attempts, q.error) == (bad.id, 3, "模型出错")


@SEARCH
def test_killing_a_node_during_ingestion_loses_and_duplicates_nothing(store, request) -> None:
    engine = request.node.callspec.params["store"]
    cluster = request.getfixturevalue(f"{engine}_cluster")
    batches, size = 24, 50
    done: list[int] = []
    errors: list[BaseException] = []

    def batch(b: int) -> list[Post]:
        return [post(f"{b}-{i}", f"批次 {b} 评论 {i}", b) for i in range(size)]

    # the first batch makes the month's index; its replicas must be up before a node may die
    store.ingest("load", batch(0), checkpoint="0")
    done.append(0)
    cluster.wait_for(nodes=3, status="green", timeout=120)

    def collector() -> None:
        try:
            for b in range(1, batches):
                store.ingest("load", batch(b), checkpoint=str(b))
                done.append(b)
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=collector, daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while len(done) < 4 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 4 <= len(done) < batches, "the kill must land during ingestion"
    victim = cluster.kill(2)
    worker.join(timeout=300)
    try:
        assert not worker.is_alive() and errors == [], errors
        assert store.checkpoint("load") == str(batches - 1)
        assert store.counts()["posts"] == batches * size
        # every post once: the same posts sent again are all unchanged
        again = store.ingest("load", [p for b in range(batches) for p in batch(b)], None)
        assert (again.new, again.unchanged) == (0, batches * size)
    finally:
        cluster.restart(2)
        cluster.wait_for(nodes=3, status="green", timeout=180)
    assert victim.alive


# ---- a write cut short by a crash is finished by the next ingestion of the same batch -------------
# (the states below are exactly what a process killed between two of ingest's writes leaves behind)

@SEARCH
def test_a_key_whose_post_was_never_written_gets_its_post(store) -> None:
    from store.search import bodies

    store.ingest("inbox", [post("1", "食堂太贵")], None)
    lost = store.find_post("weibo", "1")
    store.client.bulk([{"delete": {"_index": store.names.posts_for(lost.created_at), "_id": str(lost.id)}}],
                      refresh=True)
    assert store.find_post("weibo", "1") is None
    # while the key is young, the post may be another writer's in flight: the ingest waits for it
    started = time.monotonic()
    store.write_lease = timedelta(seconds=2)
    result = store.ingest("inbox", [post("1", "食堂太贵")], None)
    assert time.monotonic() - started >= 1.0 and result.new == 1
    store.client.bulk([{"delete": {"_index": store.names.posts_for(lost.created_at), "_id": str(lost.id)}}],
                      refresh=True)
    # a key written an hour ago without its post: the writer crashed; the post is written at once
    key_id = bodies.key_id("weibo", "1")
    key = store.client.get(store.names.keys, key_id)
    store.client.put(store.names.keys, key_id, {**key["_source"], "written_at": "2026-03-02T00:00:00+00:00"})
    store.write_lease = timedelta(seconds=30)
    started = time.monotonic()
    result = store.ingest("inbox", [post("1", "食堂太贵")], None)
    assert time.monotonic() - started < 10
    assert result.new == 1
    again = store.find_post("weibo", "1")
    assert (again.id, again.version, again.text) == (lost.id, 1, "食堂太贵")
    assert [p.id for p in store.posts_to_analyze(10)] == [lost.id] and store.counts()["posts"] == 1


@SEARCH
def test_an_edit_cut_short_after_its_key_moved_is_finished(store) -> None:
    from store.search import bodies

    store.ingest("inbox", [post("1", "停车位太少了")], None)
    first = store.find_post("weibo", "1")
    key_id = bodies.key_id("weibo", "1")
    key = store.client.get(store.names.keys, key_id)
    store.client.put(store.names.keys, key_id, {**key["_source"], "version": 2,
                                                 "text_sha256": bodies.text_digest("停车位太少了，希望增加"),
                                                 "written_at": "2026-03-02T00:00:00+00:00"})
    result = store.ingest("inbox", [post("1", "停车位太少了，希望增加")], None)
    assert result.updated == 1
    edited = store.find_post("weibo", "1")
    assert (edited.id, edited.version, edited.text) == (first.id, 2, "停车位太少了，希望增加")
    assert [(v.version, v.text) for v in store.post_versions(first.id)] == [(1, "停车位太少了")]
    assert store.ingest("inbox", [post("1", "停车位太少了，希望增加")], None).unchanged == 1


@SEARCH
def test_dead_letters_of_a_batch_repeated_after_a_crash_are_kept_once(store) -> None:
    from store.base import DeadLetter

    store.ingest("inbox", [], checkpoint="a")
    letters = [DeadLetter("inbox/a.jsonl:3", "{oops", "不是合法的 JSON")]
    store.ingest("inbox", [post("1", "正常")], checkpoint="b", dead=letters)
    # the crash: the checkpoint write never happened, so the collector sends the batch again from "a"
    store.client.put(store.names.meta, "checkpoint:inbox", {"value": "a", "updated_at": "2026-03-02T01:00:00+00:00"})
    again = store.ingest("inbox", [post("1", "正常")], checkpoint="b", dead=letters)
    assert again.unchanged == 1 and store.checkpoint("inbox") == "b"
    assert len(store.dead_letters()) == 1 and store.counts()["dead_letters"] == 1
    # the same record failing in a later batch is a new dead letter
    store.ingest("inbox", [], checkpoint="c", dead=letters)
    assert store.counts()["dead_letters"] == 2


@SEARCH
def test_events_pushed_by_concurrent_requests_are_read_in_order_and_none_skipped(store) -> None:
    pushed: list[int] = []

    def listener(n: int) -> None:  # one webhook request after another, on several server threads
        for k in range(8):
            pushed.extend(store.push_inbound("qq", [f'{{"n":{n},"k":{k}}}'], T0))

    threads = [threading.Thread(target=listener, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    seen: list[int] = []
    after = 0
    deadline = time.monotonic() + 60
    while (any(t.is_alive() for t in threads) or len(seen) < len(pushed)) and time.monotonic() < deadline:
        batch = store.inbound("qq", after, 5)  # the collector follows its cursor while events arrive
        seen += [i for i, _ in batch]
        after = batch[-1][0] if batch else after
        if not batch:
            time.sleep(0.05)
    assert len(pushed) == 32 and seen == sorted(pushed) and len(set(seen)) == 32


def test_no_two_areas_define_the_same_method() -> None:
    """The areas are mixins of one class: a name two of them define would silently take one's place."""
    from store.search.store import _NotPorted

    areas = [c for c in SearchStore.__mro__ if c.__module__.startswith("store.search.") and c.__name__.endswith("Mixin")]
    assert len(areas) >= 8
    owners: dict[str, list[str]] = {}
    for area in areas:
        for name, value in vars(area).items():
            if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                owners.setdefault(name, []).append(area.__name__)
    clashes = {n: o for n, o in owners.items() if len(o) > 1}
    assert clashes == {}
    own = {n for n in vars(SearchStore) if not n.startswith("__")} - set(vars(_NotPorted))
    assert own.isdisjoint(owners), own & set(owners)
    # what one area asks of another (SearchStore's docstring) is there, each once
    hooks = ["_commit_flags", "_mark_ruled", "_commit_alerts", "_review_counts", "_alert_counts", "_deleted_counts",
             "_alerts_by_level", "_rumour_case_ids", "_deliveries_by_state", "_add_deleted_aggregates", "_scrub_erased",
             "_deleted_batch", "_batch_marker", "_gone"]
    assert all(len(owners.get(h, [])) == 1 for h in hooks), {h: owners.get(h) for h in hooks}
