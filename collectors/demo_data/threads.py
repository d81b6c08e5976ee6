"""Where posts live: 公众号 articles, Weibo topics, QQ groups, suggestion-board proposals."""
from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime

from . import clock
from .people import QQ_GROUPS

TOPICS = ("activity", "welfare", "pay", "title", "canteen", "parking", "housing", "kids",
          "bus", "attendance", "reimburse", "congress", "misc")
TOPIC_WEIGHTS = (0.12, 0.11, 0.09, 0.06, 0.13, 0.07, 0.05, 0.04, 0.04, 0.05, 0.06, 0.04, 0.14)
GROUP_WEIGHTS = (0.36, 0.3, 0.21, 0.13)
# Topic weights per QQ group (same order as TOPICS).
GROUP_TOPICS = {
    QQ_GROUPS[0]: TOPIC_WEIGHTS,
    QQ_GROUPS[1]: TOPIC_WEIGHTS,
    QQ_GROUPS[2]: (0.12, 0.07, 0.12, 0.12, 0.1, 0.04, 0.12, 0.09, 0.03, 0.05, 0.08, 0.02, 0.04),
    QQ_GROUPS[3]: (0.25, 0.3, 0.08, 0.0, 0.08, 0.02, 0.0, 0.02, 0.05, 0.0, 0.0, 0.02, 0.18),
}
WEIBO_TAGS = {"activity": "#工会活动#", "welfare": "#工会福利#", "pay": "#高校教师工资#",
              "title": "#职称评审#", "canteen": "#食堂那些事#", "parking": "#校园停车难#",
              "housing": "#青椒住房#", "kids": "#教职工子女入学#", "bus": "#校车#",
              "attendance": "#打卡#", "reimburse": "#科研报销#", "congress": "#教代会#",
              "misc": "#校园日常#"}
WEIBO_MENTION = "提及@校工会官微"
WEIBO_HANDLE = "@校工会官微"
WEIBO_REFORM = "#绩效改革#"
BOARD_URL = "https://jyxc.example.edu.cn/proposal/"

# (day, "HH:MM", topic, title, kind); kind "event" articles only carry scenario posts.
ARTICLES = (
    (0, "00:10", "misc", "新年快乐｜校工会致全体教职工的新年贺信", "normal"),
    (1, "10:00", "misc", "2025年度校工会工作回顾", "normal"),
    (3, "11:30", "welfare", "关于发放2026年春节慰问品的通知", "normal"),
    (4, "17:30", "activity", "关于举办教职工冬季长跑比赛的通知", "normal"),
    (5, "11:30", "welfare", "教职工健康体检预约指南", "normal"),
    (6, "17:30", "reimburse", "科研经费报销常见问题解答（第二期）", "normal"),
    (7, "11:30", "congress", "关于征集教代会提案的通知", "normal"),
    (8, "11:30", "housing", "周转房续租及退房有关事项的通知", "normal"),
    (9, "11:00", "housing", "关于周转房有关情况的说明", "event"),
    (10, "20:00", "activity", "工会读书会第12期｜共读《置身事内》", "normal"),
    (11, "17:30", "parking", "校园停车管理办法调整公告", "normal"),
    (12, "11:30", "activity", "冬季趣味运动会报名开始啦", "normal"),
    (13, "17:30", "welfare", "教职工生日蛋糕卡领取说明", "normal"),
    (14, "11:30", "activity", "寒假教职工疗休养报名开始", "normal"),
    (15, "17:30", "canteen", "食堂满意度调查结果及整改措施", "normal"),
    (16, "11:30", "kids", "附属幼儿园2026年春季插班报名通知", "normal"),
    (17, "17:30", "bus", "寒假期间校车运行时刻调整", "normal"),
    (19, "10:30", "pay", "关于近期网传“绩效工资下调”等不实信息的郑重说明", "event"),
    (19, "17:30", "title", "2025年度专业技术职务评审工作答疑", "normal"),
    (20, "11:30", "attendance", "人脸识别考勤系统试运行说明", "normal"),
    (21, "15:30", "pay", "关于绩效工资分配改革方案（征求意见稿）的通知", "event"),
    (24, "11:30", "welfare", "工会会员观影活动｜贺岁档专场", "normal"),
    (25, "17:30", "activity", "退休教职工新春茶话会剪影", "normal"),
    (26, "20:00", "activity", "趣味运动会精彩瞬间", "normal"),
    (27, "11:30", "pay", "公积金缴存基数调整说明", "normal"),
    (28, "17:30", "congress", "教代会提案办理情况反馈", "normal"),
    (29, "11:30", "canteen", "寒假期间食堂营业安排", "normal"),
)
HOUSING_NOTE, PAY_NOTE, REFORM = ARTICLES[8][3], ARTICLES[17][3], ARTICLES[20][3]


@dataclass(frozen=True)
class Article:
    title: str
    topic: str
    published: datetime
    url: str
    event: bool


def _token(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(22))


class Threads:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.articles = []
        for day, hhmm, topic, title, kind in ARTICLES:
            hour, minute = map(int, hhmm.split(":"))
            self.articles.append(Article(title, topic, clock.at(day, hour, minute),
                                         "https://mp.weixin.qq.com/s/" + _token(rng), kind == "event"))
        self.by_title = {a.title: a for a in self.articles}
        self.board_urls: dict[str, str] = {}
        self.board_seq = 2026001

    def article(self, title: str) -> Article:
        return self.by_title[title]

    def pick_article(self, when: datetime, topic: str | None = None) -> Article:
        """A recent ordinary article already published at `when`, newer ones more likely."""
        live = [a for a in self.articles if not a.event and a.published <= when]
        if not live:
            return self.articles[0]
        if topic:
            matching = [a for a in live if a.topic == topic]
            live = matching or live
        ages = [(when - a.published).total_seconds() / 86400 for a in live]
        weights = [1.0 / (1.0 + age) ** 1.4 for age in ages]
        return self.rng.choices(live, weights=weights)[0]

    def topic(self) -> str:
        return self.rng.choices(TOPICS, weights=TOPIC_WEIGHTS)[0]

    def group(self) -> str:
        return self.rng.choices(QQ_GROUPS, weights=GROUP_WEIGHTS)[0]

    def group_topic(self, group: str) -> str:
        return self.rng.choices(TOPICS, weights=GROUP_TOPICS[group])[0]

    def board_url(self, title: str) -> str:
        if title not in self.board_urls:
            self.board_urls[title] = f"{BOARD_URL}{self.board_seq}"
            self.board_seq += self.rng.randint(1, 4)
        return self.board_urls[title]
