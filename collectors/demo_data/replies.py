"""What a reply does to the post it answers (agree, dissent, advise, follow up, answer) and
which phrase section supplies it, so that replies fit their starters."""
from __future__ import annotations

from dataclasses import dataclass

from .common import weighted
from .context import Context

# Starter kind -> reply moves with weights.
REPLY_PLAN = {
    "pos": {"agree_pos": 0.7, "contra_pos": 0.14, "curious": 0.16},
    "neg": {"agree_neg": 0.55, "advice": 0.28, "contra_neg": 0.17},
    "q": {"answer": 0.62, "rq": 0.2, "q_neg": 0.18},
    "neu": {"ack": 0.4, "followup": 0.25, "info_pos": 0.2, "agree_neg": 0.15},
    "sug": {"agree_sug": 0.45, "advice": 0.2, "sug_neg": 0.2, "sug_q": 0.15},
    "notice": {"ack": 0.7, "followup": 0.2, "info_pos": 0.1},
}


@dataclass(frozen=True)
class Move:
    topical: str | None  # topic section kind (rpos/rneg/rneu) used with probability `share`
    generic: str  # generic section otherwise
    share: float
    kind: str  # phrase kind: decides the ground-truth label and the decoration mood


MOVES = {
    "agree_pos": Move("rpos", "generic.agree_pos", 0.6, "rpos"),
    "contra_pos": Move(None, "generic.contra_pos", 0.0, "rneg"),
    "curious": Move(None, "generic.curious", 0.0, "rneu"),
    "agree_neg": Move("rneg", "generic.rneg", 0.6, "rneg"),
    "advice": Move("rneu", "generic.rneu", 1.0, "rneu"),
    "contra_neg": Move(None, "generic.contra_neg", 0.0, "rpos"),
    "rq": Move(None, "generic.rq", 0.0, "rq"),
    "q_neg": Move(None, "generic.q_neg", 0.0, "rneg"),
    "ack": Move(None, "generic.rneu", 0.0, "rneu"),
    "followup": Move(None, "generic.followup", 0.0, "rq"),
    "info_pos": Move(None, "generic.rpos", 0.0, "rpos"),
    "agree_sug": Move(None, "generic.agree_sug", 0.0, "rpos"),
    "sug_neg": Move(None, "generic.sug_neg", 0.0, "rneg"),
    "sug_q": Move(None, "generic.sug_q", 0.0, "rq"),
    "thanks": Move(None, "generic.thanks", 0.0, "thanks"),
}


def choose_move(ctx: Context, starter_kind: str) -> str:
    return weighted(ctx.rng, REPLY_PLAN[starter_kind])


ATTACHED_MOVES = ("agree_pos", "agree_neg", "curious", "advice")


def attached_kind(reply: str, starter_kind: str) -> tuple[str, str]:
    """Phrase kind of a reply written next to its starter: "~" marks a neutral one."""
    if reply.startswith("~"):
        return reply[1:], "rneu"
    if reply.endswith(("？", "?")):
        return reply, "rq"
    return reply, {"pos": "rpos", "neg": "rneg"}.get(starter_kind, "rneu")


def reply_text(ctx: Context, move: str, topic: str, channel: str, prefix: str,
               answers: list[str], starter_kind: str = "q") -> tuple[str, str]:
    """The reply's text and phrase kind. Replies written next to their starter are used
    first: a question's answers for an "answer" move, fitting reactions for agreement."""
    if answers and (move == "answer" or (starter_kind != "q" and move in ATTACHED_MOVES)):
        while answers:
            core, kind = attached_kind(answers.pop(0), starter_kind)
            text = ctx.dress(core, kind, channel, reply=True, prefix=prefix)
            if text is not None:
                return text, kind
    if move == "answer":
        move = "rq"
    spec = MOVES[move]
    section = spec.generic
    if spec.topical and ctx.bank.has(f"topic.{topic}.{spec.topical}") and ctx.rng.random() < spec.share:
        section = f"topic.{topic}.{spec.topical}"
    return ctx.say(section, spec.kind, channel, reply=True, prefix=prefix), spec.kind
