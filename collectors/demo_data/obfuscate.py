"""Evasion tricks spammers use to slip past keyword filters, applied to advert texts.

Contacts as 薇信/威信/V信/vx/ＶＸ/➕V, zero-width characters inside words, 繁體字,
spaced-out keywords, full-width letters, numbers in Chinese numerals, defanged URLs.
"""
from __future__ import annotations

import random
import string

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\ufeff")
KEYWORDS = ("兼职", "刷单", "日结", "发票", "代开", "贷款", "下款", "借款", "彩金", "娱乐", "减肥",
            "瘦身", "论文", "代写", "代发", "返利", "佣金", "赚钱", "棋牌", "征信", "红包", "导师")
CONTACT_LABELS = ("薇信", "威信", "V信", "vx", "ＶＸ", "➕V", "+V", "加薇", "徽信", "wx", "v❤",
                  "薇❤", "微.信", "VX号", "加v")
QQ_LABELS = ("扣扣", "企鹅", "q群", "Q", "秋秋")
DIGITS_CN = "零一二三四五六七八九"
DIGITS_UPPER = "零壹贰叁肆伍陆柒捌玖"
PINYIN = {"兼职": "jian职", "刷单": "shua单", "贷款": "dai款", "发票": "发piao", "论文": "lun文",
          "微信": "wei信", "博彩": "bo彩", "减肥": "jian肥"}
# Simplified -> Traditional for the characters that matter in adverts (a small hand-made map).
TRAD = dict(zip(
    "职单贷发开论写钱赚结万无门槛减药详询联系机会点网资质证办优专业时间轻松动费额过审们为这个来对让说"
    "长实现体头条马后检导师学课题据复奖赢输场线页号码扫领红礼员够给还贴计划销价显饮营务财税增级"
    "当验试装试户尽给爱宝妈里团队录刊润稿级乐让经纪讯热门闲逾期办买卖广告请请录见",
    "職單貸發開論寫錢賺結萬無門檻減藥詳詢聯係機會點網資質證辦優專業時間輕鬆動費額過審們為這個來對讓說"
    "長實現體頭條馬後檢導師學課題據複獎贏輸場線頁號碼掃領紅禮員夠給還貼計劃銷價顯飲營務財稅增級"
    "當驗試裝試戶盡給愛寶媽裡團隊錄刊潤稿級樂讓經紀訊熱門閒逾期辦買賣廣告請請錄見"))


def handle(rng: random.Random) -> str:
    stem = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 4)))
    return stem + str(rng.randint(100, 99999))


def chinese_digits(digits: str, rng: random.Random) -> str:
    """Write some or all digits as Chinese numerals (幺 for 1 sometimes)."""
    table = DIGITS_UPPER if rng.random() < 0.3 else DIGITS_CN
    mode = rng.random()
    out = []
    for i, ch in enumerate(digits):
        if mode < 0.4 and i >= 3:
            out.append(ch)
        elif ch == "1" and table is DIGITS_CN and rng.random() < 0.4:
            out.append("幺")
        else:
            out.append(table[int(ch)])
    return "".join(out)


def phone(rng: random.Random) -> str:
    digits = rng.choice(("138", "139", "150", "186", "177", "199", "135")) + \
        "".join(str(rng.randrange(10)) for _ in range(8))
    style = rng.random()
    if style < 0.45:
        cn = chinese_digits(digits, rng)
        return f"{cn[:3]} {cn[3:7]} {cn[7:]}" if rng.random() < 0.6 else cn
    if style < 0.7:
        return " ".join(digits)
    if style < 0.85:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return digits


def contact(rng: random.Random) -> str:
    if rng.random() < 0.25:
        number = str(rng.randint(10**7, 3 * 10**9))
        shown = chinese_digits(number, rng) if rng.random() < 0.5 else " ".join(number)
        return rng.choice(QQ_LABELS) + rng.choice(("：", " ", "")) + shown
    label = rng.choice(CONTACT_LABELS)
    value = handle(rng)
    if label in ("ＶＸ", "VX号") or rng.random() < 0.2:
        value = fullwidth(value)
    return label + rng.choice(("：", ":", " ", "", "➡")) + value


def url(rng: random.Random) -> str:
    name = handle(rng)
    tld = rng.choice(("com", "top", "vip", "cc", "xyz", "club"))
    style = rng.random()
    if style < 0.3:
        return f"hxxp://{name}.{tld}"
    if style < 0.55:
        return f"www点{name}点{tld}"
    if style < 0.75:
        return f"{name}[.]{tld}"
    if style < 0.9:
        return "h t t p s : / / " + f"{name} . {tld}"
    return f"复制打开：{name}.{tld}"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def zero_width(text: str, rng: random.Random) -> str:
    hits = [k for k in KEYWORDS if k in text] or [text[:2]]
    for word in rng.sample(hits, min(len(hits), rng.randint(1, 3))):
        broken = word[0] + "".join(rng.choice(ZERO_WIDTH) + ch for ch in word[1:])
        text = text.replace(word, broken)
    return text


def traditional(text: str) -> str:
    return "".join(TRAD.get(ch, ch) for ch in text)


def spaced(text: str, rng: random.Random) -> str:
    hits = [k for k in KEYWORDS if k in text]
    if not hits:
        return " ".join(text[:4]) + text[4:]
    word = rng.choice(hits)
    return text.replace(word, " ".join(word), 1)


def pinyin(text: str, rng: random.Random) -> str:
    for word, sub in PINYIN.items():
        if word in text and rng.random() < 0.7:
            text = text.replace(word, sub, 1)
    return text


def decorate(text: str, rng: random.Random) -> str:
    mark = rng.choice(("💰", "🔥", "✅", "❤", "⭐", "🧧"))
    if rng.random() < 0.5:
        return f"{mark}{text}{mark}"
    return text.replace("，", mark, 1)


TRICKS = ("zero_width", "traditional", "spaced", "pinyin", "decorate")


def disguise(text: str, rng: random.Random) -> str:
    """Apply one to three evasion tricks (contacts/URLs are obfuscated when filled in)."""
    for trick in rng.sample(TRICKS, rng.choices((1, 2, 3), weights=(0.45, 0.4, 0.15))[0]):
        if trick == "zero_width":
            text = zero_width(text, rng)
        elif trick == "traditional":
            text = traditional(text)
        elif trick == "spaced":
            text = spaced(text, rng)
        elif trick == "pinyin":
            text = pinyin(text, rng)
        else:
            text = decorate(text, rng)
    return text
