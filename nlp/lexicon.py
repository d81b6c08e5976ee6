"""Cue lexicons (Chinese words and phrases) for spam, rumour, topics and stop words.

Each cue group has a code (machine name, used as a model feature and a reason code), the score it
speaks for, a short Chinese label for reasons, and its phrases. Phrases are matched on normalised text
(Simplified, lower-case ASCII, evasions undone), so list canonical forms only.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CueGroup:
    code: str
    score: str  # the score it speaks for: spam | rumour | sentiment | grievance | abuse
    label_zh: str
    phrases: tuple[str, ...]


def _p(s: str) -> tuple[str, ...]:
    return tuple(w for w in s.split() if w)


# Emoticons of Weibo / WeChat (text tags, matched after Traditional → Simplified) and emoji, with a
# polarity: 1.0 says the attitude outright ([哈哈] [爱你] / [泪] [抓狂]), 0.5 leans ([doge] [笑cry] /
# [摊手] [跪了]). Tags whose use is split in current Weibo ([微笑] is mostly sarcastic, [允悲] [吃惊]
# [汗] [可怜] go both ways) are left out: the n-gram model weighs them from data.
EMOTICON_STRONG_POS = _p("""
    [哈哈] [嘻嘻] [爱你] [心] [good] [赞] [鼓掌] [太开心] [偷笑] [可爱] [威武] [给力] [耶] [笑哈哈] [亲亲]
    [花心] [好棒] [好爱哦] [憧憬] [给你小心心] [害羞] [羞嗒嗒] [撒花] [干杯] [强] [玫瑰] [愉快] [憨笑] [呲牙]
    [胜利] [庆祝] [鲜花] [心花怒放] [开心] [点赞] [比心] [笑而不语] [偷乐] [好喜欢] [哈哈哈] [得意地笑]
    [爱心传递] [心动] [赞啊] [中国赞] [舔屏] [色] [酷] [馋嘴] [蛋糕] [礼物] [抱抱] [拥抱] [棒棒哒] [萌]
    😊 😄 😁 😃 😀 😍 🥰 👍 ❤ 👏 🎉 😘 ☺ 💪 🌹 🎊 💕 💖 😆 🤗 👌 ✌ 🥳 😋 🙌 💯 🤩 💗 😻
""")
EMOTICON_MILD_POS = _p("""
    [挤眼] [握手] [太阳] [福] [得意] [加油] [嘿哈] [机智] [耶耶] [坏笑] [doge] [笑cry] [污] [喵喵] [兔子]
    [微风] [月亮] [音乐] [ok] [来] [求关注] [互粉] [并不简单] [二哈] [抱拳] [红包] [飞吻] [奥特曼] [熊猫]
    [围观] [话筒] [推荐] [lucky] [哇] 🙂 😉 🌞 🌸 ✨ 🍻 🎂 🎁
""")
EMOTICON_STRONG_NEG = _p("""
    [泪] [怒] [抓狂] [衰] [生病] [失望] [伤心] [悲伤] [鄙视] [哼] [吐] [委屈] [怒骂] [蜡烛] [黑线] [打脸]
    [生气] [崩溃] [伤不起] [泪流满面] [流泪] [大哭] [难过] [发怒] [心碎] [裂开] [悲催] [哭] [怒火] [嫌弃]
    [吐血] [拜拜] [左哼哼] [右哼哼] [弱] [可怜的] [伤心欲绝]
    😭 😢 😡 😠 💔 👎 😤 😞 😔 😩 😫 🤬 😰 😣 😖 😥 🤮 💀 😿
""")
EMOTICON_MILD_NEG = _p("""
    [晕] [困] [闭嘴] [阴险] [撇嘴] [叹气] [白眼] [骷髅] [囧] [折磨] [无语] [心累] [苦涩] [摊手] [费解]
    [跪了] [疑问] [皱眉] [辣眼睛] [尴尬] [抠鼻] [捂脸] [汗颜] [哈欠] [打哈气] [睡] [衰衰] [悲] [吓]
    😓 😒 🙄 😱 😪 😑 😐 🤦 😟 😕 🙁 ☹ 😬
