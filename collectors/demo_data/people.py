"""Pseudonymous authors per channel: stable ids, platform-typical display names, activity.

Ids look like `wx_u_3f9a0c21b7`; they come from the seeded random generator, so they are
stable for a given seed. Activity follows a Zipf-like curve: a few very active people, a long
tail of occasional posters.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .bank import Bank

ID_PREFIX = {"wechat": "wx_u_", "weibo": "wb_u_", "qq": "qq_u_", "board": "bd_u_"}
POOL_SIZES = {"wechat": 170, "weibo": 130, "qq": 160, "board": 70}
ROLES = ("teacher", "young", "admin", "retiree", "worker")
ROLE_WEIGHTS = (0.48, 0.22, 0.14, 0.09, 0.07)
QQ_GROUPS = ("教职工之家1群", "教职工之家2群", "青年教师联谊群", "离退休教工群")
ADMIN_OFFICES = ("人事处", "财务处", "教务处", "科研处", "后勤处", "资产处", "学工部", "办公室")


@dataclass(frozen=True)
class Author:
    channel: str
    id: str
    name: str
    role: str
    weight: float
    groups: tuple[str, ...] = ()


class Pool:
    """The authors of one channel, picked by activity weight."""

    def __init__(self, channel: str, authors: list[Author]) -> None:
        self.channel = channel
        self.authors = authors

    def pick(self, rng: random.Random, group: str | None = None,
             avoid: tuple[Author, ...] = (), roles: tuple[str, ...] = ()) -> Author:
        cands = [a for a in self.authors if a.role not in ("official", "officer")
                 and (group is None or group in a.groups) and a not in avoid
                 and (not roles or a.role in roles)]
        if not cands:
            cands = [a for a in self.authors if a.role not in ("official", "officer")]
        return rng.choices(cands, weights=[a.weight for a in cands])[0]

    def official(self, group: str | None = None) -> Author:
        for a in self.authors:
            if a.role in ("official", "officer") and (group is None or not a.groups or group in a.groups):
                return a
        raise LookupError(f"渠道 {self.channel} 没有工会官方账号，请检查 people.py")


class Namer:
    """Builds display names; keeps them unique within a channel."""

    def __init__(self, bank: Bank, rng: random.Random) -> None:
        self.bank, self.rng = bank, rng
        self.used: set[str] = set()
        self.list_names = {k: list(bank.get(f"name.{k}")) for k in ("wechat", "weibo", "spam")}
        for names in self.list_names.values():
            rng.shuffle(names)

    def full(self) -> str:
        return self.bank.pick("name.surname", self.rng) + self.bank.pick("name.given", self.rng)

    def unique(self, make) -> str:
        for _ in range(50):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        name = make() + str(self.rng.randrange(10, 99))
        self.used.add(name)
        return name

    def from_list(self, key: str) -> str | None:
        names = self.list_names[key]
        return names.pop() if names else None

    def wechat(self, role: str) -> str:
        r, sur = self.rng.random(), self.bank.pick("name.surname", self.rng)
        if role == "retiree" and r < 0.5:
            return self.rng.choice(["夕阳红-", "老", "退休"]) + sur + self.rng.choice(["", "老师", "叔"])
        if r < 0.45:
            listed = self.from_list("wechat")
            if listed:
                return listed
        if r < 0.7:
            return self.full()
        if r < 0.85:
            return sur + self.rng.choice(["老师", "姐", "哥", "工", "老师🌸", "-教书匠"])
        nick = self.bank.pick("name.wechat", self.rng)
        return self.rng.choice([f"{nick}_{sur}", f"{sur}-{nick}", f"{nick}（{sur}老师）"])

    def weibo(self, role: str) -> str:
        r = self.rng.random()
        if r < 0.2:
            return "用户" + str(self.rng.randrange(10**9, 10**10))
        if r < 0.6:
            listed = self.from_list("weibo")
            if listed:
                return listed
        base = self.bank.pick("name.weibo", self.rng)
        return base + self.rng.choice(["_", "2019", "呀", "的日常", "Lv", str(self.rng.randrange(10, 999))])

    def qq(self, role: str) -> str:
        rng, full, sur = self.rng, self.full(), self.bank.pick("name.surname", self.rng)
        dept = self.bank.pick("slot.dept", rng)
        if role == "retiree":
            return rng.choice([f"退休-{sur}老师", f"离退休 {full}", f"{full}（退休）", f"{dept}退休-{sur}"])
        if role == "worker":
            return rng.choice([f"后勤-{sur}师傅", f"物业-{sur}师傅", f"后勤处 {full}", f"维修班-{sur}"])
        if role == "admin":
            office = rng.choice(ADMIN_OFFICES)
            return rng.choice([f"{office}-{full}", f"{office} 小{sur}", f"{office}_{full}"])
        return rng.choice([f"{dept}-{sur}老师", f"{dept} {full}", f"{dept}_{full}",
                           f"{full}（{dept}）", f"{dept}-{full}", f"{dept}—{sur}老师"])

    def board(self, role: str) -> str:
        r, dept = self.rng.random(), self.bank.pick("slot.dept", self.rng)
        if r < 0.15:
            return "匿名用户"
        if r < 0.3:
            return f"{dept}教工"
        return f"{self.bank.pick('name.surname', self.rng)}**（{dept}）"


def _hex_id(channel: str, rng: random.Random) -> str:
    return ID_PREFIX[channel] + format(rng.getrandbits(40), "010x")


def _qq_groups(role: str, rng: random.Random) -> tuple[str, ...]:
    if role == "retiree":
        return (QQ_GROUPS[3],) if rng.random() < 0.8 else (QQ_GROUPS[3], QQ_GROUPS[0])
    groups = [rng.choice(QQ_GROUPS[:2])]
    if rng.random() < 0.15:
        groups = list(QQ_GROUPS[:2])
    if role == "young" or (role == "teacher" and rng.random() < 0.15):
        groups.append(QQ_GROUPS[2])
    return tuple(groups)


def _officials(channel: str, rng: random.Random, namer: Namer) -> list[Author]:
    if channel == "wechat":
        return [Author(channel, "wx_u_official", "校工会", "official", 0.0)]
    if channel == "weibo":
        return [Author(channel, "wb_u_official", "校工会官微", "official", 0.0)]
    if channel == "board":
        return [Author(channel, "bd_u_official", "校工会提案工作组", "official", 0.0)]
    return [Author(channel, _hex_id(channel, rng), namer.unique(lambda: "工会-" + namer.full()),
                   "officer", 0.0, QQ_GROUPS[:3]),
            Author(channel, _hex_id(channel, rng), namer.unique(lambda: "离退休处-" + namer.full()),
                   "officer", 0.0, QQ_GROUPS[3:])]


def build_pool(channel: str, bank: Bank, rng: random.Random) -> Pool:
    namer = Namer(bank, rng)
    authors = _officials(channel, rng, namer)
    make = getattr(namer, channel)
    for rank in range(POOL_SIZES[channel]):
        role = rng.choices(ROLES, weights=ROLE_WEIGHTS)[0]
        if channel == "weibo" and role == "retiree":
            role = "young"
        weight = 1.0 / (rank + 1) ** 0.75
        groups = _qq_groups(role, rng) if channel == "qq" else ()
        name = namer.unique(lambda: make(role))
        authors.append(Author(channel, _hex_id(channel, rng), name, role, weight, groups))
    return Pool(channel, authors)


def build_pools(bank: Bank, rng: random.Random) -> dict[str, Pool]:
    return {channel: build_pool(channel, bank, rng) for channel in ID_PREFIX}


class SpamAccounts:
    """Throwaway accounts, created on demand; the flood reuses a few of them."""

    def __init__(self, bank: Bank, rng: random.Random) -> None:
        self.namer, self.rng = Namer(bank, rng), rng
        self.made: dict[str, list[Author]] = {c: [] for c in ID_PREFIX}

    def _name(self, channel: str) -> str:
        rng, namer = self.rng, self.namer
        if channel == "weibo" and rng.random() < 0.5:
            return "用户" + str(rng.randrange(10**9, 10**10))
        base = rng.choice(namer.bank.get("name.spam"))
        if channel == "qq" and rng.random() < 0.4:
            base = rng.choice(["新成员", "新人", "A"]) + "-" + base
        return base + rng.choice(["", "", str(rng.randrange(1, 999)), "🌸", "💰", "_vip"])

    def get(self, channel: str, reuse: float = 0.3) -> Author:
        made = self.made[channel]
        if made and self.rng.random() < reuse:
            return self.rng.choice(made)
        groups = tuple(self.rng.sample(QQ_GROUPS, 2)) if channel == "qq" else ()
        author = Author(channel, _hex_id(channel, self.rng),
                        self.namer.unique(lambda: self._name(channel)), "spam", 0.0, groups)
        made.append(author)
        return author
