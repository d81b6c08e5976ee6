"""The OpenAPI 3.1 document of /api/v1/, built from the JSON Schemas in schemas/ (the data standard)."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """A schema file of schemas/ (e.g. "post"), as committed."""
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def _component(name: str, components: dict[str, Any]) -> dict[str, Any]:
    """The schema as an OpenAPI component: its $defs become components, references follow them."""
    s = copy.deepcopy(load_schema(name))
    for k in ("$schema", "$id"):
        s.pop(k, None)
    for def_name, d in s.pop("$defs", {}).items():
        components[def_name.capitalize()] = d
    text = json.dumps(s).replace('"#/$defs/', '"#/components/schemas/')
    for def_name in list(components):
        text = text.replace(f'/components/schemas/{def_name.lower()}"', f'/components/schemas/{def_name}"')
    return json.loads(text)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(version: str, max_limit: int, default_limit: int) -> dict[str, Any]:
    components: dict[str, Any] = {}
    components["Post"] = _component("post", components)
    components["Case"] = _component("case", components)
    components["Alert"] = _component("alert", components)
    components["Decision"] = _component("decision", components)
    components["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    limit = {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default_limit}}
    common = {"401": _error("没有令牌，或令牌无效、已吊销"), "403": _error("令牌没有所需权限"),
              "429": _error("请求过于频繁（响应头 Retry-After 给出等待秒数）")}

    def _feed(summary: str, operation: str, component: str, noun: str) -> dict[str, Any]:
        return {"get": {
            "summary": summary, "operationId": operation,
            "parameters": [
                {"name": "since", "in": "query", "required": False, "description": f"只返回此时间及之后的{noun}（ISO 8601）",
                 "schema": {"type": "string", "format": "date-time"}},
                limit,
                {"name": "cursor", "in": "query", "required": False, "description": "上一页返回的 next，原样传回",
                 "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": f"一页{noun}；next 为 null 表示没有更多",
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["items", "next"], "additionalProperties": False,
                            "properties": {"items": {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}},
                                           "next": {"type": ["string", "null"]}}}}}},
                "400": _error("参数无效"), **common,
            },
        }}

    return {
        "openapi": "3.1.0",
        "info": {"title": "高校工会舆情哨兵 只读 API", "version": version,
                 "description": "帖子及分析结果、事件、预警与审核决定的只读接口。令牌由管理员用 python -m dashboard.apitokens 创建；"
                                "无 pii:read 权限时个人信息一律遮盖。数据格式见仓库 schemas/ 下的 JSON Schema。"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/posts": _feed("按时间顺序读取帖子及其分析结果（键集分页）", "listPosts", "Post", "帖子"),
            "/api/v1/alerts": _feed("按时间顺序读取预警（键集分页）", "listAlerts", "Alert", "预警"),
            "/api/v1/decisions": _feed("按时间顺序读取审核决定（键集分页）", "listDecisions", "Decision", "审核决定"),
            "/api/v1/cases": {"get": {
                "summary": "读取事件（谣言、刷屏、负面激增），最近更新的在前", "operationId": "listCases",
                "parameters": [limit, {"name": "status", "in": "query", "required": False,
                                       "schema": {"enum": ["open", "closed", "all"], "default": "open"}}],
                "responses": {
                    "200": {"description": "事件列表", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["items"], "additionalProperties": False,
                        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}}}}}}},
                    "400": _error("参数无效"), **common,
                },
            }},
        },
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "python -m dashboard.apitokens add 名称 --scopes …"}}},
    }
