"""The 点单-下单-接单 workflow of a wish or micro-project, as an explicit state machine.

::

    posted ──publish──► published ──claim──► claimed ──fulfil──► fulfilled ──confirm──► confirmed
      │  └──reject──► rejected      │  ▲ claim  │ accept                │
      │                             │  └────────┘ (more claimants;      │
      ├──withdraw──► withdrawn ◄────┴── withdraw ┘  contact shared)     │
      └──expire───► expired ◄──── expire (published, unclaimed)         │
                                                                        ▼
                                                      (the resident rates the help)

A resident posts (村(居)民点单) — or staff enter the wish for them — the village
staff publish it (村(社区)下单) or reject it with a reason, members and
organisations claim it (党员接单; several may), the resident accepts a
claimant (from then on that claimant sees the contact), the claimant fulfils
it and the resident confirms (with a score). Withdrawn, rejected, expired and
confirmed are final. Every step names who may take it; anything else is
refused with :class:`geo.errors.IllegalTransition`, which names the state.

Pure: no database. :mod:`geo.residents.wishes` applies a step to a stored wish.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.errors import Forbidden, IllegalTransition
from geo.vocab import WISH_STATE_ZH, WishState

__all__ = ["ACTIONS", "ACTION_ZH", "ACTORS", "FINAL", "Step", "allowed_actions", "step"]

S = WishState

#: Who takes a step: the village ``staff`` (a planner of the region), a
#: ``claimant`` (a member token), the ``resident`` (by a one-time code to the
#: phone of the wish) or the ``system`` (the expiry sweep).
ACTORS = ("staff", "claimant", "resident", "system")


@dataclass(frozen=True)
class Step:
    """One action: the states it starts from, the state it leads to, who may take it."""

    action: str
    sources: tuple[str, ...]
    target: str | None  # None: the state stays (accept, another claim)
    actors: frozenset[str]
    needs_reason: bool = False


ACTIONS: dict[str, Step] = {s.action: s for s in (
    Step("publish", (S.POSTED,), S.PUBLISHED, frozenset({"staff"})),
    Step("reject", (S.POSTED,), S.REJECTED, frozenset({"staff"}), needs_reason=True),
    Step("claim", (S.PUBLISHED, S.CLAIMED), S.CLAIMED, frozenset({"claimant", "staff"})),
    Step("accept", (S.CLAIMED,), None, frozenset({"resident", "staff"})),
    Step("fulfil", (S.CLAIMED,), S.FULFILLED, frozenset({"claimant", "staff"})),
    Step("confirm", (S.FULFILLED,), S.CONFIRMED, frozenset({"resident", "staff"})),
    Step("withdraw", (S.POSTED, S.PUBLISHED, S.CLAIMED), S.WITHDRAWN,
         frozenset({"resident", "staff"})),
    Step("expire", (S.POSTED, S.PUBLISHED), S.EXPIRED, frozenset({"staff", "system"})),
)}

ACTION_ZH = {"publish": "发布（下单）", "reject": "驳回", "claim": "认领（接单）",
             "accept": "接受认领", "fulfil": "标记完成", "confirm": "确认完成",
             "withdraw": "撤回", "expire": "标记过期"}
ACTOR_ZH = {"staff": "村（社区）工作人员", "claimant": "党员或党组织", "resident": "许愿居民",
            "system": "系统"}

#: states no action leaves
FINAL = frozenset({S.REJECTED.value, S.CONFIRMED.value, S.WITHDRAWN.value, S.EXPIRED.value})


def allowed_actions(state: str, actor: str | None = None) -> tuple[str, ...]:
    """The actions a wish in ``state`` allows (to ``actor``, when given)."""
    return tuple(a for a, s in ACTIONS.items()
                 if state in s.sources and (actor is None or actor in s.actors))


def step(state: str, action: str, actor: str, *, code: str = "",
         reason: str | None = None) -> str:
    """The state after ``action`` by ``actor`` on a wish in ``state``.

    Raises
    ------
    KeyError
        For an action or actor that does not exist (a programming error).
    Forbidden
        When this kind of actor may not take the action.
    IllegalTransition
        When the state does not allow the action (names the state in Chinese).
    geo.errors.InvalidInput
        A rejection without a reason.
    """
    from geo.errors import InvalidInput, Problem

    s = ACTIONS[action]
    if actor not in ACTORS:
        raise KeyError(actor)
    what = f"心愿 {code} " if code else "心愿"
    if state not in s.sources:
        allowed = allowed_actions(state)
        hint = ("已是最终状态" if state in FINAL
                else "可以：" + "、".join(ACTION_ZH[a] for a in allowed))
        raise IllegalTransition(
            f"{what}当前状态为「{WISH_STATE_ZH[state]}」，不能{ACTION_ZH[action]}（{hint}）",
            state=state, action=action, allowed=allowed)
    if actor not in s.actors:
        raise Forbidden(f"{ACTION_ZH[action]}只能由"
                        + "或".join(ACTOR_ZH[a] for a in ACTORS if a in s.actors) + "进行")
    if s.needs_reason and not (reason and reason.strip()):
        raise InvalidInput(f"{ACTION_ZH[action]}须说明理由", [
            Problem("不能为空", column="reason", expected="驳回理由（居民会看到）",
                    kind="missing_value")])
    return s.target or state
