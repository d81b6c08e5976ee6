"""The `remove` action (AutoModerator's `action: remove`): near-certain posts skip the queue, stay
restorable on 已删除, never overrule a person, and teach the models nothing."""
from __future__ import annotations

import pytest

from core.domain import Action, AuditEvent, Decision, FlagStatus, ReasonCode
from core.errors import ConfigError
from rules.loader import load_rules

RULES = """
rules:
  - name: spam_post
    title: 疑似广告
    type: match
    filter: {spam: {gte: 0.8, lt: 0.95}}
    actions: {flag: {reason: "疑似广告"}}
  - name: spam_autoremove
    title: 广告（自动删除）
    type: match
    filter: {spam: {gte: 0.95}}
    actions:
      flag: {reason: "广告，已自动删除（{spam:.2f}）"}
      remove: {reason_code: spam}
"""


def run(engine, store):
    while engine.process(store, 100):
        pass


def test_near_certain_posts_are_removed_not_queued(store, feed, make_engine):
    sure = [feed.add(f"加薇信 kk{i} 兼职日结", minutes=i, spam=0.99) for i in range(3)]
    maybe = feed.add("有需要兼职的同学吗", minutes=5, spam=0.85)
    plain = feed.add("食堂今天人好多", minutes=6, spam=0.1)
    run(make_engine(RULES), store)
    assert store.queue_count() == 1
    assert [i.post.id for i in store.review_queue()] == [maybe.id]
    removed = store.review_queue(FlagStatus.REMOVED)
    assert sorted(i.post.id for i in removed) == sorted(p.id for p in sure)
    for item in removed:
        assert item.decision.auto_rule == "spam_autoremove" and item.decision.action is Action.REMOVE
        assert item.decision.reason_code is ReasonCode.SPAM and item.decision.by_zh == "自动审核（规则 spam_autoremove）"
        assert "已自动删除" in item.flags[0].reason
    audit = [e for e in store.audit_log(limit=100) if e.action == "decision.auto_remove"]
    assert sorted(e.target for e in audit) == sorted(f"post:{p.id}" for p in sure)
    assert all(e.actor == "system" and e.detail["rule"] == "spam_autoremove" for e in audit)
    assert store.queue_item(plain.id) is None


def test_a_person_restores_one_and_a_rule_never_overrules_a_person(store, feed, make_engine):
    post = feed.add("兼职日结，加薇信", spam=0.99)
    engine = make_engine(RULES)
    run(engine, store)
    store.decide(Decision(post.id, "mod1", Action.APPROVE, ReasonCode.FALSE_POSITIVE),
                 AuditEvent("mod1", "decision.approve", f"post:{post.id}"))
    assert store.queue_item(post.id).status is FlagStatus.APPROVED
    # the post is edited on the platform and comes back with the same score: flagged again, not removed
    post.text += "（已编辑）"
    store.ingest("test", [post], None)
    store.save_analyses([(store.get_post(post.id), feed.make(post.text, spam=0.99)[1])])
    run(engine, store)
    assert store.queue_item(post.id).status is FlagStatus.PENDING
    assert [d.moderator for d in store.decisions() if d.post_id == post.id] == ["auto:spam_autoremove", "mod1"]


def test_automatic_removals_are_not_a_rules_precision(store, feed, make_engine):
    feed.add("加薇信领红包", spam=0.99)
    checked = feed.add("有兼职吗", spam=0.85, minutes=1)
    run(make_engine(RULES), store)
    store.decide(Decision(checked.id, "mod1", Action.REMOVE, ReasonCode.SPAM),
                 AuditEvent("mod1", "decision.remove", f"post:{checked.id}"))
    outcomes = store.rule_outcomes()
    assert outcomes["spam_autoremove"] == (1, 0, 0)  # flagged, decided by a person, upheld
    assert outcomes["spam_post"] == (1, 1, 1)


def test_automatic_removals_are_not_training_labels(tmp_path, feed, store, make_engine):
    from core.config import load_settings
    from nlp.data import store_labels

    feed.add("加薇信领红包", spam=0.99)
    person = feed.add("有兼职吗", spam=0.85, minutes=1)
    run(make_engine(RULES), store)
    store.decide(Decision(person.id, "mod1", Action.REMOVE, ReasonCode.SPAM),
                 AuditEvent("mod1", "decision.remove", f"post:{person.id}"))
    labels = store_labels(load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={}))
    assert labels["spam"].texts == [person.text]


@pytest.mark.parametrize("actions, expected", [
    ("{remove: {reason_code: spam}}", "需要同时写 flag"),
    ("{flag: {reason: x}, remove: {reason_code: ok}}", "reason_code"),
    ("{flag: {reason: x}, remove: {}}", "reason_code"),
])
def test_remove_is_checked_when_the_file_loads(rules_file, actions, expected):
    path = rules_file(f"""
        rules:
          - name: r
            title: t
            type: match
            filter: {{spam: {{gte: 0.9}}}}
            actions: {actions}
        """)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert "actions.remove" in str(err.value) and expected in str(err.value)


def test_frequency_rules_cannot_remove(rules_file):
    path = rules_file("""
        rules:
          - name: r
            title: t
            type: frequency
            num_events: 3
            timeframe: {hours: 1}
            actions: {alert: {level: yellow, title: t, body: b}, remove: {reason_code: spam}}
        """)
    with pytest.raises(ConfigError, match="不支持动作 remove"):
        load_rules(path)
