"""Rebuild NotoSansSC-Report.ttf, the Chinese font embedded in PDF reports (dashboard.report).

    cd /tmp && npm pack noto-sans-sc@37.0.0 && tar xzf noto-sans-sc-37.0.0.tgz
    pip install fonttools==4.68.0 brotli        # build-time only, not a runtime dependency
    python -m dashboard.fonts.build /tmp/package/noto_sans_sc_regular

Noto Sans SC (SIL Open Font License 1.1, OFL.txt) comes from npm as woff2 pieces split by Unicode
range. They are merged into one TrueType font and cut down to ASCII, CJK punctuation, full-width forms
and the 6,763 characters of GB2312: 2.2 MB, so every PDF viewer shows the report's Chinese without any
font installed (ReportLab's built-in CID fonts are not embedded, and viewers without Adobe's Asian
font packs, such as pdfium and poppler on a plain server, draw nothing for them).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "NotoSansSC-Report.ttf"
DROP = ("GSUB", "GPOS", "BASE", "STAT", "vhea", "vmtx", "gasp", "prep")
NAMES = {1: "Noto Sans SC Report", 4: "Noto Sans SC Report Regular", 6: "NotoSansSC-Report", 16: "Noto Sans SC Report"}


def characters() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0x3000, 0x3040)}
    chars |= {chr(c) for c in range(0xFF00, 0xFFF0)} | set("—…·“”‘’•→↑↓【】《》〔〕")
    for b1 in range(0xA1, 0xF8):
        for b2 in range(0xA1, 0xFF):
            try:
                chars.add(bytes([b1, b2]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def build(folder: Path, out: Path = OUT) -> int:
    from fontTools import subset
    from fontTools.merge import Merger, Options
    from fontTools.ttLib import TTFont

    pieces = sorted(folder.glob("*.woff2"))
    if not pieces:
        raise SystemExit(f"{folder} 下没有 .woff2 文件：请先 npm pack noto-sans-sc@37.0.0 并解压")
    with tempfile.TemporaryDirectory() as tmp:
        plain = []
        for i, p in enumerate(pieces):
            f = TTFont(p)
            f.flavor = None
            for t in DROP:
                if t in f:
                    del f[t]
            path = Path(tmp) / f"{i}.ttf"
            f.save(path)
            plain.append(str(path))
            print(f"\r解包 {i + 1}/{len(pieces)}", end="", file=sys.stderr)
        print("", file=sys.stderr)
        font = Merger(options=Options(drop_tables=["vhea", "vmtx"])).merge(plain)
    opts = subset.Options()
    opts.layout_features, opts.name_IDs, opts.name_languages, opts.notdef_outline = [], ["*"], ["*"], True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in characters()])
    sub.subset(font)
    for rec in font["name"].names:
        if rec.nameID in NAMES:
            rec.string = NAMES[rec.nameID]
    font.save(out)
    n = len(font.getBestCmap())
    print(f"已写入 {out}（{n} 个字符，{out.stat().st_size / 1e6:.1f} MB）", file=sys.stderr)
    return n


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("用法：python -m dashboard.fonts.build <noto_sans_sc_regular 目录>")
    build(Path(sys.argv[1]))
