"""The 点单-下单-接单 state machine: every state × action × actor, against a
table written out by hand from the issue (not from the module's own table)."""

from __future__ import annotations

import itertools

import pytest

from geo.errors import Forbidden, IllegalTransition, InvalidInput
from geo.residents import workflow
from geo.vocab import WISH_STATE_ZH, WishState

STATES = [s.value for s in WishState]
ACTORS = ["staff", "claimant", "resident", "system"]

#: (state, action) -> the state after it; everything else is illegal
LEGAL = {
    ("posted", "publish"): "published",
    ("posted", "reject"): "rejected",
    ("posted", "withdraw"): "withdrawn",
    ("posted", "expire"): "expired",
    ("published", "claim"): "claimed",
    ("published", "withdraw"): "withdrawn",
    ("published", "expire"): "expired",
    ("claimed", "claim"): "claimed",  # a second claimant
    ("claimed", "accept"): "claimed",  # the resident accepts a claimant
    ("claimed", "fulfil"): "fulfilled",
    ("claimed", "withdraw"): "withdrawn",
    ("fulfilled", "confirm"): "confirmed",
}
#: who may take each action
WHO = {
    "publish": {"staff"}, "reject": {"staff"}, "claim": {"claimant", "staff"},
    "accept": {"resident", "staff"}, "fulfil": {"claimant", "staff"},
    "confirm": {"resident", "staff"}, "withdraw": {"resident", "staff"},
    "expire": {"staff", "system"},
}


def test_the_actions_are_the_issues():
    assert set(workflow.ACTIONS) == set(WHO)


@pytest.mark.parametrize("state,action,actor",
                         list(itertools.product(STATES, list(WHO), ACTORS)))
def test_every_transition(state, action, actor):
    reason = "内容与服务无关" if action == "reject" else None
    if (state, action) not in LEGAL:
        with pytest.raises(IllegalTransition) as e:
            workflow.step(state, action, actor, code="W1", reason=reason)
        assert e.value.state == state and e.value.action == action
        # the message names the state in Chinese
        assert f"「{WISH_STATE_ZH[state]}」" in str(e.value)
        return
    if actor not in WHO[action]:
        with pytest.raises(Forbidden):
            workflow.step(state, action, actor, code="W1", reason=reason)
        return
    assert workflow.step(state, action, actor, code="W1", reason=reason) == LEGAL[state, action]


def test_final_states_allow_nothing():
    for state in ("rejected", "confirmed", "withdrawn", "expired"):
        assert workflow.allowed_actions(state) == ()
        with pytest.raises(IllegalTransition, match="已是最终状态"):
            workflow.step(state, "withdraw", "resident")


def test_allowed_actions_per_actor():
    assert set(workflow.allowed_actions("claimed", "claimant")) == {"claim", "fulfil"}
    assert set(workflow.allowed_actions("claimed", "resident")) == {"accept", "withdraw"}
    assert set(workflow.allowed_actions("posted", "staff")) == {"publish", "reject", "withdraw",
                                                                "expire"}


def test_a_rejection_needs_a_reason():
    for reason in (None, "", "   "):
        with pytest.raises(InvalidInput) as e:
            workflow.step("posted", "reject", "staff", reason=reason)
        assert e.value.problems[0].column == "reason"


def test_the_illegal_message_lists_what_is_possible():
    with pytest.raises(IllegalTransition) as e:
        workflow.step("published", "fulfil", "claimant", code="W9")
    assert "心愿 W9 当前状态为「待认领」" in str(e.value)
    assert set(e.value.allowed) == {"claim", "withdraw", "expire"}
