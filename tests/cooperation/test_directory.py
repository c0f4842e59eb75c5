"""The 24/7 directory: hours in each contact's own time zone, stale entries flagged, emergency routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accord.clock import FrozenClock
from accord.cooperation.directory import on_duty, parse_hours
from accord.cooperation.legal import Decision
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.node import Node
from tests.cooperation.conftest import Desks
from tests.cooperation.test_requests import _draft


@pytest.mark.parametrize(
    ("hours", "zone", "at", "expected"),
    [
        ("24/7", "Asia/Manila", datetime(2026, 11, 22, 3, 0, tzinfo=UTC), True),
        ("Mon-Fri 08:00-17:00", "Asia/Manila", datetime(2026, 11, 23, 1, 0, tzinfo=UTC), True),  # Mon 09:00 PHT
        ("Mon-Fri 08:00-17:00", "Asia/Manila", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), False),  # Mon 18:00 PHT
        ("Mon-Fri 08:00-17:00", "Asia/Manila", datetime(2026, 11, 22, 1, 0, tzinfo=UTC), False),  # Sunday
        ("Fri-Mon 20:00-23:59", "Africa/Accra", datetime(2026, 11, 22, 21, 0, tzinfo=UTC), True),  # Sunday night
        ("Mon 08:00-12:00; Sat 09:00-12:00", "Asia/Ho_Chi_Minh", datetime(2026, 11, 28, 3, 0, tzinfo=UTC), True),
    ],
)
def test_on_duty_in_the_contacts_own_time_zone(hours: str, zone: str, at: datetime, expected: bool) -> None:
    assert on_duty(hours, zone, at) is expected


@pytest.mark.parametrize("hours", ["always", "Mon-Fri", "Mon-Fri 17:00-08:00", "Xyz 08:00-09:00", "Mon 25:00-26:00"])
def test_bad_hours_name_the_field(hours: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_hours(hours)
    assert refused.value.field == "hours"


def _entry(node: Node, operator: Actor, party: str, name: str, order: int, hours: str = "24/7", **extra: Any) -> Any:
    return node.directory.add(
        operator,
        party=party,
        role="point_of_contact_24_7",
        name=name,
        hours=hours,
        time_zone="Asia/Manila",
        languages=["en", "fil"],
        channels=["accord", "phone"],
        phone=extra.get("phone", "+63 2 8723 0401"),
        escalation_order=order,
    )


def test_stale_entries_are_flagged_after_twelve_months(
    node: Node, desks: Desks, operator: Actor, clock: FrozenClock
) -> None:
    entry = _entry(node, operator, desks.world.pnp.id, "PNP-ACG duty officer", 1)
    assert entry.stale is False
    clock.advance(timedelta(days=366))
    [listed] = node.directory.entries(desks.analyst, desks.world.pnp.id)
    assert listed.stale is True
    assert node.directory.verify(operator, entry.id).stale is False
    with pytest.raises(InvalidInput) as refused:
        node.directory.add(
            operator, party=desks.world.pnp.id, role="oracle", name="x", hours="24/7", time_zone="Asia/Manila",
            languages=[], channels=[],
        )  # fmt: skip
    assert refused.value.field == "role"


def test_an_unacknowledged_emergency_is_escalated_to_the_next_on_duty(
    node: Node, desks: Desks, operator: Actor, clock: FrozenClock
) -> None:
    pnp = desks.world.pnp.id
    _entry(node, operator, pnp, "Day desk", 1, hours="Mon-Fri 08:00-17:00")
    _entry(node, operator, pnp, "Duty officer Santos", 2, phone="+63 917 000 0001")
    _entry(node, operator, pnp, "Deputy Cruz", 3, phone="+63 917 000 0002")
    clock.advance(timedelta(hours=13))  # 06:00 on Tuesday in Manila: the day desk has not opened
    request_id = _draft(node, desks)
    node.cooperation_requests.update(desks.analyst, request_id, {"urgency": "emergency"})
    node.cooperation_requests.transition(desks.analyst, request_id, "sent", Decision())
    first = node.cooperation_requests.notifications(desks.pnp_poc)[0]["message"]
    assert first.startswith("EMERGENCY") and "Duty officer Santos" in first
    clock.advance(timedelta(minutes=16))
    node.cooperation_requests.tick()
    messages = [n["message"] for n in node.cooperation_requests.notifications(desks.pnp_poc)]
    assert any("escalated" in m and "Deputy Cruz (+63 917 000 0002)" in m for m in messages)
