"""Every channel type is documented (Datasette style: the docs are tested)."""
from pathlib import Path

from collectors import COLLECTORS

README = Path(__file__).resolve().parents[2] / "collectors" / "README.md"


def test_every_channel_type_has_a_row_and_a_section():
    text = README.read_text(encoding="utf-8")
    for name, cls in COLLECTORS.items():
        assert f"| `{name}` |" in text and f"## `{name}`" in text, name
        for option in cls.options_schema.get("properties", {}):
            if option not in ("name", "type"):
                assert f"`{option}`" in text, f"{name}.{option}"