""")
EMOTICON_POLARITY: dict[str, float] = {
    **{e: 0.5 for e in EMOTICON_MILD_POS}, **{e: 1.0 for e in EMOTICON_STRONG_POS},
    **{e: -0.5 for e in EMOTICON_MILD_NEG}, **{e: -1.0 for e in EMOTICON_STRONG_NEG},
}
EMOTICONS_POS = tuple(e for e, w in EMOTICON_POLARITY.items() if w > 0)
EMOTICONS_NEG = tuple(e for e, w in EMOTICON_POLARITY.items() if w < 0)

# phishing words: the strong ones no real notice asks for through an outside link; the weak ones real
# notices use too (a survey link asking for a name is fine)
PHISHING_STRONG = _p("""
    银行卡号 填写银行卡 银行卡信息 提供银行卡 验证码 短信验证码 重新绑定 绑定工资卡 绑定银行卡 将被冻结 账户冻结
    即将失效 将失效 下载app 安装app 安装包 apk 转账至 安全账户 屏幕共享 远程协助 账号密码 账号和密码 原账号密码
    认证密码 邮箱密码 身份证正反面 原卡照片 银行卡后六位 卡号后六位 输入卡号 私发给我 发给我核对 验证码发我
    备份您的账号 停止接收邮件 容量超限 存储限额 账号将被回收 将被回收 将被停用 即将停用 重新验证
    卡号和密码 用户名和密码 临时冻结 已被冻结 异常消费 被他人冒用 风险交易 预留手机号 工资卡号 社保卡号 银行卡号发
    卡号发到 姓名+卡号 转我微信 管理员身份运行
""")
PHISHING_WEAK = _p("""
    重新登记 登记个人信息 填写个人信息 身份证号码 身份证号 逾期视为放弃 视为放弃 逾期作废 否则影响考核 影响考核
    收款账户 核验 立即核验 重新认证 更正 完成签约 绑定手机 扫码缴纳 扫码支付 扫码充值 支付宝扫码 扫描下图二维码
    补缴差额 年审费 缴纳 领取奖金 申领 提交资料 填身份证 银行卡 身份证 卡号 密码 实名认证 实名信息 实名登记 实名核验
    实名验证 缴费码 罚款 会费 激活
""")
# who a phishing message claims to be: the university's own offices (a real notice names them too,
# so this only counts together with an outside link, a QR code or a request for credentials)
OFFICE_CLAIMS = _p("""
    财务处 计财处 财务科 人事处 人事科 工会 校工会 教务处 信息中心 网络中心 信息化办公室 网信办 后勤 后勤处 后勤集团
    校办 学校办公室 党政办 国资处 资产处 科研处 研究生院 保卫处 离退休处 校医院 图书馆 邮箱管理员 校友会 社保中心
    公积金中心 王主席 主席助理 主席让我 院长让我 领导让我 书记让我 处长让我 院办 学院办公室 一卡通中心 医保中心
    离退休处 网络中心 信息化办公室
""")

# A reply that is nothing but admiration ("厉害！", "专业！！", "优秀优秀", "nb!!!", "涨知识了", "太强了[赞]"): the
# heads read many of these as blame or as no stance (厉害 is severity in reviews, "太…了" and "！" complaints
# in shop and Weibo corpora). `scoring.SentimentScorer` reads such a whole reply as praise, with the
# `praise` column's words. In every union and public sentiment file here a whole reply of these words (with
# 真/好/太/很… before, 了/啊/哇… after, plainly positive emoticons and punctuation around) is labelled
# positive: 144 rows, none neutral or negative (session 34); ToSarcasm's news comments hold three sarcastic
# ones ("致敬！", "厉害了") and three plain. 绝了, 服了 and 服气 go both ways and are not here
PRAISE_REPLY = _p("""
    厉害 优秀 精彩 专业 牛 牛啊 牛哇 牛逼 nb 666 6666 66666 妙 强 赞 棒 给力 漂亮 威武 霸气 好样的 了不起 有才 靠谱
    暖心 贴心 学到了 涨知识了 受教了 瑞思拜 respect yyds
