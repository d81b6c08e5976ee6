"""People: contact routes and subscriptions, wherever they are managed — the shared validation
(dashboard.accounts, with Hypothesis properties), the `python -m dashboard.users add|edit|list`
command on a real SQLite file, the admin 用户 pages, everyone's 我的订阅 page (/me), the audit trail
(field names, never values), and routing (alerts/routing.py) picking the changes up."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from alerts.base import Notifier
from alerts.routing import Router
from core.domain import CHANNEL_LABELS_ZH, Alert, AuditEvent, Level, Role, User, utcnow
from dashboard.accounts import (KNOWN_TOPICS, PLATFORM_ID_MAX, AccountError, check_email, check_platform_id,
                                clean_profile, create_user, edit_user, parse_channels, parse_level, parse_topics,
                                split_list)
from core.cli import argparse_message_zh
from dashboard.users import build_parser, main
from store.base import RuleResults
from store.sqlite import SqliteStore
from tests.dashboard.helpers import PHONE, ROLES, csrf_from

ROOT = Path(__file__).resolve().parents[2]
ID_FIELDS = ("wecom_userid", "dingtalk_userid", "feishu_userid")
# Distinctive contact routes per account: a page showing one of them to anybody but its owner or an
# admin leaks personal data.
ROUTES = {role: {"email": f"{role}.mail@univ.edu.cn", "wecom_userid": f"wx_{role}_77",
                 "dingtalk_userid": f"dd_{role}_88", "feishu_userid": f"fs_{role}_99"} for role in ROLES}


def profile_events(store, target: str | None = None) -> list[AuditEvent]:
    return [e for e in store.audit_log(limit=500) if e.action in ("user.profile", "user.update", "user.create")
            and (target is None or e.target == f"user:{target}")]


def assert_no_values_in_audit(store, values) -> None:
    """Routes are personal data: the audit log names fields, never their values."""
    for event in store.audit_log(limit=500):
        text = repr(event.detail) + event.target
        for value in values:
            assert value not in text, (event, value)


# ================================================================== validation (shared by CLI and pages)
class TestEmail:
    @pytest.mark.parametrize("value", ["zhang.san@univ.edu.cn", "a@b.co", "li_si+alerts@mail.example.com",
                                       "X-Y@Sub-Domain.Example.Org", "o'brien@univ.edu"])
    def test_plain_addresses_are_accepted(self, value):
        assert check_email(value) == value
        assert check_email(f"  {value}\t") == value  # pasted with spaces around

    @pytest.mark.parametrize("value", [
        "zhangsan", "zhang san@univ.edu.cn", "a@b", "a@@b.cn", "a@b@c.cn", "@univ.edu.cn", "zhang@", "a..b@c.cn",
        ".a@c.cn", "a.@c.cn", "a@-b.cn", "a@b-.cn", "a@b.c", "a@b.123", "张三@univ.edu.cn", "a@例子.中国",
        "a,b@c.cn", "a|b@c.cn", "a@c.cn\nBcc: x@evil.cn", "a@c.cn\r\nTo: b@c.cn", "a\u200b@c.cn", "<a@c.cn>",
        "a" * 65 + "@c.cn", "a@" + "b" * 250 + ".cn",
    ])
    def test_malformed_or_dangerous_addresses_are_refused_in_chinese(self, value):
        with pytest.raises(AccountError) as exc:
            check_email(value)
        assert "电子邮箱" in str(exc.value) and "格式不正确" in str(exc.value)

    def test_empty_is_refused_by_the_check_and_means_none_in_a_profile(self):
        with pytest.raises(AccountError, match="不能为空"):
            check_email("  ")
        assert clean_profile({"email": "  "}) == {"email": ""}


class TestPlatformIds:
    @pytest.mark.parametrize("field", ID_FIELDS)
    @pytest.mark.parametrize("value", ["ZhangSan", "zhang.san", "ou_7d8a6e6df7621556ce0d21922b676706ccs",
                                       "manager4521", "张三", "1234567890", "a" * PLATFORM_ID_MAX])
    def test_ids_as_the_platforms_write_them(self, field, value):
        assert check_platform_id(field, value) == value

    @pytest.mark.parametrize("field", ID_FIELDS)
    @pytest.mark.parametrize("value,why", [
        ("", "不能为空"), ("   ", "不能为空"), ("zhang san", "空格"), ("zhang\u3000san", "空格"),
        ("zhang\tsan", "空格"), ("zhang\u200bsan", "不可见"), ("a|b", "“|”"), ("a,b", "逗号"), ("a，b", "逗号"),
        ("a" * (PLATFORM_ID_MAX + 1), "最多 64 个字符"),
    ])
    def test_what_would_split_or_hide_a_recipient_is_refused(self, field, value, why):
        with pytest.raises(AccountError) as exc:
            check_platform_id(field, value)
        assert why in str(exc.value)
        assert {"wecom_userid": "企业微信", "dingtalk_userid": "钉钉", "feishu_userid": "飞书"}[field] in str(exc.value)


class TestSubscriptions:
    def test_topics_as_text_or_as_checkboxes(self):
        assert parse_topics("住房保障,薪酬待遇") == ["薪酬待遇", "住房保障"]  # the order of nlp.lexicon.TOPICS
        assert parse_topics("住房保障，薪酬待遇、住房保障 ") == ["薪酬待遇", "住房保障"]
        assert parse_topics(["住房保障", "食堂餐饮"]) == ["食堂餐饮", "住房保障"]
        assert parse_topics("") == parse_topics([]) == parse_topics(None) == []  # every topic

    def test_unknown_topic_lists_the_known_ones(self):
        with pytest.raises(AccountError) as exc:
            parse_topics("住房保障,房价,涨工资")
        message = str(exc.value)
        assert "未知话题：房价、涨工资" in message
        assert all(t in message for t in KNOWN_TOPICS)

    def test_channels_by_id_or_chinese_label(self):
        assert parse_channels("qq,weibo") == ["weibo", "qq"]
        assert parse_channels("QQ, 微博") == ["weibo", "qq"]
        assert parse_channels(["wechat"]) == ["wechat"]
        with pytest.raises(AccountError) as exc:
            parse_channels("weibo,tiktok")
        assert "未知渠道：tiktok" in str(exc.value)
        assert all(f"{cid}（{label}）" in str(exc.value) for cid, label in CHANNEL_LABELS_ZH.items())

    @pytest.mark.parametrize("value,level", [("yellow", Level.YELLOW), ("Orange", Level.ORANGE), ("红", Level.RED),
                                             ("橙色", Level.ORANGE), (Level.RED, Level.RED)])
    def test_levels(self, value, level):
        assert parse_level(value) is level

    @pytest.mark.parametrize("value", ["", "blue", "critical", "3"])
    def test_unknown_level(self, value):
        with pytest.raises(AccountError, match="可选：yellow（黄）、orange（橙）、red（红）"):
            parse_level(value)


class TestCleanProfile:
    def test_only_the_given_fields_come_back_normalized(self):
        assert clean_profile({"wecom_userid": " ZhangSan ", "min_level": "orange"}) == {
            "wecom_userid": "ZhangSan", "min_level": Level.ORANGE}
        assert clean_profile({}) == {}

    def test_every_problem_is_reported_at_once(self):
        with pytest.raises(AccountError) as exc:
            clean_profile({"email": "bad", "dingtalk_userid": "a b", "topics": "房价", "channels": "x",
                           "min_level": "blue", "feishu_userid": "ok_id"})
        message = str(exc.value)
        for part in ("电子邮箱", "钉钉", "未知话题", "未知渠道", "未知预警级别"):
            assert part in message
        assert "飞书" not in message

    def test_unknown_field_is_a_programming_error(self):
        with pytest.raises(ValueError):
            clean_profile({"password_hash": "x"})


# ------------------------------------------------------------------ properties (Hypothesis)
_ATOM = st.from_regex(r"[A-Za-z0-9_+-]{1,12}", fullmatch=True)
_LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
EMAILS = st.builds(lambda local, labels, tld: f"{'.'.join(local)}@{'.'.join(labels)}.{tld}",
                   st.lists(_ATOM, min_size=1, max_size=3), st.lists(_LABEL, min_size=1, max_size=3),
                   st.from_regex(r"[A-Za-z]{2,8}", fullmatch=True))
PADDING = st.sampled_from(["", " ", "  ", "\t", "\u3000", " \n"])
ID_CHARS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),
                         blacklist_characters="|,，")
IDS = st.text(ID_CHARS, min_size=1, max_size=PLATFORM_ID_MAX)
BREAKERS = st.sampled_from([" ", "\t", "\n", "\r", "\u3000", "\u00a0", "\u200b", "\ufeff", "|", ",", "，", "\x00"])
SEPARATORS = st.sampled_from([",", "，", "、", " ", ";", "；", " , ", "\t"])


@pytest.mark.properties
class TestProperties:
    @hsettings(max_examples=200, deadline=None)
    @given(EMAILS, PADDING, PADDING)
    def test_any_plain_address_is_accepted_trimmed(self, email, before, after):
        if len(email.split("@")[0]) <= 64:
            assert check_email(before + email + after) == email

    @hsettings(max_examples=200, deadline=None)
    @given(EMAILS, st.sampled_from([" ", ",", ";", "|", "<", ">", "\"", "\n", "\r", "中", "\u200b", "@", "(", "\\"]),
           st.data())
    def test_an_address_with_a_foreign_character_inside_is_refused(self, email, bad, data):
        at = data.draw(st.integers(1, len(email) - 1))
        with pytest.raises(AccountError):
            check_email(email[:at] + bad + email[at:])

    @hsettings(max_examples=200, deadline=None)
    @given(st.sampled_from(ID_FIELDS), IDS, PADDING)
    def test_any_visible_id_up_to_64_characters_round_trips(self, field, uid, pad):
        assert check_platform_id(field, pad + uid + pad) == uid

    @hsettings(max_examples=200, deadline=None)
    @given(st.sampled_from(ID_FIELDS), IDS, BREAKERS, st.data())
    def test_a_separator_or_invisible_character_inside_an_id_is_refused(self, field, uid, bad, data):
        at = data.draw(st.integers(0, len(uid)))
        value = uid[:at] + bad + uid[at:]
        if value.strip() != value and bad not in value.strip():  # only trimmed off the ends: fine
            return
        with pytest.raises(AccountError):
            check_platform_id(field, value)

    @hsettings(max_examples=100, deadline=None)
    @given(st.sampled_from(ID_FIELDS), st.text(ID_CHARS, min_size=PLATFORM_ID_MAX + 1, max_size=200))
    def test_longer_ids_are_refused(self, field, uid):
        with pytest.raises(AccountError, match="最多 64 个字符"):
            check_platform_id(field, uid)

    @hsettings(max_examples=300, deadline=None)
    @given(st.sampled_from(ID_FIELDS + ("email",)), st.text(max_size=300))
    def test_any_text_is_either_refused_in_chinese_or_a_safe_single_address(self, field, text):
        try:
            value = clean_profile({field: text})[field]
        except AccountError as exc:
            assert re.search(r"[\u4e00-\u9fff]", str(exc))
            return
        assert value == text.strip()
        assert len(value) <= (254 if field == "email" else PLATFORM_ID_MAX)
        assert not any(ch.isspace() or ch in "|,，\x00\u200b" for ch in value)

    @hsettings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from(KNOWN_TOPICS), max_size=12), st.lists(SEPARATORS, min_size=12, max_size=12),
           st.randoms())
    def test_any_topic_list_parses_to_the_set_in_canonical_order(self, topics, seps, rnd):
        shuffled = list(topics)
        rnd.shuffle(shuffled)
        text = "".join(t + seps[i] for i, t in enumerate(shuffled))
        expected = [t for t in KNOWN_TOPICS if t in topics]
        assert parse_topics(text) == expected
        assert parse_topics(shuffled) == expected  # checkboxes
        assert split_list(text) == list(dict.fromkeys(shuffled))

    @hsettings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from(KNOWN_TOPICS), max_size=4),
           st.text(st.characters(whitelist_categories=("Lo", "Ll", "Lu", "Nd")), min_size=1, max_size=8))
    def test_an_unknown_topic_is_named_in_the_error(self, topics, unknown):
        if unknown in KNOWN_TOPICS:
            return
        with pytest.raises(AccountError) as exc:
            parse_topics(",".join([*topics, unknown]))
        assert unknown in str(exc.value)

    @hsettings(max_examples=100, deadline=None)
    @given(st.lists(st.sampled_from(list(CHANNEL_LABELS_ZH) + list(CHANNEL_LABELS_ZH.values())), max_size=10),
           SEPARATORS)
    def test_any_channel_list_parses_to_ids(self, items, sep):
        by_label = {label: cid for cid, label in CHANNEL_LABELS_ZH.items()}
        expected = [c for c in CHANNEL_LABELS_ZH if c in {by_label.get(i, i) for i in items}]
        assert parse_channels(sep.join(items)) == expected


# ------------------------------------------------------------------ edit_user (store level)
class TestEditUser:
    def test_only_what_differs_is_written_and_audited_by_field_name(self, store, users):
        changed = edit_user(store, "leader", "admin", "web",
                            profile={"email": "li@univ.edu.cn", "topics": "住房保障", "min_level": "yellow"})
        assert changed == ["email", "topics"]  # yellow is already the level
        [event] = profile_events(store, "leader")
        assert (event.actor, event.action, event.detail) == (
            "admin", "user.profile", {"fields": ["email", "topics"], "via": "web"})
        assert edit_user(store, "leader", "admin", "web", profile={"topics": ["住房保障"]}) == []
        assert len(profile_events(store, "leader")) == 1  # nothing changed, nothing audited
        assert_no_values_in_audit(store, ["li@univ.edu.cn"])

    def test_role_and_active_are_audited_with_their_new_value(self, store, users):
        assert edit_user(store, "leader", "admin", "cli", role=Role.OFFICER, active=False) == ["role", "active"]
        user = store.get_user("leader")
        assert (user.role, user.active) == (Role.OFFICER, False)
        [event] = profile_events(store, "leader")
        assert event.detail == {"fields": ["role", "active"], "role": "officer", "active": False, "via": "cli"}

    def test_the_last_active_admin_stays(self, store, users):
        for kw in ({"active": False}, {"role": Role.LEADER}):
            with pytest.raises(AccountError, match="唯一启用的管理员"):
                edit_user(store, "admin", "admin", "web", **kw)
        assert store.get_user("admin").role is Role.ADMIN and store.get_user("admin").active
        edit_user(store, "officer", "admin", "web", role=Role.ADMIN)
        assert edit_user(store, "admin", "officer", "web", active=False) == ["active"]

    def test_a_bad_value_changes_nothing(self, store, users):
        with pytest.raises(AccountError):
            edit_user(store, "leader", "admin", "web", role=Role.OFFICER, profile={"email": "x@y.cn", "topics": "房价"})
        user = store.get_user("leader")
        assert (user.role, user.email, user.topics) == (Role.LEADER, "", [])
        assert profile_events(store) == []

    def test_unknown_user(self, store, users):
        with pytest.raises(AccountError, match="不存在"):
            edit_user(store, "nobody", "admin", "web", profile={"topics": ""})

    def test_create_with_a_profile_is_one_audited_creation(self, store):
        user = create_user(store, "zhao", Role.LEADER, "long-enough-1", "system", "cli",
                           profile={"wecom_userid": "ZhaoLiu", "topics": "住房保障"})
        assert (user.wecom_userid, user.topics) == ("ZhaoLiu", ["住房保障"])
        [event] = profile_events(store, "zhao")
        assert event.detail == {"role": "leader", "via": "cli", "fields": ["wecom_userid", "topics"]}
        with pytest.raises(AccountError, match="钉钉"):
            create_user(store, "qian", Role.LEADER, "long-enough-1", "system", "cli", profile={"dingtalk_userid": "a|b"})
        assert store.get_user("qian") is None


# ================================================================== the command, on a real SQLite file
def run_cli(args: list[str], data: Path, stdin: str = "") -> int:
    return main([*args, "--data-dir", str(data)], stdin=io.StringIO(stdin))


def open_db(data: Path) -> SqliteStore:
    store = SqliteStore(data / "sentinel.db")
    store.migrate()
    return store


class TestCommand:
    def test_add_edit_and_list_routes_and_subscriptions(self, tmp_path, capsys):
        data = tmp_path / "data"
        assert run_cli(["add", "wang", "--role", "leader", "--password-stdin", "--wecom-userid", "WangWu",
                        "--topics", "住房保障,薪酬待遇", "--channels", "weibo,qq"], data, "leader-pass-1\n") == 0
        assert "已创建用户 wang（意见领袖），已设置企业微信 UserID、关注话题、关注渠道。" in capsys.readouterr().out
        assert run_cli(["edit", "wang", "--email", "wang.wu@univ.edu.cn", "--min-level", "orange"], data) == 0
        assert "已修改 wang：电子邮箱、最低预警级别。" in capsys.readouterr().out
        store = open_db(data)
        user = store.get_user("wang")
        assert (user.email, user.wecom_userid, user.topics, user.channels, user.min_level) == (
            "wang.wu@univ.edu.cn", "WangWu", ["薪酬待遇", "住房保障"], ["weibo", "qq"], Level.ORANGE)
        store.close()

        assert run_cli(["list"], data) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split("\t") == ["用户名", "角色", "状态", "电子邮箱", "企业微信", "钉钉", "飞书", "关注话题",
                                        "关注渠道", "最低级别", "订阅报告", "审核渠道"]
        assert lines[1].split("\t") == ["wang", "leader（意见领袖）", "启用", "wang.wu@univ.edu.cn", "WangWu", "-", "-",
                                        "薪酬待遇,住房保障", "weibo,qq", "orange（橙）", "-", "全部"]

    def test_reports_and_review_channels(self, tmp_path, capsys):
        data = tmp_path / "data"
        assert run_cli(["add", "mod", "--role", "moderator", "--password-stdin", "--review-channels", "QQ群,weibo"],
                       data, "moderator-pass-1\n") == 0
        assert run_cli(["add", "off", "--role", "officer", "--password-stdin", "--email", "off@univ.edu.cn",
                        "--reports", "周报,daily"], data, "officer-pass-1\n") == 0
        assert run_cli(["edit", "off", "--reports", "yearly"], data) == 2
        assert "未知报告类型：yearly" in capsys.readouterr().err
        store = open_db(data)
        mod, off = store.get_user("mod"), store.get_user("off")
        assert mod.review_channels == ["weibo", "qq"] and mod.reviews("qq") and not mod.reviews("wechat")
        assert off.reports == ["daily", "weekly"] and off.reviews("wechat")
        store.close()
        assert run_cli(["list"], data) == 0
        rows = {r.split("\t")[0]: r.split("\t") for r in capsys.readouterr().out.splitlines()[1:]}
        assert rows["mod"][-1] == "weibo,qq" and rows["off"][-2] == "daily,weekly"

    def test_edit_changes_only_the_given_fields_and_empty_clears(self, tmp_path, capsys):
        data = tmp_path / "data"
        run_cli(["add", "li", "--role", "officer", "--password-stdin", "--email", "li@univ.edu.cn", "--feishu-userid",
                 "ou_li", "--topics", "住房保障", "--channels", "wechat"], data, "officer-pass-1\n")
        assert run_cli(["edit", "li", "--topics", "", "--email", ""], data) == 0
        store = open_db(data)
        user = store.get_user("li")
        assert (user.email, user.feishu_userid, user.topics, user.channels) == ("", "ou_li", [], ["wechat"])
        store.close()
        assert run_cli(["edit", "li", "--topics", ""], data) == 0
        assert "li 没有变化" in capsys.readouterr().out
        assert run_cli(["list"], data) == 0
        row = capsys.readouterr().out.splitlines()[1].split("\t")
        assert row[3] == "-" and row[6] == "ou_li" and row[7] == "全部" and row[8] == "wechat"

    def test_role_and_active(self, tmp_path, capsys):
        data = tmp_path / "data"
        run_cli(["add", "boss", "--role", "admin", "--password-stdin"], data, "admin-pass-12\n")
        run_cli(["add", "zhou", "--role", "leader", "--password-stdin"], data, "leader-pass-1\n")
        assert run_cli(["edit", "zhou", "--role", "officer", "--inactive"], data) == 0
        assert "已修改 zhou：角色、启用状态。" in capsys.readouterr().out
        assert run_cli(["edit", "boss", "--inactive"], data) == 2
        assert "唯一启用的管理员" in capsys.readouterr().err
        assert run_cli(["edit", "zhou", "--active"], data) == 0
        store = open_db(data)
        assert (store.get_user("zhou").role, store.get_user("zhou").active) == (Role.OFFICER, True)
        assert store.get_user("boss").active
        details = [e.detail for e in store.audit_log() if e.target == "user:zhou" and e.action == "user.update"]
        assert {"fields": ["active"], "active": True, "via": "cli"} in details
        store.close()

    def test_every_bad_value_is_named_in_chinese_and_nothing_changes(self, tmp_path, capsys):
        data = tmp_path / "data"
        run_cli(["add", "sun", "--role", "leader", "--password-stdin", "--topics", "住房保障"], data, "leader-pass-1\n")
        capsys.readouterr()
        assert run_cli(["edit", "sun", "--email", "sun at univ", "--wecom-userid", "a|b", "--dingtalk-userid",
                        "x" * 65, "--topics", "住房保障,房价", "--channels", "weibo,tiktok"], data) == 2
        err = capsys.readouterr().err
        assert err.startswith("错误：")
        for part in ("电子邮箱", "企业微信 UserID", "钉钉 userid 太长", "未知话题：房价", "可选话题：薪酬待遇",
                     "未知渠道：tiktok", "weibo（微博）"):
            assert part in err, part
        assert run_cli(["edit", "sun"], data) == 2
        assert "没有给出要修改的内容" in capsys.readouterr().err
        assert run_cli(["edit", "nobody", "--topics", ""], data) == 2
        assert "不存在" in capsys.readouterr().err
        store = open_db(data)
        user = store.get_user("sun")
        assert (user.email, user.wecom_userid, user.topics) == ("", "", ["住房保障"])
        assert [e.action for e in store.audit_log() if e.target == "user:sun"] == ["user.create"]
        store.close()

    def test_a_bad_profile_on_add_fails_before_the_password_is_asked(self, tmp_path, capsys, monkeypatch):
        monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("password asked"))
        assert run_cli(["add", "wu", "--role", "leader", "--topics", "房价"], tmp_path / "data") == 2
        assert "未知话题：房价" in capsys.readouterr().err

    def test_audit_names_fields_never_values(self, tmp_path):
        data = tmp_path / "data"
        run_cli(["add", "zheng", "--role", "leader", "--password-stdin", "--email", "zheng@univ.edu.cn"], data,
                "leader-pass-1\n")
        run_cli(["edit", "zheng", "--wecom-userid", "ZhengQi", "--dingtalk-userid", "dd_zheng", "--feishu-userid",
                 "ou_zheng", "--email", "zheng.qi@univ.edu.cn"], data)
        store = open_db(data)
        [edit] = [e for e in store.audit_log() if e.action == "user.profile"]
        assert (edit.actor, edit.target, edit.detail) == (
            "system", "user:zheng",
            {"fields": ["email", "wecom_userid", "dingtalk_userid", "feishu_userid"], "via": "cli"})
        assert_no_values_in_audit(store, ["zheng@univ.edu.cn", "zheng.qi", "ZhengQi", "dd_zheng", "ou_zheng"])
        store.close()

    @pytest.mark.parametrize("argv,message", [
        (["edit", "x", "--active", "--inactive"], "不能与"),
        (["edit", "x", "--min-level", "blue"], "参数 --min-level 的取值 'blue' 无效"),
        (["edit", "x", "--email"], "需要一个值"),
        (["add", "x"], "缺少必需的参数：--role"),
        (["edit", "x", "--frob"], "无法识别的参数：--frob"),
        (["frob"], "无效"),
    ])
    def test_usage_errors_are_chinese(self, argv, message, capsys):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "错误：" in err and "用法：" in err
        assert "error" not in err and "usage" not in err

    def test_argparse_wording_is_translated(self):
        assert argparse_message_zh("the following arguments are required: NAME") == "缺少必需的参数：NAME"
        assert argparse_message_zh("something new") == "something new"

    @pytest.mark.parametrize("command", [None, "add", "edit", "passwd", "list"])
    def test_help_is_complete_and_chinese(self, command):
        parser = build_parser()
        sub = parser if command is None else parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        text = sub.format_help()
        assert "用法：" in text and "显示本帮助并退出" in text
        for english in ("usage:", "options:", "positional arguments", "show this help", "optional arguments"):
            assert english not in text
        for action in sub._actions:  # every option explained
            assert action.help, action
        if command in ("add", "edit"):
            for option in ("--email", "--wecom-userid", "--dingtalk-userid", "--feishu-userid", "--topics",
                           "--channels", "--min-level", "--role"):
                assert option in text
            assert "住房保障" in text and "weibo=微博" in text and "yellow=黄" in text
        if command == "edit":
            assert "--active" in text and "--inactive" in text and '""' in text

    def test_as_a_real_process(self, tmp_path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "dashboard.users"]
        data = ["--data-dir", str(tmp_path)]
        proc = subprocess.run([*cmd, "add", "chen", "--role", "leader", "--password-stdin", "--feishu-userid",
                               "ou_chen", *data], cwd=ROOT, env=env, input="leader-pass-9\n", capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run([*cmd, "edit", "chen", "--topics", "住房保障", "--min-level", "red", *data], cwd=ROOT,
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0 and "已修改 chen：关注话题、最低预警级别。" in proc.stdout, proc.stderr
        proc = subprocess.run([*cmd, "edit", "chen", "--channels", "tiktok", *data], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 2 and "未知渠道：tiktok" in proc.stderr
        listing = subprocess.run([*cmd, "list", *data], cwd=ROOT, env=env, capture_output=True, text=True,
                                 check=True).stdout
        assert "chen\tleader（意见领袖）\t启用\t-\t-\t-\tou_chen\t住房保障\t全部\tred（红）" in listing
        help_text = subprocess.run([*cmd, "edit", "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
                                   check=True).stdout
        assert help_text.startswith("用法：")


# ================================================================== pages
def set_routes(store, *roles_: str) -> None:
    for role in roles_:
        store.update_profile(role, AuditEvent("test", "user.profile", f"user:{role}"), **ROUTES[role])


def edit_form(**overrides) -> dict:
    """The admin edit form as a browser would send it for a user (checkbox lists as lists)."""
    form = {"role": "leader", "active": "on", "email": "", "wecom_userid": "", "dingtalk_userid": "",
            "feishu_userid": "", "topics": [], "channels": [], "min_level": "yellow"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


class TestAdminPages:
    def test_the_user_list_shows_routes_and_subscriptions(self, client, login, store):
        set_routes(store, "leader", "officer")
        store.update_profile("leader", AuditEvent("test", "user.profile"), topics=["住房保障"], channels=["qq"],
                             min_level=Level.ORANGE)
        login("admin")
        page = client.get("/admin/users").get_data(as_text=True)
        for value in (*ROUTES["leader"].values(), *ROUTES["officer"].values(), "住房保障", "QQ群", "橙色及以上"):
            assert value in page
        row = re.search(r'<tr id="user-leader".*?</tr>', page, re.S).group(0)
        assert "/admin/users/leader/edit" in row and "住房保障" in row and ROUTES["officer"]["email"] not in row
        assert "全部话题" in re.search(r'<tr id="user-moderator".*?</tr>', page, re.S).group(0)

    def test_admin_edits_anyone_audited_without_values(self, client, login, post_form, store):
        login("admin")
        form = client.get("/admin/users/leader/edit").get_data(as_text=True)
        assert 'name="topics" value="住房保障"' in form and 'name="min_level" value="red"' in form
        resp = post_form("/admin/users/leader/edit", edit_form(
            email="li.si@univ.edu.cn", wecom_userid="LiSi", topics=["住房保障", "薪酬待遇"], channels=["weibo"],
            min_level="orange"), page="/admin/users/leader/edit")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users#user-leader")
        user = store.get_user("leader")
        assert (user.email, user.wecom_userid, user.dingtalk_userid, user.topics, user.channels, user.min_level) == (
            "li.si@univ.edu.cn", "LiSi", "", ["薪酬待遇", "住房保障"], ["weibo"], Level.ORANGE)
        page = client.get("/admin/users").get_data(as_text=True)
        assert "已保存 leader 的修改：电子邮箱、企业微信 UserID、关注话题、关注渠道、最低预警级别。" in page
        [event] = profile_events(store, "leader")
        assert (event.actor, event.action, event.detail) == (
            "admin", "user.profile",
            {"fields": ["email", "wecom_userid", "topics", "channels", "min_level"], "via": "web"})
        audit_page = client.get("/admin/audit").get_data(as_text=True)
        assert "user.profile" in audit_page and "LiSi" not in audit_page and "li.si@" not in audit_page
        assert_no_values_in_audit(store, ["li.si@univ.edu.cn", "LiSi"])

        # role and active, and clearing: empty route, no box ticked = every topic
        resp = post_form("/admin/users/leader/edit", edit_form(role="officer", active=None, email="", wecom_userid="LiSi",
                                                                channels=["weibo"], min_level="orange"),
                         page="/admin/users/leader/edit")
        assert resp.status_code == 302
        user = store.get_user("leader")
        assert (user.role, user.active, user.email, user.topics) == (Role.OFFICER, False, "", [])
        assert [e.detail for e in profile_events(store, "leader")][0] == {
            "fields": ["role", "active"], "role": "officer", "active": False, "via": "web"}

    def test_bad_values_are_refused_with_chinese_errors_and_kept_in_the_form(self, client, login, post_form, store):
        login("admin")
        resp = post_form("/admin/users/leader/edit", edit_form(
            role="officer", email="li si@univ", wecom_userid="a|b", dingtalk_userid="x" * 65, topics=["住房保障", "房价"],
            channels=["tiktok"], min_level="purple"), page="/admin/users/leader/edit")
        assert resp.status_code == 400
        page = resp.get_data(as_text=True)
        for part in ("电子邮箱", "企业微信 UserID", "钉钉 userid 太长", "未知话题：房价", "未知渠道：tiktok", "未知预警级别"):
            assert part in page, part
        assert 'value="li si@univ"' in page and 'value="住房保障" checked' in page
        user = store.get_user("leader")
        assert (user.role, user.email, user.topics) == (Role.LEADER, "", [])
        assert profile_events(store, "leader") == []

    def test_an_admin_cannot_lock_themself_out(self, client, login, post_form, store):
        login("admin")
        for form in (edit_form(role="admin", active=None), edit_form(role="officer")):
            resp = post_form("/admin/users/admin/edit", form, page="/admin/users/admin/edit")
            assert resp.status_code == 400 and "不能停用自己的账号或取消自己的管理员角色" in resp.get_data(as_text=True)
        assert store.get_user("admin").role is Role.ADMIN and store.get_user("admin").active
        resp = post_form("/admin/users/admin/edit", edit_form(role="admin", feishu_userid="ou_admin"),
                         page="/admin/users/admin/edit")
        assert resp.status_code == 302 and store.get_user("admin").feishu_userid == "ou_admin"

    def test_deactivating_ends_the_users_sessions(self, app, client, login, post_form, store):
        from tests.dashboard.helpers import do_login

        leader = app.test_client()
        assert do_login(leader, "leader").status_code == 302
        login("admin")
        post_form("/admin/users/leader/edit", edit_form(active=None), page="/admin/users/leader/edit")
        assert leader.get("/me").status_code == 302  # sent to the login page

    def test_unknown_user_and_missing_csrf(self, client, login, store):
        login("admin")
        assert client.get("/admin/users/nobody/edit").status_code == 404
        token = csrf_from(client, "/admin/users")
        assert client.post("/admin/users/nobody/edit", data={**edit_form(), "csrf_token": token}).status_code == 404
        resp = client.post("/admin/users/leader/edit", data=edit_form(role="admin", email="x@y.cn"))
        assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
        assert store.get_user("leader").role is Role.LEADER and store.get_user("leader").email == ""

    @pytest.mark.parametrize("role", ["moderator", "officer", "leader"])
    def test_only_admins_open_or_post_the_edit_form(self, role, client, login, post_form, store):
        set_routes(store, "admin", "officer")
        login(role)
        assert client.get("/admin/users/officer/edit").status_code == 403
        resp = post_form("/admin/users/officer/edit", edit_form(role="admin", email="evil@x.cn"), page="/me")
        assert resp.status_code == 403
        resp = post_form(f"/admin/users/{role}/edit", edit_form(role="admin"), page="/me")  # not even oneself
        assert resp.status_code == 403
        assert store.get_user("officer").role is Role.OFFICER and store.get_user(role).role is Role(role)
        assert store.get_user("officer").email == ROUTES["officer"]["email"]


class TestMyPage:
    @pytest.mark.parametrize("role", ROLES)
    def test_everyone_sees_their_own_routes_and_nobody_elses(self, role, client, login, store, seeded):
        set_routes(store, *ROLES)
        login(role)
        page = client.get("/me").get_data(as_text=True)
        for value in ROUTES[role].values():
            assert value in page
        assert "联系方式由管理员设置" in page and '<a href="/me"' in page
        assert 'name="email"' not in page and 'name="wecom_userid"' not in page  # shown, not editable
        others = [v for r in ROLES if r != role for v in ROUTES[r].values()]
        pages = ["/me", "/alerts", f"/alerts/{seeded.alerts['red']}", "/cases", f"/cases/{seeded.cases['rumour']}",
                 "/overview", "/queue", "/debunks", "/rules", "/search?q=绩效"]
        if role == "admin":
            pages = ["/me"]  # admins see everyone's routes on the 用户 page, by design
        for path in pages:
            html = client.get(path).get_data(as_text=True)
            for value in others:
                assert value not in html, (path, value)

    def test_a_leader_changes_only_their_own_subscriptions(self, client, login, post_form, store):
        set_routes(store, "leader", "officer")
        login("leader")
        resp = post_form("/me", {"topics": ["住房保障"], "channels": ["weibo", "qq"], "min_level": "orange",
                                 # whatever else is sent along is ignored: routes, role and account are the admin's
                                 "email": "hijack@evil.cn", "wecom_userid": "someone_else", "role": "admin",
                                 "active": "", "username": "officer"}, page="/me")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
        leader, officer = store.get_user("leader"), store.get_user("officer")
        assert (leader.topics, leader.channels, leader.min_level) == (["住房保障"], ["weibo", "qq"], Level.ORANGE)
        assert (leader.email, leader.wecom_userid, leader.role, leader.active) == (
            ROUTES["leader"]["email"], ROUTES["leader"]["wecom_userid"], Role.LEADER, True)
        assert (officer.topics, officer.min_level, officer.email) == ([], Level.YELLOW, ROUTES["officer"]["email"])
        [event] = [e for e in store.audit_log() if e.actor == "leader" and e.action.startswith("user.")]
        assert (event.action, event.target, event.detail) == (
            "user.profile", "user:leader", {"fields": ["topics", "channels", "min_level"], "via": "web"})
        page = client.get("/me").get_data(as_text=True)
        assert "已保存你的订阅：关注话题、关注渠道、最低预警级别。" in page
        assert 'value="住房保障" checked' in page and 'value="orange" checked' in page

        # nothing ticked: every topic and channel again
        post_form("/me", {"min_level": "orange"}, page="/me")
        assert (store.get_user("leader").topics, store.get_user("leader").channels) == ([], [])
        post_form("/me", {"min_level": "orange"}, page="/me")
        assert "订阅没有变化" in client.get("/me").get_data(as_text=True)

    def test_bad_subscriptions_are_refused(self, client, login, post_form, store):
        login("officer")
        resp = post_form("/me", {"topics": ["房价"], "channels": ["tiktok"], "min_level": "purple"}, page="/me")
        assert resp.status_code == 400
        page = resp.get_data(as_text=True)
        assert "未知话题：房价" in page and "未知渠道：tiktok" in page and "未知预警级别" in page
        assert store.get_user("officer").topics == [] and profile_events(store, "officer") == []
        resp = post_form("/me", {"topics": ["住房保障"]}, page="/me")  # no level at all
        assert resp.status_code == 400 and store.get_user("officer").topics == []

    def test_post_needs_csrf_and_a_session(self, app, client, login, store):
        assert client.post("/me", data={"topics": ["住房保障"], "min_level": "red"}).status_code in (302, 400)
        login("leader")
        resp = client.post("/me", data={"topics": ["住房保障"], "min_level": "red"})
        assert resp.status_code == 400
        assert store.get_user("leader").min_level is Level.YELLOW

    def test_no_route_note_and_masked_preview_of_matching_alerts(self, client, login, post_form, store):
        [housing, pay] = store.commit_rule_results(RuleResults(alerts=[
            Alert(rule="rumour_spread", level=Level.ORANGE, title=f"周转房传言：联系 {PHONE} 退房", body="b",
                  dedupe_key="h1", kind="rumour", topics=["住房保障"], channels=["weibo"]),
            Alert(rule="rumour_spread", level=Level.ORANGE, title="绩效工资传言", body="b", dedupe_key="p1",
                  kind="rumour", topics=["薪酬待遇"], channels=["weibo"]),
        ]))
        login("leader")
        page = client.get("/me").get_data(as_text=True)
        assert "你还没有任何联系方式" in page
        post_form("/me", {"topics": ["住房保障"], "min_level": "yellow"}, page="/me")
        page = client.get("/me").get_data(as_text=True)
        assert f"/alerts/{housing.id}" in page and f"/alerts/{pay.id}" not in page
        assert "周转房传言" in page and PHONE not in page  # leaders see personal data masked
        login("moderator")  # may not see alerts: no preview
        page = client.get("/me").get_data(as_text=True)
        assert "/alerts/" not in page and "符合当前订阅的近期预警" not in page


# ================================================================== routing picks the changes up
class Personal(Notifier):
    """A personal notifier on the WeCom route (routing only needs its `route`)."""

    type_name = "test_people_wecom"
    title_zh = "测试企业微信"
    options_schema = {"type": "object"}
    route = "wecom"

    @classmethod
    def create(cls, cfg, secrets):
        return cls(cfg["name"])

    def send(self, message, recipients=()):
        return None


def housing_rumour(level: Level = Level.ORANGE, channels=("weibo",)) -> Alert:
    return Alert(rule="rumour_spread", level=level, title="周转房到期要收回的传言", body="多个渠道出现同一传言",
                 dedupe_key=f"housing-{utcnow().timestamp()}", kind="rumour", topics=["住房保障"],
                 channels=list(channels))


class TestRouting:
    def test_a_leader_subscribing_on_me_then_gets_housing_rumours(self, app, client, login, post_form, store):
        # the service's wiring: the router reads the users from the store each time (core/service.py)
        router = Router.from_config(None, {"企业微信": Personal("企业微信")}, store.users)
        login("admin")
        post_form("/admin/users/leader/edit", edit_form(wecom_userid="wx_leader", topics=["薪酬待遇"]),
                  page="/admin/users/leader/edit")
        assert ("企业微信", "leader") not in {(n, r) for n, r, _ in router.route(housing_rumour())}

        leader = app.test_client()
        from tests.dashboard.helpers import do_login
        do_login(leader, "leader")
        token = csrf_from(leader, "/me")
        assert leader.post("/me", data={"topics": ["薪酬待遇", "住房保障"], "min_level": "yellow",
                                        "csrf_token": token}).status_code == 302
        routes = router.route(housing_rumour())
        assert ("企业微信", "leader", "传言通知订阅该话题的意见领袖和干部") in routes

        # the outbox gets one delivery for the leader, on their WeCom route
        alert = housing_rumour()
        router.prepare(alert, [], utcnow())
        [saved] = store.commit_rule_results(RuleResults(alerts=[alert]))
        assert ("企业微信", "leader") in {(d.notifier, d.recipient) for d in store.deliveries(saved.id)}

        # raising the lowest level or narrowing the channels on /me takes them off again
        leader.post("/me", data={"topics": ["住房保障"], "min_level": "red", "csrf_token": token})
        assert "leader" not in {r for _, r, _ in router.route(housing_rumour(Level.ORANGE))}
        assert "leader" in {r for _, r, _ in router.route(housing_rumour(Level.RED))}
        leader.post("/me", data={"topics": ["住房保障"], "channels": ["qq"], "min_level": "yellow",
                                 "csrf_token": token})
        assert "leader" not in {r for _, r, _ in router.route(housing_rumour(channels=("weibo",)))}
        assert "leader" in {r for _, r, _ in router.route(housing_rumour(channels=("qq", "weibo")))}

    def test_a_route_cleared_by_the_admin_is_no_longer_used(self, client, login, post_form, store):
        router = Router.from_config(None, {"企业微信": Personal("企业微信")}, store.users)
        set_routes(store, "leader")
        assert "leader" in {r for _, r, _ in router.route(housing_rumour())}
        login("admin")
        post_form("/admin/users/leader/edit", edit_form(email=ROUTES["leader"]["email"]), page="/admin/users/leader/edit")
        assert store.get_user("leader").wecom_userid == ""
        assert "leader" not in {r for _, r, _ in router.route(housing_rumour())}

    def test_a_deactivated_user_is_not_routed(self, client, login, post_form, store):
        router = Router.from_config(None, {"企业微信": Personal("企业微信")}, store.users)
        set_routes(store, "leader")
        login("admin")
        post_form("/admin/users/leader/edit", edit_form(wecom_userid=ROUTES["leader"]["wecom_userid"], active=None),
                  page="/admin/users/leader/edit")
        assert "leader" not in {r for _, r, _ in router.route(housing_rumour())}


def test_a_user_added_with_a_profile_by_the_command_is_routed(tmp_path):
    data = tmp_path / "data"
    assert run_cli(["add", "qian", "--role", "leader", "--password-stdin", "--wecom-userid", "wx_qian", "--topics",
                    "住房保障"], data, "leader-pass-1\n") == 0
    store = open_db(data)
    try:
        router = Router.from_config(None, {"企业微信": Personal("企业微信")}, store.users)
        assert ("企业微信", "qian") in {(n, r) for n, r, _ in router.route(housing_rumour())}
        assert run_cli(["edit", "qian", "--topics", "薪酬待遇"], data) == 0
        assert "qian" not in {r for _, r, _ in router.route(housing_rumour())}
    finally:
        store.close()


def test_user_type_still_matches_the_domain():
    # the profile fields the validation knows are exactly the User's routes and subscriptions
    from dashboard.accounts import PROFILE_FIELDS
    fields = set(User.__dataclass_fields__)
    assert set(PROFILE_FIELDS) <= fields
    assert {"email", "wecom_userid", "dingtalk_userid", "feishu_userid", "topics", "channels", "min_level",
            "reports", "review_channels"} == set(PROFILE_FIELDS)
    from store.sqlite.people import PROFILE_FIELDS as STORED
    assert set(STORED) == set(PROFILE_FIELDS)

