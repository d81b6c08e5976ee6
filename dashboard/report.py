"""舆情报告 (daily / weekly / monthly): the period against the one before, as HTML or PDF.

    python -m dashboard.report --period weekly --date 2026-03-04 --format pdf --out 周报.pdf [--config FILE] [--data-dir DIR]

A report covers one period in the configured time zone (a day; the Monday-to-Sunday week holding
`--date`; its calendar month). It shows volume and sentiment by day, channel and topic against the
previous period, the rumour cases of the period and how they were answered (who, how soon, and the
posts in the 24 hours before and after the first answer), the top 诉求 leads, the moderators' workload
and response times, and alerts by level. Every figure comes from queries bounded by the period.
Personal data is masked throughout: a report is read and forwarded by many. The PDF embeds a subset of
Noto Sans SC (dashboard/fonts/, GB2312 and punctuation), so every viewer shows its Chinese with no font
installed.
"""
from __future__ import annotations

import argparse
import functools
import html
import re
import statistics
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.cli import ChineseArgumentParser, add_service_options, service_settings
from core.domain import REPORT_PERIODS_ZH, Level, channel_label
from core.errors import SentinelError
from core.masking import redact

PERIOD_ZH = REPORT_PERIODS_ZH
NO_TOPIC = "未分类"
CASE_STATE_ZH = {"suspected": "疑似", "verifying": "核实中", "clarified": "已澄清", "subsided": "平息", "false_alarm": "误报"}


@dataclass
class Period:
    kind: str
    start: datetime  # aware, local midnight
    end: datetime

    @property
    def label(self) -> str:
        last = (self.end - timedelta(days=1)).date()
        if self.kind == "daily":
            return f"{self.start:%Y年%m月%d日}"
        if self.kind == "monthly":
            return f"{self.start:%Y年%m月}"
        return f"{self.start:%Y年%m月%d日}—{last:%m月%d日}"


def period_bounds(kind: str, day: date, tz: str) -> tuple[Period, Period]:
    """This period and the one before it, in the time zone `tz`."""
    zone = ZoneInfo(tz)
    if kind == "daily":
        first, nxt, prev = day, day + timedelta(days=1), day - timedelta(days=1)
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        nxt, prev = first + timedelta(days=7), first - timedelta(days=7)
    elif kind == "monthly":
        first = day.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        prev = (first - timedelta(days=1)).replace(day=1)
    else:
        raise SentinelError(f"未知的报告周期“{kind}”，可选：daily、weekly、monthly")
    at = lambda d: datetime.combine(d, time(0), zone)  # noqa: E731
    return Period(kind, at(first), at(nxt)), Period(kind, at(prev), at(first))


@dataclass
class CaseLine:
    title: str
    state: str
    posts: int
    first_answer_by: str = ""
    answer_minutes: float | None = None
    before: int = 0  # posts in the 24 h before the first answer
    after: int = 0  # ... and in the 24 h after it


