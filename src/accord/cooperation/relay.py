"""What the request service tells whoever carries a request to another node, inside the change's transaction.

Requests between parties of this node need nothing more; when the other party stands for a peer node, the
federation puts the change in its outbox in the same transaction (``accord.federation.cooperation_link``).
Cooperation only knows this callable, not the federation: dependencies point one way (federation uses
cooperation, never the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from accord.cooperation import states
from accord.cooperation.models import CooperationRequest

REQUEST, HOLD, MESSAGE = "request", "hold", "message"  # the machines of a request's history


@dataclass(frozen=True)
class Change:
    """One change a person made: a transition of the request (``to`` a state), of its preservation hold, or a
    message (``to`` its kind), by the ``side`` the person acted for."""

    machine: str
    to: str
    side: states.Side
    actor: str
    details: dict[str, Any] = field(default_factory=dict)


# Returns True when the request's other party is on another node and the change will travel there; the service
# then leaves delivery (sent → received) to the receipt from that node.
Relay = Callable[[Session, CooperationRequest, Change], bool]
