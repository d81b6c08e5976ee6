"""`python -m rules.backtest`: history replayed in time order through nlp and the rules, nothing sent,
one JSON object a line per alert with the fixed keys."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rules import load_rules
from rules.backtest import main

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
WAVE = ["听说下个月起绩效工资要砍掉三成，大家知道吗", "听说绩效工资下个月砍三成，是真的吗？",
        "据说下月开始绩效砍掉30%，太离谱了", "有人说下个月绩效工资要砍三成，谁有消息",
        "听说下个月绩效要砍三成了！！", "下个月绩效工资砍三成？听财务的人说的"]
ORDINARY = ["食堂今天的红烧肉不错", "工会的羽毛球赛什么时候报名", "图书馆周末开到几点", "停车场的指示牌很清楚"]


def rec(sid: str, text: str, minutes: float, channel: str = "board", author: str | None = None) -> dict:
    return {"channel": channel, "source_id": sid, "author": author or f"u-{sid}", "text": text,
            "created_at": (T0 + timedelta(minutes=minutes)).isoformat()}


def write(path, records, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_a_rumour_wave_and_a_spam_flood_alert_and_ordinary_days_do_not(tmp_path, capsys):
    records = [rec(f"o{i}", ORDINARY[i % 4] + f"（{i}）", i * 37) for i in range(40)]
    records += [rec(f"w{i}", t, 600 + i * 6, ["weibo", "qq", "wechat"][i % 3], f"a{i % 4}") for i, t in enumerate(WAVE)]
    records += [rec(f"s{i}", "【招聘】在家手机兼职日结三百元，加微信 abc12345 咨询", 900 + i, "qq", f"bot{i}")
                for i in range(16)]
    records.reverse()  # the replay orders by time, whatever the file's order
    path = tmp_path / "history.jsonl"
    write(path, records, ["{not json", json.dumps({"channel": "board"})])
    code, alerts, err = run(capsys, "--input", str(path), "--json", "--quiet")
    assert code == 0
    assert all(set(a) == {"rule", "level", "ts", "post_ids", "case_id"} for a in alerts)
    rules = {a["rule"] for a in alerts}
    assert "rumour_spread" in rules and ({"spam_burst", "spam_flood"} & rules)
    spread = next(a for a in alerts if a["rule"] == "rumour_spread")
    assert set(spread["post_ids"]) <= {f"w{i}" for i in range(6)} and spread["case_id"]
    first_wave = T0 + timedelta(minutes=600)
    assert first_wave <= datetime.fromisoformat(spread["ts"]) <= first_wave + timedelta(minutes=30)
    assert not any(p.startswith("o") for a in alerts for p in a["post_ids"])
    assert "2 条无法读取" in err and "未发送任何通知" in err
    # the summary says how much the queue holds and which rules filled it
    queued = int(re.search(r"审核队列：(\d+) 条", err).group(1))
    by_rule = dict((r, int(n)) for r, n in re.findall(r"(\w+) (\d+)", re.search(r"按规则：([^）]*)）", err).group(1)))
    assert queued > 0 and "rumour_post" in by_rule and all(0 < n <= queued for n in by_rule.values())
    assert set(by_rule) <= {r.name for r in load_rules(DEFAULT_RULES)}


def test_another_rule_file_and_the_table(tmp_path, capsys):
    rules = tmp_path / "mine.yaml"
    rules.write_text("""
rules:
  - name: canteen_talk
    title: 食堂讨论
    type: frequency
    filter: {keywords_any: [食堂]}
    num_events: 3
    timeframe: {hours: 2}
    actions: {alert: {level: yellow, title: "食堂讨论 {count} 条", body: "{examples}"}}
""", encoding="utf-8")
    path = tmp_path / "history.jsonl"
    write(path, [rec(f"c{i}", f"食堂的菜价又涨了（{i}）", i * 10) for i in range(3)])
    code, alerts, _ = run(capsys, "--input", str(path), "--rules", str(rules), "--json", "--quiet")
    assert code == 0 and [(a["rule"], a["post_ids"]) for a in alerts] == [("canteen_talk", ["c0", "c1", "c2"])]
    assert alerts[0]["ts"] == (T0 + timedelta(minutes=20)).isoformat()
    main(["--input", str(path), "--rules", str(rules), "--quiet"])
    assert "黄色  canteen_talk  食堂讨论 3 条" in capsys.readouterr().out


def test_errors_say_what_to_do(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "missing.jsonl")]) == 2
    assert "找不到输入文件" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{name: x, title: y, type: nope}]", encoding="utf-8")
    path = tmp_path / "h.jsonl"
    write(path, [rec("a", "你好", 0)])
    assert main(["--input", str(path), "--rules", str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_a_pay_reform_surge_on_day_eight_is_a_surge_within_3_hours_not_a_rumour(tmp_path, capsys):
    """A new deployment replaying a week of ordinary talk, then staff complaining about a published
    policy across channels: a surge rule fires within 3 hours (no week of baseline needed), and the
    complaints, however often repeated, are not a rumour."""
    import random

    rng = random.Random(3)
    ordinary = ["食堂今天的红烧肉不错", "工会的羽毛球赛什么时候报名", "图书馆周末开到几点", "停车场的指示牌很清楚",
                "校车早上七点那班人太多了", "春游活动安排得很好，谢谢工会", "体检报告什么时候出来", "子女入学的材料交给谁"]
    complaints = ["新的绩效分配方案太不合理了，青年教师到手又少了", "绩效改革方案出来了，实验员又是最吃亏的，强烈反对",
                  "学校发布的绩效方案课时费标准下调了，一线教师太难了", "按新绩效办法，我每个月少了八百，凭什么",
                  "绩效新方案对辅导员很不公平，工会能不能反映一下", "这次绩效改革把教学工作量折算得太低了，寒心"]
    records = [rec(f"o{d}-{k}", f"{rng.choice(ordinary)}（{d}-{k}）", d * 1440 + rng.randrange(600),
                   rng.choice(["weibo", "qq", "wechat", "board"]), f"u{rng.randrange(60)}")
               for d in range(8) for k in range(12)]
    start = 7 * 1440 + 120
    records += [rec(f"s{i}", complaints[i % 6] + (f"（{i}）" if i >= 6 else ""), start + i * 6,
                    ["weibo", "qq", "wechat", "board"][i % 4], f"t{i}") for i in range(30)]
    path = tmp_path / "week.jsonl"
    write(path, records)
    code, alerts, _ = run(capsys, "--input", str(path), "--json", "--quiet")
    assert code == 0
    surge = [a for a in alerts if a["rule"] in ("negative_spike", "topic_negative_spike", "negative_surge",
                                                 "topic_negative_surge")]
    assert surge and datetime.fromisoformat(surge[0]["ts"]) <= T0 + timedelta(minutes=start + 180)
    assert not [a for a in alerts if a["rule"].startswith("rumour")]
    assert {a["level"] for a in alerts} <= {"yellow", "orange"}
