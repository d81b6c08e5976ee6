"""Exports in the data standard: every post once, masked unless asked (and audited), no spreadsheet formulas."""
from __future__ import annotations

import csv
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from core.domain import PIISpan
from dashboard import export as export_mod
from dashboard.export import main
from dashboard.openapi import load_schema
from tests.dashboard.helpers import add_post, make_analysis, seed_store

PHONE = "13912345678"


def run(tmp_path, *argv: str) -> int:
    return main(["--data-dir", str(tmp_path / "data"), "--quiet", *argv])


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_every_post_is_exported_once_masked(tmp_path, store, fmt, monkeypatch) -> None:
    monkeypatch.setattr(export_mod, "PAGE", 3)  # several keyset pages
    seed_store(store)
    text = f"电话{PHONE}，报销的事找我"
    add_post(store, "pii", "board", text, 1, make_analysis(text, pii=[PIISpan("phone", 2, 13)]), author_name="王老师")
    out = tmp_path / f"posts.{fmt}"
    assert run(tmp_path, "--what", "posts", "--format", fmt, "--out", str(out)) == 0
    if fmt == "jsonl":
        items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        for item in items:
            jsonschema.validate(item, load_schema("post"))
        ids = [i["id"] for i in items]
        body = out.read_text(encoding="utf-8")
    elif fmt == "csv":
        rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
        ids = [int(r[0]) for r in rows[1:]]
        body = out.read_text(encoding="utf-8-sig")
    else:
        from openpyxl import load_workbook

        rows = list(load_workbook(out).active.iter_rows(values_only=True))
        ids = [int(r[0]) for r in rows[1:]]
        body = "\n".join(" ".join(str(c) for c in r) for r in rows)
    assert len(ids) == len(set(ids)) == store.counts()["posts"]
    assert PHONE not in body and "王老师" not in body


def test_a_clear_export_needs_an_actor_and_reason_and_is_audited(tmp_path, store, capsys) -> None:
    text = f"电话{PHONE}"
    add_post(store, "pii", "board", text, 1, make_analysis(text, pii=[PIISpan("phone", 2, 13)]))
    out = tmp_path / "clear.jsonl"
    assert run(tmp_path, "--what", "posts", "--format", "jsonl", "--out", str(out), "--clear") == 2
    assert "--actor" in capsys.readouterr().err and not out.exists()
    assert run(tmp_path, "--what", "posts", "--format", "jsonl", "--out", str(out), "--clear", "--actor", "张老师",
               "--reason", "纪检调查") == 0
    assert PHONE in out.read_text(encoding="utf-8")
    event = store.audit_log(1)[0]
    assert (event.actor, event.action, event.detail["rows"], event.detail["reason"]) == ("张老师", "export.clear", 1, "纪检调查")
    assert PHONE not in json.dumps(event.detail, ensure_ascii=False)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_no_cell_starts_a_formula(text) -> None:
    cell = export_mod._no_formula(text)
    assert not (isinstance(cell, str) and cell[:1] in "=+-@\t\r")
    assert cell.lstrip("'") == text.lstrip("'") or cell == "'" + text


def test_cases_export(tmp_path, store) -> None:
    seed_store(store)
    out = tmp_path / "cases.jsonl"
    assert run(tmp_path, "--what", "cases", "--format", "jsonl", "--out", str(out)) == 0
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert items
    for item in items:
        jsonschema.validate(item, load_schema("case"))


@pytest.mark.parametrize("what", ["alerts", "decisions"])
def test_alerts_and_decisions_export_in_the_standard(tmp_path, store, what) -> None:
    import json

    from jsonschema import Draft202012Validator

    from dashboard.openapi import load_schema
    from tests.dashboard.test_api import PHONE, _alerts_and_decisions

    _alerts_and_decisions(store, 5)
    store.close()
    out = tmp_path / f"{what}.jsonl"
    assert main(["--what", what, "--format", "jsonl", "--out", str(out), "--data-dir", str(tmp_path / "data"),
                 "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and PHONE not in out.read_text(encoding="utf-8")
    for r in rows:
        Draft202012Validator(load_schema(what[:-1])).validate(r)
    xlsx = tmp_path / f"{what}.xlsx"
    assert main(["--what", what, "--format", "xlsx", "--out", str(xlsx), "--data-dir", str(tmp_path / "data"),
                 "--quiet"]) == 0
    from openpyxl import load_workbook

    ws = load_workbook(xlsx, read_only=True).active
    assert ws.title == {"alerts": "预警", "decisions": "审核决定"}[what] and len(list(ws.iter_rows())) == 6