@dataclass
class Report:
    period: Period
    previous: Period
    now: dict[str, Any]
    before: dict[str, Any]
    days: list[tuple[str, int, int, int]] = field(default_factory=list)  # (day, pos, neu, neg)
    cases: list[CaseLine] = field(default_factory=list)
    lead_topics: list[tuple[str, int]] = field(default_factory=list)
    leads: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, topic, masked text)

    @property
    def title(self) -> str:
        return f"工会舆情{PERIOD_ZH[self.period.kind]}（{self.period.label}）"

    def change(self, key: str) -> str:
        a, b = self.now[key], self.before[key]
        if not b:
            return "上期为 0" if a else "持平"
        pct = (a - b) / b * 100
        return f"{'+' if pct >= 0 else ''}{pct:.0f}%"

    @property
    def negative_share(self) -> float:
        return self.now["negative"] / self.now["posts"] if self.now["posts"] else 0.0

    @property
    def previous_negative_share(self) -> float:
        return self.before["negative"] / self.before["posts"] if self.before["posts"] else 0.0

    def channels(self) -> list[tuple[str, int, int, int]]:
        """(channel label, posts, negative, posts in the previous period)."""
        names = list(dict.fromkeys([*self.now["by_channel"], *self.before["by_channel"]]))
        rows = [(channel_label(c), *self.now["by_channel"].get(c, (0, 0)), self.before["by_channel"].get(c, (0, 0))[0])
                for c in names]
        return sorted(rows, key=lambda r: -r[1])

    def topics(self, limit: int = 8) -> list[tuple[str, int, int, int]]:
        names = list(dict.fromkeys([*self.now["by_topic"], *self.before["by_topic"]]))
        rows = [(t or NO_TOPIC, *self.now["by_topic"].get(t, (0, 0)), self.before["by_topic"].get(t, (0, 0))[0])
                for t in names]
        return sorted(rows, key=lambda r: -r[1])[:limit]

    def alerts(self) -> list[tuple[str, int, int]]:
        return [(f"{lv.label_zh}色", self.now["alerts"].get(lv.value, 0), self.before["alerts"].get(lv.value, 0))
                for lv in (Level.RED, Level.ORANGE, Level.YELLOW)]

    def response_summary(self) -> str:
        m = self.now["response_minutes"]
        if not m:
            return "本期没有人工审核决定"
        p90 = m[min(len(m) - 1, int(round(0.9 * (len(m) - 1))))]
        return f"人工审核 {len(m)} 条，从标记到处理的中位时间 {_duration(statistics.median(m))}，90% 在 {_duration(p90)} 内"


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} 分钟" if minutes < 120 else f"{minutes / 60:.1f} 小时"


def build_report(store: Any, kind: str, day: date, tz: str) -> Report:
    from dashboard.present import visible_text

    period, previous = period_bounds(kind, day, tz)
    rep = Report(period, previous, store.period_stats(period.start, period.end),
                 store.period_stats(previous.start, previous.end))
    for p in store.sentiment_series(period.start, period.end, bucket="day", tz=tz):
        rep.days.append((p.start.astimezone(ZoneInfo(tz)).strftime("%m-%d"), p.pos, p.neu, p.neg))
    for case_id in rep.now["rumour_case_ids"][:5]:
        case = store.get_case(case_id)
        if case is None:
            continue
        line = CaseLine(redact(case.title), CASE_STATE_ZH.get(case.state.value, case.state.value), len(case.post_ids))
        answers = sorted(store.case_responses(case_id), key=lambda r: r.created_at)
        if answers:
            first = answers[0]
            line.first_answer_by = first.username
            line.answer_minutes = max(0.0, (first.created_at - case.created_at).total_seconds() / 60)
            times = store.case_post_times(case_id)
            day_ = timedelta(hours=24)
            line.before = sum(1 for t in times if first.created_at - day_ <= t < first.created_at)
            line.after = sum(1 for t in times if first.created_at <= t < first.created_at + day_)
        rep.cases.append(line)
    rep.lead_topics = [(t or NO_TOPIC, n) for t, n in store.grievance_topics(period.start, period.end)[:6]]
    for post, a in store.grievance_leads(period.start, period.end, limit=5):
        text = visible_text(post, a, clear=False)
        rep.leads.append((channel_label(post.channel), a.topic or NO_TOPIC, text[:120]))
    return rep


# ---------------------------------------------------------------------------- HTML
def render_html(rep: Report) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    return env.get_template("report/report.html").render(r=rep, bars=svg_days(rep.days))


def svg_days(days: list[tuple[str, int, int, int]], width: int = 640, height: int = 180) -> list[dict[str, Any]]:
    """Stacked bars (pos / neu / neg) per day, as numbers for the template's inline SVG."""
    if not days:
        return []
    top = max(pos + neu + neg for _, pos, neu, neg in days) or 1
    step = width / len(days)
    out = []
    for i, (label, pos, neu, neg) in enumerate(days):
        y = height
        segs = []
        for n, cls in ((neg, "neg"), (neu, "neu"), (pos, "pos")):
            h = n / top * (height - 20)
            y -= h
            segs.append({"y": round(y, 1), "h": round(h, 1), "cls": cls, "n": n})
        out.append({"x": round(i * step + step * 0.15, 1), "w": round(step * 0.7, 1), "label": label, "segs": segs})
    return out


