"""提案线索: grievances of a period for officers, by topic, with keyset paging; personal data masked."""
from __future__ import annotations

import re

from core.domain import Sentiment
from tests.dashboard.helpers import add_post, make_analysis

PHONE = "13912345678"


def grievance(store, key: str, text: str, hours_ago: float, score: float, topic: str | None = "薪酬待遇"):
    return add_post(store, key, "board", text, hours_ago,
                    make_analysis(text, sentiment=Sentiment.NEG, polarity=-0.5, topic=topic, grievance=score))


def test_officers_see_the_periods_grievances_newest_first_and_nothing_else(store, client, login) -> None:
    grievance(store, "a", "差旅报销交上去两个月了还没到账，希望财务处给个说法", 2, 0.91)
    grievance(store, "b", "实验室空调坏了一个多月，能不能尽快修", 5, 0.8, topic="住房保障")
    grievance(store, "low", "食堂今天的菜有点咸", 1, 0.2)
    grievance(store, "old", "停车证到现在还没办下来", 24 * 40, 0.9)
    login("officer")
    html = client.get("/leads?days=30").get_data(as_text=True)
    assert html.index("差旅报销") < html.index("实验室空调")
    assert "食堂今天的菜" not in html and "停车证" not in html
    assert "薪酬待遇（1）" in html and "住房保障（1）" in html
    assert "停车证" in client.get("/leads?days=90").get_data(as_text=True)
    only = client.get("/leads?days=30&topic=住房保障").get_data(as_text=True)
    assert "实验室空调" in only and "差旅报销" not in only


def test_paging_continues_after_the_last_post_shown(store, client, login) -> None:
    for i in range(25):
        grievance(store, f"g{i}", f"第{i:02d}条诉求：希望学校解决一下", i + 1, 0.9)
    login("officer")
    first = client.get("/leads").get_data(as_text=True)
    shown = re.findall(r"第(\d\d)条诉求", first)
    assert shown == [f"{i:02d}" for i in range(20)]
    nxt = re.search(r'href="([^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    rest = re.findall(r"第(\d\d)条诉求", client.get(nxt).get_data(as_text=True))
    assert rest == [f"{i:02d}" for i in range(20, 25)]


def test_officers_see_personal_data_masked_and_markup_as_text(store, client, login) -> None:
    grievance(store, "p", f"我的工资卡被扣了两次，电话{PHONE}，<script>alert(1)</script>希望回复", 1, 0.95)
    login("officer")
    html = client.get("/leads").get_data(as_text=True)
    assert PHONE not in html and "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_a_bad_cursor_starts_over(store, client, login) -> None:
    grievance(store, "a", "课时费三个月没发了", 1, 0.9)
    login("officer")
    for cursor in ("x", "2026-01-01|y", "2026-01-01T00:00:00|5", "|", "9" * 40):
        resp = client.get(f"/leads?after={cursor}")
        assert resp.status_code == 200 and "课时费三个月没发了" in resp.get_data(as_text=True)


def test_an_officer_turns_a_grievance_into_a_proposal_and_it_leaves_the_open_list(store, client, login, post_form) -> None:
    p = grievance(store, "x", "青年教师公寓隔音太差，希望工会推动改造", 1, 0.9)
    login("officer")
    resp = post_form(f"/leads/{p.id}", {"state": "proposal", "note": "列入教代会提案第12号", "next": "/leads"},
                     page="/leads")
    assert resp.status_code in (302, 303)
    assert "青年教师公寓" not in client.get("/leads").get_data(as_text=True)
    shown = client.get("/leads?state=proposal").get_data(as_text=True)
    assert "青年教师公寓" in shown and "列入教代会提案第12号" in shown
    events = [e for e in store.audit_log(20) if e.action == "lead.proposal"]
    assert events and events[0].actor == "officer" and events[0].target == f"post:{p.id}"
    post_form(f"/leads/{p.id}", {"state": "open", "next": "/leads"}, page="/leads")
    assert "青年教师公寓" in client.get("/leads").get_data(as_text=True)


def test_lead_actions_need_an_officer_and_a_valid_state(store, client, login, post_form) -> None:
    p = grievance(store, "y", "停车证办不下来", 1, 0.9)
    login("moderator")
    assert post_form(f"/leads/{p.id}", {"state": "handled"}, page="/queue").status_code == 403
    login("officer")
    post_form(f"/leads/{p.id}", {"state": "delete-everything"}, page="/leads")
    assert store.lead_states([p.id]) == {}
    assert post_form("/leads/999999", {"state": "handled"}, page="/leads").status_code == 404
