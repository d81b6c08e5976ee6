"""舆情报告: the period's figures against the previous one, as HTML and as a PDF whose Chinese text and
charts are really drawn (rendered to images with pdfium, which has no Chinese font of its own)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from core.domain import Sentiment
from dashboard.report import build_report, main, period_bounds, render_html
from tests.dashboard.helpers import add_post, make_analysis, seed_store

PHONE = "13912345678"


@pytest.mark.parametrize("kind, day, start, end", [
    ("daily", date(2026, 3, 4), date(2026, 3, 4), date(2026, 3, 5)),
    ("weekly", date(2026, 3, 4), date(2026, 3, 2), date(2026, 3, 9)),  # Monday to Sunday
    ("weekly", date(2026, 3, 8), date(2026, 3, 2), date(2026, 3, 9)),
    ("monthly", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
    ("monthly", date(2026, 3, 1), date(2026, 3, 1), date(2026, 4, 1)),
])
def test_periods_and_the_one_before(kind, day, start, end) -> None:
    now, before = period_bounds(kind, day, "Asia/Shanghai")
    assert (now.start.date(), now.end.date()) == (start, end)
    assert before.end == now.start and before.start < before.end
    assert now.start.utcoffset() == timedelta(hours=8)


def test_the_report_counts_this_period_against_the_last_and_masks_personal_data(store) -> None:
    seed_store(store)
    text = f"报销拖了两个月还没到账，我电话{PHONE}，希望财务处给个说法"
    add_post(store, "lead", "board", text, 1, make_analysis(text, sentiment=Sentiment.NEG, polarity=-0.6,
                                                            grievance=0.9, topic="薪酬待遇"))
    today = datetime.now(timezone.utc).astimezone().date()
    rep = build_report(store, "monthly", today, "Asia/Shanghai")
    assert rep.now["posts"] >= 1 and rep.now["leads"] >= 1
    assert sum(c[1] for c in rep.channels()) == rep.now["posts"]
    html = render_html(rep)
    assert "工会舆情月报" in html and "报销拖了两个月" in html and PHONE not in html


def test_the_weekly_pdf_draws_its_chinese_text_and_charts(tmp_path, store) -> None:
    import pypdfium2 as pdfium

    seed_store(store)
    for i in range(40):
        t = f"食堂第{i}次涨价了，太贵😡" if i % 2 else f"工会活动第{i}场办得很好"
        add_post(store, f"w{i}", ("weibo", "qq", "wechat")[i % 3], t, 2 + i,
                 make_analysis(t, sentiment=Sentiment.NEG if i % 2 else Sentiment.POS, topic="食堂餐饮"))
    out = tmp_path / "周报.pdf"
    today = datetime.now(timezone.utc).astimezone().date()
    assert main(["--period", "weekly", "--date", today.isoformat(), "--format", "pdf", "--out", str(out),
                 "--data-dir", str(tmp_path / "data")]) == 0  # the store fixture's directory
    raw = out.read_bytes()
    assert b"/FontFile2" in raw  # the Chinese font travels with the file
    pdf = pdfium.PdfDocument(str(out))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "工会舆情周报" in text and "每日发帖量与情感" in text and "渠道" in text
    page = pdf[0].render(scale=1).to_pil().convert("L")
    w, h = page.size
    title = page.crop((0, 0, w, int(h * 0.12)))
    assert sum(title.histogram()[:128]) > 500, "the title's glyphs are not drawn"
    chart = page.crop((0, int(h * 0.15), w, int(h * 0.4)))
    assert sum(chart.histogram()[:200]) > 5000, "the daily chart is empty"


def test_a_missing_store_or_bad_date_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["--period", "weekly", "--date", "2026-13-01", "--format", "pdf", "--out", str(tmp_path / "x.pdf"),
                 "--data-dir", str(tmp_path)]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["--period", "weekly", "--date", "2026-03-01", "--format", "html", "--out", str(tmp_path / "x.html"),
                 "--data-dir", str(tmp_path / "empty")]) == 2
    assert "数据库" in capsys.readouterr().err


def test_the_housekeeping_job_archives_each_ended_period_once(tmp_path, store, app, client, login) -> None:
    from dashboard.report import archive_due, archived

    seed_store(store)
    data = tmp_path / "data"
    early = datetime(2026, 3, 4, 5, 0, tzinfo=timezone(timedelta(hours=8)))
    assert archive_due(store, data, "Asia/Shanghai", early) == []  # before 7:00: nothing yet
    now = datetime(2026, 3, 4, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    names = sorted(p.name for p in archive_due(store, data, "Asia/Shanghai", now))
    assert names == ["daily-2026-03-03.html", "daily-2026-03-03.pdf", "monthly-2026-02-01.html",
                     "monthly-2026-02-01.pdf", "weekly-2026-02-23.html", "weekly-2026-02-23.pdf"]
    assert archive_due(store, data, "Asia/Shanghai", now + timedelta(hours=1)) == []  # once per period
    assert not list((data / "reports").glob(".*tmp"))
    assert [r[0] for r in archived(data)] == ["daily", "weekly", "monthly"]
    login("officer")
    page = client.get("/reports/archive").get_data(as_text=True)
    assert "daily-2026-03-03.pdf" in page
    resp = client.get("/reports/archive/daily-2026-03-03.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    for bad in ("../sentinel.db", "daily-2026-03-03.exe", "..%2Fsentinel.db", "sentinel.db"):
        assert client.get(f"/reports/archive/{bad}").status_code == 404
