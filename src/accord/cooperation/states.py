"""The states of a cooperation request and of a preservation hold, and who may move them where.

Request (Convention requirement 7; UN Art. 40, BC Art. 27, 29):

    draft → pending_approval → sent → received → acknowledged → under_review ↔ needs_more_information
          → executing / postponed / refused / partially_executed → executed / refused / withdrawn / closed

Each transition names the side that makes it: the requesting party, the requested party, or the node itself
(delivery on this node: sent → received). A request the requesting side no longer needs can be withdrawn or
marked no longer required from any open state (UN 40: "promptly inform … no longer required").

Preservation hold (UN Art. 42(7)-(8), BC Art. 29(7)): active → mla_received (the hold continues until the MLA
request is decided) / extension_requested → extended / expired / released.
"""

from __future__ import annotations

from enum import StrEnum

from accord.errors import AccordError


class Side(StrEnum):
    REQUESTING = "requesting"
    REQUESTED = "requested"
    NODE = "node"


DRAFT = "draft"
PENDING_APPROVAL = "pending_approval"
SENT = "sent"
RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
UNDER_REVIEW = "under_review"
NEEDS_MORE_INFORMATION = "needs_more_information"
EXECUTING = "executing"
POSTPONED = "postponed"
PARTIALLY_EXECUTED = "partially_executed"
EXECUTED = "executed"
REFUSED = "refused"
WITHDRAWN = "withdrawn"
NO_LONGER_REQUIRED = "no_longer_required"
CLOSED = "closed"

FINAL = frozenset({CLOSED, WITHDRAWN, NO_LONGER_REQUIRED})
DECIDED = frozenset({EXECUTED, REFUSED, PARTIALLY_EXECUTED, *FINAL})  # an MLA decision ends a preservation hold
REQUESTING_ONLY = frozenset({WITHDRAWN, NO_LONGER_REQUIRED})

_R, _Q, _N = Side.REQUESTING, Side.REQUESTED, Side.NODE
TRANSITIONS: dict[str, dict[str, Side]] = {
    DRAFT: {PENDING_APPROVAL: _R, SENT: _R, WITHDRAWN: _R},
    PENDING_APPROVAL: {SENT: _R, DRAFT: _R, WITHDRAWN: _R},
    SENT: {RECEIVED: _N, WITHDRAWN: _R, NO_LONGER_REQUIRED: _R},
    RECEIVED: {ACKNOWLEDGED: _Q, WITHDRAWN: _R, NO_LONGER_REQUIRED: _R},
    ACKNOWLEDGED: {UNDER_REVIEW: _Q, EXECUTING: _Q, REFUSED: _Q, WITHDRAWN: _R, NO_LONGER_REQUIRED: _R},
    UNDER_REVIEW: {
        NEEDS_MORE_INFORMATION: _Q,
        EXECUTING: _Q,
        POSTPONED: _Q,
        REFUSED: _Q,
        PARTIALLY_EXECUTED: _Q,
        WITHDRAWN: _R,
        NO_LONGER_REQUIRED: _R,
    },
    # The requesting side answers with the information; the pause shows in the request's clocks.
    NEEDS_MORE_INFORMATION: {UNDER_REVIEW: _R, REFUSED: _Q, WITHDRAWN: _R, NO_LONGER_REQUIRED: _R},
    EXECUTING: {
        EXECUTED: _Q,
        PARTIALLY_EXECUTED: _Q,
        POSTPONED: _Q,
        REFUSED: _Q,
        WITHDRAWN: _R,
        NO_LONGER_REQUIRED: _R,
    },
    POSTPONED: {EXECUTING: _Q, UNDER_REVIEW: _Q, REFUSED: _Q, WITHDRAWN: _R, NO_LONGER_REQUIRED: _R},
    PARTIALLY_EXECUTED: {EXECUTED: _Q, CLOSED: _Q, REFUSED: _Q, NO_LONGER_REQUIRED: _R},
    EXECUTED: {CLOSED: _Q},
    REFUSED: {CLOSED: _Q},
    WITHDRAWN: {},
    NO_LONGER_REQUIRED: {},
    CLOSED: {},
}
STATES = tuple(TRANSITIONS)

# Preservation holds.
HOLD_ACTIVE = "active"
HOLD_MLA_RECEIVED = "mla_received"
HOLD_EXTENSION_REQUESTED = "extension_requested"
HOLD_EXTENDED = "extended"
HOLD_EXPIRED = "expired"
HOLD_RELEASED = "released"
HOLD_TRANSITIONS: dict[str, dict[str, Side]] = {
    HOLD_ACTIVE: {HOLD_MLA_RECEIVED: _N, HOLD_EXTENSION_REQUESTED: _R, HOLD_EXPIRED: _N, HOLD_RELEASED: _Q},
    HOLD_EXTENSION_REQUESTED: {HOLD_EXTENDED: _Q, HOLD_MLA_RECEIVED: _N, HOLD_EXPIRED: _N, HOLD_RELEASED: _Q},
    HOLD_EXTENDED: {HOLD_MLA_RECEIVED: _N, HOLD_EXTENSION_REQUESTED: _R, HOLD_EXPIRED: _N, HOLD_RELEASED: _Q},
    HOLD_MLA_RECEIVED: {HOLD_RELEASED: _N},
    HOLD_EXPIRED: {},
    HOLD_RELEASED: {},
}
HOLD_RUNNING = frozenset({HOLD_ACTIVE, HOLD_EXTENSION_REQUESTED, HOLD_EXTENDED})  # the clock can expire these


class IllegalTransition(AccordError):
    """The request (or hold) is not in a state from which the asked-for state can be reached, or not by you."""

    def __init__(self, current: str, requested: str, reason: str | None = None) -> None:
        self.current = current
        self.requested = requested
        self.reason = reason or f"cannot go from {current} to {requested}"
        super().__init__(f"illegal transition from {current} to {requested}: {self.reason}")


def side_for(current: str, requested: str, table: dict[str, dict[str, Side]] = TRANSITIONS) -> Side:
    """The side allowed to make the move. Raises IllegalTransition (naming both states) when there is none."""
    if current not in table:
        raise IllegalTransition(current, requested, f"unknown state {current!r}")
    allowed = table[current]
    if requested not in allowed:
        options = ", ".join(allowed) or "none: the state is final"
        raise IllegalTransition(current, requested, f"from {current} the next states are: {options}")
    return allowed[requested]