# ---------------------------------------------------------------------------- PDF
FONT = "NotoSansSC-Report"
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Report.ttf"  # embedded: see fonts/build.py


def render_pdf(rep: Report, out: Path | Any) -> None:
    """Write the PDF to a path or a binary file object."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    h1 = ParagraphStyle("h1", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=FONT, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15, wordWrap="CJK")
    covered = _font_chars()

    def esc(value: Any) -> str:
        """Text for a Paragraph: markup escaped, characters the font lacks (emoji, rare ones) left out."""
        text = "".join(ch for ch in str(value) if ch in covered or ch.isspace())
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        t = Table([[Paragraph(esc(c), body) for c in r] for r in rows], colWidths=widths)
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story: list[Any] = [Paragraph(esc(rep.title), h1)]
    n = rep.now
    story.append(Paragraph(esc(
        f"本期帖子 {n['posts']} 条（环比 {rep.change('posts')}），负面占比 {rep.negative_share:.0%}"
        f"（上期 {rep.previous_negative_share:.0%}）；送审 {n['flagged']} 条，删除 {n['removed']} 条，"
        f"预警 {sum(n['alerts'].values())} 条，诉求线索 {n['leads']} 条。"), body))

    story.append(Paragraph("每日发帖量与情感", h2))
    if rep.days:
        d = Drawing(170 * mm, 62 * mm)
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 12 * mm, 10 * mm, 150 * mm, 45 * mm
        chart.data = [[x[1] for x in rep.days], [x[2] for x in rep.days], [x[3] for x in rep.days]]
        chart.categoryAxis.style = "stacked"
        chart.categoryAxis.categoryNames = [x[0] for x in rep.days]
        chart.categoryAxis.labels.fontName = FONT
        chart.categoryAxis.labels.fontSize = 6 if len(rep.days) > 10 else 8
        chart.valueAxis.labels.fontName = FONT
        chart.valueAxis.valueMin = 0
        for i, c in enumerate(("#52c41a", "#bfbfbf", "#f5222d")):
            chart.bars[i].fillColor = colors.HexColor(c)
        d.add(chart)
        d.add(String(12 * mm, 58 * mm, "绿：正面　灰：中性　红：负面", fontName=FONT, fontSize=8))
        story.append(d)
    else:
        story.append(Paragraph("本期没有帖子。", body))

    story.append(Paragraph("渠道", h2))
    channels = rep.channels()
    if channels:
        d = Drawing(170 * mm, max(30, 9 * len(channels)) * mm * 0.6 + 12 * mm)
        chart = HorizontalBarChart()
        chart.x, chart.y = 28 * mm, 6 * mm
        chart.width, chart.height = 130 * mm, max(30, 9 * len(channels)) * mm * 0.6
        chart.data = [[c[1] for c in reversed(channels)], [c[3] for c in reversed(channels)]]
        chart.categoryAxis.categoryNames = [c[0] for c in reversed(channels)]
        chart.categoryAxis.labels.fontName = FONT
        chart.valueAxis.labels.fontName = FONT
        chart.valueAxis.valueMin = 0
        chart.bars[0].fillColor = colors.HexColor("#1677ff")
        chart.bars[1].fillColor = colors.HexColor("#bae0ff")
        d.add(chart)
        story.append(d)
        story.append(Paragraph("深蓝：本期　浅蓝：上期", body))
        story.append(table([["渠道", "本期", "其中负面", "上期"]] + [[c[0], c[1], c[2], c[3]] for c in channels],
                           [50 * mm, 35 * mm, 35 * mm, 35 * mm]))

    story.append(Paragraph("话题", h2))
    topics = rep.topics()
    story.append(table([["话题", "本期", "其中负面", "上期"]] + [[t[0], t[1], t[2], t[3]] for t in topics]
                       if topics else [["话题"], ["本期没有帖子"]], [50 * mm, 35 * mm, 35 * mm, 35 * mm] if topics else [155 * mm]))

    story.append(Paragraph("谣言事件与回应", h2))
    if rep.cases:
        rows = [["事件", "状态", "帖子", "首次回应", "回应前后 24 小时帖子"]]
        for c in rep.cases:
            who = f"{c.first_answer_by}，{_duration(c.answer_minutes)}" if c.answer_minutes is not None else "尚未回应"
            rows.append([c.title[:60], c.state, c.posts, who, f"{c.before} → {c.after}" if c.first_answer_by else "-"])
        story.append(table(rows, [62 * mm, 18 * mm, 14 * mm, 35 * mm, 26 * mm]))
    else:
        story.append(Paragraph("本期没有谣言事件。", body))

    story.append(Paragraph("诉求线索（提案线索）", h2))
    if rep.lead_topics:
        story.append(Paragraph(esc("按话题：" + "、".join(f"{t} {k} 条" for t, k in rep.lead_topics)), body))
        story.append(Spacer(1, 3 * mm))
        story.append(table([["渠道", "话题", "摘录（已遮盖个人信息）"]] + [list(x) for x in rep.leads],
                           [22 * mm, 25 * mm, 108 * mm]))
    else:
        story.append(Paragraph("本期没有识别到诉求。", body))

    story.append(Paragraph("审核工作量与预警", h2))
    story.append(Paragraph(esc(f"{rep.response_summary()}；规则自动删除 {n['auto_removed']} 条。"), body))
    story.append(Spacer(1, 3 * mm))
    story.append(table([["预警级别", "本期", "上期"]] + [list(a) for a in rep.alerts()], [50 * mm, 35 * mm, 35 * mm]))

    doc = SimpleDocTemplate(str(out) if isinstance(out, Path) else out, pagesize=A4, title=rep.title, author="高校工会舆情哨兵",
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm)
    doc.build(story)


@functools.lru_cache(maxsize=1)
def _font_chars() -> frozenset[str]:
    """The characters the embedded font can draw (after `render_pdf` registered it)."""
    from reportlab.pdfbase import pdfmetrics

    return frozenset(chr(c) for c in pdfmetrics.getFont(FONT).face.charToGlyph)


# ---------------------------------------------------------------------------- archive
ARCHIVE_DIR = "reports"  # under the data directory
_ARCHIVE_NAME = re.compile(r"^(daily|weekly|monthly)-(\d{4}-\d{2}-\d{2})\.(pdf|html)$")


def last_complete(kind: str, now: datetime) -> date:
    """The first day of the latest period of `kind` that has ended by `now` (local time)."""
    today = now.date()
    if kind == "daily":
        return today - timedelta(days=1)
    if kind == "weekly":
        return today - timedelta(days=today.weekday() + 7)
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def archive_due(store: Any, data_dir: Path, tz: str, now: datetime, kinds: tuple[str, ...] = tuple(PERIOD_ZH),
                not_before_hour: int = 7) -> list[Path]:
    """Write the reports of the latest ended periods that the archive lacks (PDF and HTML, each
    written to a temporary name and renamed, so a crash leaves no half file). Runs from the service's
    housekeeping job; nothing is done before `not_before_hour` local time, when late posts of the
    night have arrived. Returns the files written."""
    local = now.astimezone(ZoneInfo(tz))
    if local.hour < not_before_hour:
        return []
    folder = data_dir / ARCHIVE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        period, _ = period_bounds(kind, last_complete(kind, local), tz)
        stem = f"{kind}-{period.start.date().isoformat()}"
        if (folder / f"{stem}.pdf").exists():
            continue
        written += _write_archived(store, folder, kind, period.start.date(), tz)
    return written


def _write_archived(store: Any, folder: Path, kind: str, start: date, tz: str) -> list[Path]:
    stem = f"{kind}-{start.isoformat()}"
    rep = build_report(store, kind, start, tz)
    html_tmp, pdf_tmp = folder / f".{stem}.html.tmp", folder / f".{stem}.pdf.tmp"
    html_tmp.write_text(render_html(rep), encoding="utf-8")
    render_pdf(rep, pdf_tmp)
    html_tmp.replace(folder / f"{stem}.html")
    pdf_tmp.replace(folder / f"{stem}.pdf")  # last: its presence means the period is done
    return [folder / f"{stem}.pdf", folder / f"{stem}.html"]


def rewrite_archived(store: Any, data_dir: Path, tz: str, sources: list[str], min_len: int = 6) -> list[Path]:
    """After an erasure: the archived reports that quote one of `sources` (the erased texts, see
    store.base.Erasure) written again from the store, which no longer holds them. A report quotes
    the start of a text (lead excerpts, case titles), so the first characters are what is looked
    for. Returns the files rewritten."""
    folder = data_dir / ARCHIVE_DIR
    heads = [" ".join(src.split())[:24] for src in sources if len(src) >= min_len]
    rewritten: list[Path] = []
    for kind, start, _, fmts in archived(data_dir):
        page = folder / f"{kind}-{start.isoformat()}.html"
        try:
            text = " ".join(html.unescape(page.read_text(encoding="utf-8")).split()) if "html" in fmts else ""
        except OSError:
            text = ""
        # without the HTML there is no telling what the PDF quotes: write both again
        if "html" not in fmts or any(head in text for head in heads):
            rewritten += _write_archived(store, folder, kind, start, tz)
    return rewritten


def archived(data_dir: Path) -> list[tuple[str, date, str, list[str]]]:
    """(kind, period start, title label, formats) of the archived reports, newest first."""
    folder = data_dir / ARCHIVE_DIR
    found: dict[tuple[str, date], list[str]] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _ARCHIVE_NAME.match(p.name)
            if m:
                found.setdefault((m.group(1), date.fromisoformat(m.group(2))), []).append(m.group(3))
    out = []
    for (kind, start), fmts in found.items():
        if "pdf" in fmts:
            out.append((kind, start, f"{PERIOD_ZH[kind]}（{start.isoformat()} 起）", sorted(fmts)))
    return sorted(out, key=lambda r: (r[1], r[0]), reverse=True)


def archive_file(data_dir: Path, name: str) -> Path | None:
    """The archived file of that exact name, or None (no paths, no other files)."""
    if not _ARCHIVE_NAME.match(name):
        return None
    p = data_dir / ARCHIVE_DIR / name
    return p if p.is_file() else None


# ---------------------------------------------------------------------------- command line
def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(prog="python -m dashboard.report", description="生成舆情日报、周报或月报（HTML 或 PDF）。",
                              epilog="示例：python -m dashboard.report --period weekly --date 2026-03-04 --format pdf --out 周报.pdf")
    p.add_argument("--period", required=True, choices=tuple(PERIOD_ZH), help="daily 日报、weekly 周报（周一到周日）、monthly 月报")
    p.add_argument("--date", required=True, help="报告所在的日期 YYYY-MM-DD（周报取其所在的周，月报取其所在的月）")
    p.add_argument("--format", required=True, choices=("pdf", "html"), help="输出格式")
    p.add_argument("--out", required=True, type=Path, help="输出文件")
    add_service_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            raise SentinelError(f"日期“{args.date}”格式不对，应为 YYYY-MM-DD，如 2026-03-04") from None
        from store import open_existing_store

        settings = service_settings(args)
        store = open_existing_store(settings)
        try:
            rep = build_report(store, args.period, day, settings.timezone)
        finally:
            store.close()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.format == "html":
            args.out.write_text(render_html(rep), encoding="utf-8")
        else:
            render_pdf(rep, args.out)
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"错误：无法写入 {args.out}：{e}", file=sys.stderr)
        return 2
    print(f"已生成{rep.title}：{args.out}（帖子 {rep.now['posts']} 条）")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
