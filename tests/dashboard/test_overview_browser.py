"""The officers' dashboard in a real browser (Debian's chromium through Playwright): filters, charts and
the word cloud drawn under the CSP, drill-down by a table link and by a click on a chart, the 诉求
board's 转为提案, hostile words that stay data, and a phone-sized screen."""
from __future__ import annotations

import pytest

from core.domain import Sentiment
from tests.dashboard.helpers import add_post, make_analysis, password_for
from tests.dashboard.test_dashboard_browser import ARGS, CHROMIUM, live_url, page, pytestmark, ui_login  # noqa: F401 (fixtures)


CHARTS = ("#chart-daily", "#chart-topics", "#chart-channels", "#chart-negshare", "#chart-topicneg", "#chart-words",
          "#chart-moderation")
HOSTILE_WORD = "<img src=x onerror=window.__pwned=3>"[:20]


@pytest.fixture
def dashboard_data(store, seeded):
    """Weibo posts with keywords (one of them hostile) and a grievance lead, on top of the seeded store."""
    for i in range(6):
        text = f"食堂的饭菜又涨价了{i}<script>window.__pwned=1</script>"
        add_post(store, f"w{i}", "weibo", text, 2 + i,
                 make_analysis(text, sentiment=Sentiment.NEG if i % 2 else Sentiment.NEU, polarity=-0.4, topic="食堂",
                               keywords=["食堂", "涨价", HOSTILE_WORD] if i < 3 else ["食堂", "饭菜"]))
    lead_text = "青年教师周转房排队三年了，希望工会推动<img src=x onerror=window.__pwned=4>"
    lead = add_post(store, "lead-w", "weibo", lead_text, 1,
                    make_analysis(lead_text, sentiment=Sentiment.NEG, polarity=-0.5, grievance=0.93, topic="住房保障"))
    return {"lead": lead, "lead_text": lead_text}


def charts_drawn(pg) -> None:
    for chart in CHARTS:
        pg.wait_for_selector(f"{chart}[data-ready='1'] canvas")


def painted(pg, selector: str) -> int:
    """How many pixels of the chart's canvas are not transparent."""
    return pg.evaluate("""(sel) => {
        const c = document.querySelector(sel + ' canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } }
        return n;
    }""", selector)


def test_an_officer_filters_reads_drills_down_and_turns_a_grievance_into_a_proposal(page, store, dashboard_data):
    ui_login(page, "officer")
    assert page.url.endswith("/overview")
    charts_drawn(page)
    page.select_option("select[name=days]", "7")
    page.select_option("select[name=channel]", "weibo")
    with page.expect_navigation():
        page.click("form.dash-filters button[type=submit]")
    assert "days=7" in page.url and "channel=weibo" in page.url
    charts_drawn(page)
    assert painted(page, "#chart-words") > 500  # the cloud drew its words
    for chart in CHARTS:
        assert painted(page, chart) > 500, chart
    words = page.evaluate("fetch(document.querySelector('#chart-words').dataset.dashSrc).then(r => r.json())")
    assert {w["name"] for w in words["words"]} == {"食堂", "涨价", "饭菜", HOSTILE_WORD}
    assert page.locator("#chart-words img").count() == 0  # drawn on the canvas, never as markup

    # drill down from a topic of the table
    with page.expect_navigation():
        page.click("a.drill:text-is('食堂')")
    assert "/overview/posts" in page.url and "channel=weibo" in page.url and "days=7" in page.url
    shown = page.locator(".post-card .post-text").all_inner_texts()
    hostile = [t for t in shown if t.startswith("食堂的饭菜又涨价了")]
    assert len(hostile) == 6 and all("<script>window.__pwned=1</script>" in t for t in hostile)
    assert "食堂的饭菜最近改善了很多，点赞" in shown and len(shown) == 7  # the seeded 微博 post on 食堂
    page.go_back()
    charts_drawn(page)

    # drill down by clicking the channel chart's latest bar
    page.locator("#chart-channels").scroll_into_view_if_needed()
    x, y, day = page.evaluate("""async () => {
        const el = document.querySelector('#chart-channels');
        const chart = window.echarts.getInstanceByDom(el);
        const data = chart.getOption().series[0].data;
        let i = data.length - 1;
        while (i > 0 && !data[i]) { i--; }
        const p = chart.convertToPixel({ seriesIndex: 0 }, [i, data[i] / 2]);
        const box = el.getBoundingClientRect();
        const trends = await fetch(el.dataset.dashSrc).then(r => r.json());
        return [box.left + p[0], box.top + p[1], trends.days[i]];
    }""")
    with page.expect_navigation():
        page.mouse.click(x, y)
    assert "/overview/posts" in page.url and f"day={day}" in page.url and "channel=weibo" in page.url
    assert page.locator(".post-card").count() >= 1
    assert set(page.locator(".post-card .badge.channel").all_inner_texts()) == {"微博"}
    page.go_back()

    # the 诉求 board: 转为提案 from the dashboard, back to the same filter
    lead = dashboard_data["lead"]
    assert page.locator(f"#lead-text-{lead.id}").inner_text() == dashboard_data["lead_text"]
    form = page.locator(f"form[aria-label='处理诉求 #{lead.id}']")
    form.locator("input[name=note]").fill("列入教代会提案")
    with page.expect_navigation():
        form.locator("button[value=proposal]").click()
    assert "已转为提案" in page.locator(".flash-ok").inner_text()
    assert "days=7" in page.url and "channel=weibo" in page.url
    assert store.lead_states([lead.id])[lead.id][:2] == ("proposal", "列入教代会提案")
    assert page.locator(f"#lead-text-{lead.id}").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.problems == []


def eventually(pg, expression: str, seconds: float = 10) -> bool:
    """Poll an expression from Python (the page's CSP forbids the eval that wait_for_function uses)."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pg.evaluate(expression):
            return True
        time.sleep(0.1)
    return False


def test_the_dashboard_fits_a_phone(live_url, store, dashboard_data):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                      has_touch=True, base_url=live_url)
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.goto("/login")
        pg.fill("input[name=username]", "officer")
        pg.fill("input[name=password]", password_for("officer"))
        with pg.expect_navigation():
            pg.click("form button[type=submit]")
        for path in ("/overview?days=30", "/overview/posts?days=30&topic=食堂"):
            pg.goto(path)
            if path.startswith("/overview?"):
                charts_drawn(pg)
                widths = pg.evaluate(f"""() => {list(CHARTS)!r}.map(s => [
                    document.querySelector(s + ' canvas').getBoundingClientRect().right,
                    document.querySelector(s).getBoundingClientRect().right])""")
                assert all(canvas <= 390 and canvas <= box + 1 for canvas, box in widths), widths
                scrolls = pg.evaluate("""() => [...document.querySelectorAll('.table-scroll')].map(
                    t => [t.getBoundingClientRect().right, getComputedStyle(t).overflowX])""")
                assert scrolls and all(right <= 390 and ov == "auto" for right, ov in scrolls), scrolls
                # a chart follows the screen when it turns
                pg.set_viewport_size({"width": 844, "height": 390})
                assert eventually(pg, "document.querySelector('#chart-daily canvas').getBoundingClientRect().width > 600")
                pg.set_viewport_size({"width": 390, "height": 844})
                assert eventually(pg, "document.querySelector('#chart-daily canvas').getBoundingClientRect().width < 390")
            overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)
        assert pg.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []
        browser.close()