""")
# top-level domains of the links posts carry (regex alternatives): the cue scanner's links, and the normaliser's
# obfuscated dots, hosts and masked digits
TLDS = "com|cn|net|org|top|xyz|vip|cc|me|info|shop|club|site|ly"

CUE_GROUPS: tuple[CueGroup, ...] = (
    CueGroup("emo_pos", "sentiment", "正面表情", EMOTICONS_POS),
    CueGroup("emo_neg", "sentiment", "负面表情", EMOTICONS_NEG),
    # congratulations and admiration: each word is rare in the corpora (实至名归 in 7 rows, 祝贺 in 30), too rare
    # for its own n-gram weight; as one column the heads learn them together. The second line is internet
    # slang for delight (狠狠爱了, 泰裤辣, 爷青回, 上岸了): absent from the public corpora, it was read as blame
    # (`union_dev6_sentiment`). Thanks (感谢, 谢谢, 辛苦了) stay
    # out: they are polite or ironic in complaints, and with them union_dev3_sentiment lost 0.5
    CueGroup("praise", "sentiment", "祝贺称赞", _p("""
        恭喜 祝贺 贺喜 道喜 同喜 可喜可贺 喜大普奔 实至名归 名副其实 当之无愧 众望所归 与有荣焉 点赞 佩服 膜拜 致敬
        好棒 真棒 太棒
        狠狠爱了 狠狠期待 爱了爱了 泰裤辣 太酷啦 爷青回 dna动了 芜湖起飞 awsl 瑞思拜 打call 血赚 狂喜 上岸了 牛哇 好耶
        冲鸭
    """)),
    # rhetorical questions: a complaint asked as a question ("难道青年教师就不需要生活吗", "这合理吗"). Without them
    # the subjective head read such posts as plain questions (neutral), like "请问报销在哪里办"
    CueGroup("rhetoric", "sentiment", "反问质疑", _p("""
        难道 凭什么 是个头 这合理吗 合理吗 公平吗 这公平吗 有人管吗 有没有人管 有人关心过 谁来管 就不需要 图什么
        有意思吗 至于吗 有必要吗 还让不让 让不让人 算什么 故意的吧 怎么想的 咋想的 何时才能 什么时候才能
    """)),
    # insults aimed at a person (the words a union moderator removes; swearing at things, 垃圾 and 卧槽, is not
    # here). Each is rare in the corpora; as one column the abuse head learns them together. The other heads
    # leave this column and the next at 0 (`train.HEAD_ONLY_CUES`). An all-ASCII word matches only on its own
    CueGroup("insult", "abuse", "辱骂用语", _p("""
        傻逼 傻b 傻比 傻哔 傻屄 煞笔 沙比 傻叉 傻x 傻帽 sb shabi 二逼 二b 脑残 智障 弱智 白痴 低能 蠢货 蠢猪
        蠢驴 蠢材 蠢蛋 笨蛋 废物 废柴 窝囊废 饭桶 人渣 败类 畜生 畜牲 禽兽 狗东西 狗娘养 狗日的 狗腿子 走狗 舔狗
        王八蛋 龟孙 贱人 贱货 贱骨头 婊子 绿茶婊 骚货 荡妇 死胖子 肥猪 猪脑子 丑八怪 矮冬瓜 乡巴佬 土鳖 老不死
        老东西 无赖 流氓 神经病 精神病 疯婆子 疯狗 变态 loser 杂种 混蛋 混账 滚蛋 滚出去 去死 死全家 nmsl 尼玛
        tmd 他妈的 你妈的 cnm 草泥马 操你 吃屎 脑子进水 脑子被门夹 脑子被驴踢 没脑子 不要脸 臭不要脸 寄生虫
        吸血鬼 软蛋 怂货 没教养 不是东西 算什么东西 算个什么东西 没用的东西 扫把星 丧门星 废人 智商税 狗都不如
        猪都比你 狗都比你
    """)),
    # threats and stalking: the writer means to hurt, expose or follow someone
    CueGroup("threat", "abuse", "威胁恐吓", _p("""
        弄死你 打死你 整死你 扇你 揍你 砍死 捅死 别想好过 走着瞧 等着瞧 给我等着 你给我等着 让你好看 收拾你
        废了你 知道你住 我知道你家 堵你 人肉你 挂到表白墙 曝光你 全校都认识你 门口等你 楼下等你 有种你别
    """)),
    CueGroup("ad_lexicon", "spam", "广告用语", _p("""
        兼职 刷单 日结 日赚 月入 月入过万 躺赚 轻松赚 赚钱 挣钱 返利 返现 佣金 提成 代购 代理 招代理 加盟
        招商 优惠 优惠券 折扣 打折 特价 促销 秒杀 抢购 限时 包邮 免费领取 免费 领取 红包 福利群 中奖 抽奖
        大奖 彩票 博彩 娱乐城 棋牌 百家乐 开户 彩金 贷款 网贷 借款 低息 无抵押 无担保 放款 额度 套现 信用卡
        办卡 代开 发票 办证 代办 代考 包过 论文代写 刷信誉 点赞员 打字员 宝妈 学生党 在家 手机操作
        收徒 引流 推广 私聊 私信 详询 咨询热线 热线 回复td 退订 退订回 回t 店铺 专卖 批发 厂家 直销 清仓
        大促 原价 现价 仅需 只需 元起 满减 礼包 赠送 积分兑换 会员 vip 招聘 高薪 急招 名额有限 先到先得
        扫码 二维码 关注公众号 添加 好友 投资 理财 收益 稳赚 回报 保本 炒股 股票群 荐股 带单 usdt 币圈
        减肥 瘦身 祛斑 丰胸 壮阳 增大 伟哥 面膜 微商 代发 一件代发 货源 正品 高仿 a货 精仿 招生 培训班
        学历 提升学历 文凭 快速拿证 低价 特惠 活动价 抢 速领 戳链接 点击链接 点击 链接 网址 登录 下载
        价格面议 价格好商量 保本保息 年化收益 年化 拿货价 原单 尾货 试用装 集赞 集满 送话费 即送 申领
        版面 见刊 包录用 保证评上 包评上 稳过 内部名额 安排名额 代餐 代做 润色 出证 可查 不用考试 包检索 检索 北核
        南核 科技核心 统计源 写本子 代写本子 会议费发票 一条龙
        冲业绩 算命 看风水 风水 运势 代投 降重 包退 同城交友 附近的人 陪聊 理疗仪 互助会 跟着老师操作 牛股 备用金
        免费讲课 中标率
    """)),
    CueGroup("contact_add", "spam", "招揽联系", _p("""
        加微信 加QQ 加我 私聊我 私信我 联系我 联系电话 电话咨询 详情咨询 咨询电话 微信同号 v我 滴滴我 找我
        有意者 有需要的 需要的联系 感兴趣的 欢迎咨询 欢迎加入 进群 拉你进群 加群 私我 加我细聊 细聊
    """)),
    # phishing that dresses as an official notice: it asks for card numbers, codes or an app install
    CueGroup("phishing", "spam", "索要敏感信息", PHISHING_STRONG + PHISHING_WEAK),
    CueGroup("office_claim", "spam", "自称学校部门", OFFICE_CLAIMS),
    # how an advert pulls readers to a private channel: the profile, the comments, a private chat
    CueGroup("lure", "spam", "引流话术", _p("""
        戳头像 戳我头像 戳我 看我主页 看主页 主页有链接 链接看主页 电话看主页 链接在评论区 链接评论区 链接在下面
        链接置顶 评论区第一张图 评论区置顶 看我朋友圈 朋友圈有 名额私我 私我拿 私聊下单 直接私聊 私域群 扣扣群
        只带有缘人 有缘人 想上车的 带你做 师傅带徒弟 亲测有效 亲测 受益者 回购 已经回购 统一回复 不运动不挨饿
        不吃药不打针 内部价 教职工专属 专属班 入门费 包教包会 名额私 需要的私 私信下单 老师们私我
        照片在主页 点我头像 看我资料 资料在主页 想跟的 想参加的来
    """)),
    # tasks that pay or promise a reward: bargain-help links, voting for red packets, paid reviews, schemes
    CueGroup("task_scam", "spam", "任务返利", _p("""
        砍一刀 帮我砍 帮忙砍 助力一下 帮忙助力 点链接助力 拼单 参团 成团 差1人 差一人 帮忙点一下 投个票 投票领
        领红包 送红包 截图给我 转发到三个群 做任务 赚佣金 垫付 先垫付 刷好评 好评返现 下单好评 养鸡 挖矿 矿机
        区块链 数字货币 炒币 每月返 返本 回本 预付 躺赚 副业 一天能赚 每天收益 提现 带单 直播间
        点开即领 过期不候
    """)),
    # a warning against fraud quotes spam words but is not an advert
    CueGroup("fraud_warning", "spam", "防骗提醒", _p("""
        是骗子 骗子 骗局 都是诈骗 是诈骗 诈骗 别上当 不要上当 谨防 警惕 反诈 别加 不要加 已经踢了 已踢 广告号
        举报了 不要相信 别相信 小心被骗 被骗了 上当受骗 明显是假的 是假的 假冒 冒充 不需要扫码 不用扫码 不需要填写
        不会要求 从不要求 不会让你 钓鱼 钓鱼链接 钓鱼邮件 别点 不要点 请勿通过 请勿点击 无需提供 不要转给 骗取
        不法分子 果断关了 真假难辨 多了个横杠 长点心
        切勿上当 切勿轻信 请勿轻信 不要轻信 谨防受骗 谨防上当 以免上当 以免受骗 以免造成损失 防骗 防范诈骗
        提高警惕 注意甄别 立即挂断 本人从未 从未授权 未予提供 未曾提供 从未提供
    """)),
    CueGroup("hearsay", "rumour", "传闻用语", _p("""
        听说 据说 据传 传言 传闻 网传 有人说 听人说 听别人说 朋友说 朋友圈都在传 都在传 群里都在传 群里在传
        内部消息 小道消息 可靠消息 知情人士 据知情人士 内部人士 领导透露 有消息说 消息称 爆料 内部透露 内部流出
        内部传出 内部说 私下说 据悉 据了解 听内部 听领导说 我亲戚说 我同学说 我朋友说 一位老师说 有老师说 传出消息
        传出来的消息 人说的 的人说 转自 转自某 朋友圈看到 群里看到
    """)),
    CueGroup("doubt", "rumour", "询问真假", _p("""
        真的假的 是真的吗 是不是真的 真的吗 真假 不知真假 真假不知道 有没有这回事 是否属实 属实吗 靠谱吗
    """)),
    CueGroup("urgency", "rumour", "催促转发", _p("""
        速转 紧急扩散 扩散 速速转发 马上删 即将删除 看完删 不转不是 转起来 赶快告诉 扩散出去 让更多人知道
        看到请转 十万火急 速速 快转 转给身边 速转给 必须转 转疯了 都转起来
    """)),
    CueGroup("relay", "rumour", "转告用语", _p("""
        转发 请转发 互相转告 相互转告 转告 告诉身边 周知 广而告之 大家注意 重要通知 紧急通知 紧急提醒 紧急 速看
        快看 赶紧看
    """)),
    CueGroup("absolute", "rumour", "绝对化表述", _p("""
        千真万确 绝对是真的 绝对真实 百分百 100% 确定了 已经定了 板上钉钉 铁定 保真 亲眼所见 真实可靠
        已经确认 已确认 确凿 毫无疑问 肯定是真的 不是谣言 这次是真的 这回是真的 已经内定 马上就要 下个月就
        不是假的 文件已经签了 已经签了 已经在走流程 错不了
    """)),
    CueGroup("claim_topic", "rumour", "涉及待遇变动", _p("""
        取消 砍掉 砍 停发 不发 扣发 冻结 降薪 减薪 降低 缩减 削减 裁员 裁掉 下岗 清退 辞退 解聘 末位淘汰
        关闭 撤销 合并 倒闭 停办 停招 搬迁 收回 涨价 翻倍 暴涨 要交 补缴 追缴 退回 全部取消 一律 全员
        下调 打七折 打八折 打折 腰斩 减半 涨工资 涨薪 加薪 上调 补发 内定
    """)),
    # a grievance speaks of the writer's own situation and asks for something to be done
    CueGroup("first_person", "grievance", "讲本人处境", _p("""
        我 我们 本人 我家 我们家 我老伴 我爱人 咱们 俺 我们组 我们系 我们院 我们学院 我们科室 我们部门 我们这批
        我们这些 像我这样 作为一名 我是 本人是 我在学校 我入职 我今年
    """)),
    CueGroup("request", "grievance", "提出诉求", _p("""
        希望 能不能 能否 可不可以 可否 请求 恳请 恳求 呼吁 建议 求助 帮帮 帮忙 反映 反应一下 诉求 解决 落实 给个说法
        讨个说法 给个答复 给答复 谁来管 谁管 没人管 没人理 有没有人管 催一下 帮忙催 代表我们 替我们 提案 教代会
        合理 公平 同工同酬 一视同仁 按规定 拖欠 拖了 卡着 一直没 到现在还没 迟迟 至今 推迟了 没有下文 石沉大海
    """)),
    # a citation of an official channel or document (a department or "文件" alone is not one)
    CueGroup("official_source", "rumour", "引用正式来源", _p("""
        官网 官网通知 官网公告 官网发布 学校官网 官方网站 官方公众号 工会公众号 公众号发布 官方发布 官方通报
        正式文件 正式通知 人事处正式文件 文件号 工会通知 工会发布 学校通知 校办通知 办公室通知 通知原文 原文见
        详见 以文件为准 以通知为准 以正式文件为准 为准 根据文件 按照文件 根据通知 按照通知 据通知 经研究决定
        研究决定 会议决定 会上宣布 大会上宣布 大会宣布 公示 政策解读 官方答复 答疑 oa系统 oa通知 原文见oa 发布会
        已发布 官方公告 发布公告 公告原文 发文通知 处通知 办通知 处正式通知 处公告 处发文 学院通知 院通知 处公布 官方公布
    """)),
    CueGroup("refute", "rumour", "辟谣/澄清", _p("""
        辟谣 不实 谣言 假消息 造谣 澄清 纯属 子虚乌有 不要信 别信 勿信 不信谣 不传谣 虚假信息 虚假消息
        并无此事 没有这回事 没这回事 根本没这事 系谣言 是谣言 假的 不属实 已核实 经核实 请勿轻信 不要轻信 请勿传播
        误传 以讹传讹 没有此事 别传了 看岔了 是编的 不可信 没听说过 从来没听说 没有任何相关 消息不实 怎么可能
        没听说 从未出台 从未 系误读 误读 一分没少 并未 不会有 没有的事
    """)),
)

TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("薪酬待遇", _p("""
        工资 薪酬 薪资 绩效 绩效工资 奖励性绩效 奖金 年终奖 课时费 课酬 津贴 补贴 岗位工资 薪级 调资 涨工资
        降薪 减薪 扣工资 拖欠 补发 加班费 工资条 收入 待遇 公积金 职业年金 社保 五险一金 退休金 发钱 发工资
    """)),
    ("职称评审", _p("""
        职称 职称评审 评职称 评审 晋升 副高 正高 中级职称 高级职称 岗位聘任 聘任 聘期 破格 代表作 评审委员会
        非升即走 预聘 长聘 评优 评先
    """)),
    ("食堂餐饮", _p("""
        食堂 饭菜 菜价 饭卡 伙食 餐厅 午饭 晚饭 早饭 早餐 午餐 晚餐 打饭 窗口 菜品 卫生 外卖 份量 米饭
    """)),
    ("停车交通", _p("""
        停车 停车位 停车费 车位 停车场 门禁 通勤车 校车 班车 交通 堵车 电动车 充电桩 车辆 进校 地铁
    """)),
    ("住房保障", _p("""
        住房 周转房 人才公寓 青年公寓 教师公寓 宿舍 房补 租房 住房补贴 租房补贴 集资房 公租房 房租 购房 买房
        限价房 经济适用房 物业
    """)),
    ("子女教育", _p("""
        子女 孩子 子女入学 入学 附小 附中 附属小学 附属中学 幼儿园 入园 托管 托管班 课后托管 学位 上学 择校
    """)),
    ("工会活动", _p("""
        工会活动 活动 运动会 趣味运动会 比赛 羽毛球 乒乓球 拔河 书画展 文艺汇演 联欢会 晚会 读书会 健步走
        春游 秋游 亲子活动 联谊 俱乐部 报名 协会 兴趣小组 趣味
    """)),
    ("福利慰问", _p("""
        福利 慰问 慰问金 节日慰问 疗休养 体检 生日 蛋糕券 电影票 购物卡 送温暖 困难职工 帮扶 发放福利 年货
        礼品 月饼 粽子 过节费
    """)),
    ("考勤管理", _p("""
        考勤 打卡 签到 坐班 请假 销假 迟到 早退 年休假 休假 值班 加班 工作量 考核 绩效考核 会议 开会 形式主义
    """)),
    ("科研经费", _p("""
        科研 科研经费 经费 项目经费 报销 财务报销 发票 课题 项目 科研项目 论文 横向 纵向 基金 预算
    """)),
)
TOPIC_OTHER = "其他"

# words never used as keywords (function words, fillers, chat noise)
STOPWORDS = frozenset(_p("""
    的 了 是 在 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 那 他 她 它 们 我们
    你们 他们 她们 这个 那个 什么 怎么 为什么 还是 还有 就是 但是 而且 因为 所以 如果 可以 已经 现在 时候 今天
    明天 昨天 真的 觉得 知道 大家 一下 一些 一直 这样 那样 这么 那么 然后 而是 或者 以及 对于 关于 这些 那些
    啊 吗 呢 吧 呀 哦 嗯 哈 哈哈 哈哈哈 啦 嘛 么 哎 唉 呵呵 嘿嘿 吧 把 被 让 给 对 从 向 又 再 还 才 只 更 最
    太 挺 非常 特别 比较 有点 一点 之 与 及 等 等等 能 能够 应该 需要 希望 请问 请 谢谢 感谢 老师 同事 学校
    单位 问题 情况 事情 东西 地方 一样 不是 没 没有 多 少 大 小 来 过 下 中 里 后 前 年 月 日 个 次 点 元
    http https www com cn 转发 微博 回复 网页 链接 全文 展开 收起
"""))
