"""The clocks of a request, computed from its history on an injected clock (never the wall clock in code).

- acknowledge: an emergency request must be acknowledged within the catalogue's window (default 15 minutes),
  an urgent one within an hour; otherwise it is escalated to the requested party's next point of contact;
- answer: an emergency request is answered within the catalogue's window (default 8 hours, as the EU e-Evidence
  Regulation's emergency rule); other types within their own timer where the catalogue sets one. While the
  request waits for more information from the requesting side the answer clock is paused (Convention req. 13);
- status inquiry: when the requesting side should ask how the request stands (UN 40: respond to status requests);
- preservation hold: expiry no earlier than receipt + 60 days, with alerts at D-14, D-7 and D-1 (UN 42(7),
  BC 29(7)); a hold waiting for its MLA request's decision does not expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accord.cooperation import states

RUNNING, MET, OVERDUE, PAUSED, STOPPED = "running", "met", "overdue", "paused", "stopped"


@dataclass(frozen=True)
class Step:
    """What the clocks need of one history entry."""

    machine: str
    to_state: str
    at: datetime


@dataclass(frozen=True)
class Clock:
    name: str
    due_at: datetime | None
    status: str
    detail: str
    alerts: tuple[datetime, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "status": self.status,
            "detail": self.detail,
            "alerts": [a.isoformat() for a in self.alerts],
        }


@dataclass(frozen=True)
class HoldView:
    state: str
    started_at: datetime
    expires_at: datetime
    mla_request_id: str | None


def _first(steps: Sequence[Step], state: str) -> datetime | None:
    return next((s.at for s in steps if s.machine == "request" and s.to_state == state), None)


def paused_time(steps: Sequence[Step], now: datetime) -> timedelta:
    """Time spent in needs_more_information (the answer clock does not run while the requester owes an answer)."""
    total, since = timedelta(0), None
    for step in steps:
        if step.machine != "request":
            continue
        if step.to_state == states.NEEDS_MORE_INFORMATION and since is None:
            since = step.at
        elif since is not None and step.to_state != states.NEEDS_MORE_INFORMATION:
            total += step.at - since
            since = None
    if since is not None:
        total += now - since
    return total


def _status(done_at: datetime | None, due: datetime, now: datetime) -> str:
    if done_at is not None:
        return MET if done_at <= due else OVERDUE
    return OVERDUE if now > due else RUNNING


def clocks(
    *,
    state: str,
    urgency: str,
    steps: Sequence[Step],
    timers: dict[str, Any],
    global_timers: dict[str, int],
    hold: HoldView | None,
    now: datetime,
) -> list[Clock]:
    out: list[Clock] = []
    sent = _first(steps, states.SENT)
    received = _first(steps, states.RECEIVED) or sent
    acknowledged = _first(steps, states.ACKNOWLEDGED)
    decided = next(
        (
            s.at
            for s in steps
            if s.machine == "request" and s.to_state in states.DECIDED and s.to_state != states.CLOSED
        ),
        None,
    )
    stopped = state in states.FINAL and decided is None
    if sent is not None:
        acknowledge = _acknowledge_window(urgency, timers, global_timers)
        if acknowledge is not None:
            due = sent + acknowledge
            status = STOPPED if stopped and acknowledged is None else _status(acknowledged, due, now)
            out.append(Clock("acknowledge", due, status, f"acknowledge within {_human(acknowledge)} of sending"))
        answer = _answer_window(urgency, timers, global_timers)
        if answer is not None and received is not None:
            paused = paused_time(steps, now)
            due = received + answer + paused
            if stopped and decided is None:
                status = STOPPED
            elif state == states.NEEDS_MORE_INFORMATION:
                status = PAUSED
            else:
                status = _status(decided, due, now)
            detail = f"answer within {_human(answer)} of receipt" + (f", paused {_human(paused)}" if paused else "")
            out.append(Clock("answer", due, status, detail))
        inquiry_days = timers.get("status_inquiry_days")
        if isinstance(inquiry_days, int) and decided is None and not stopped:
            due = sent + timedelta(days=inquiry_days)
            status = "due" if now >= due else RUNNING
            out.append(Clock("status_inquiry", due, status, f"ask for the status after {inquiry_days} days"))
    if hold is not None:
        out.append(hold_clock(hold, timers, now))
    return out


def hold_clock(hold: HoldView, timers: dict[str, Any], now: datetime) -> Clock:
    alert_days = timers.get("hold_alert_days_before") or [14, 7, 1]
    if hold.state == states.HOLD_MLA_RECEIVED:
        return Clock("preservation_hold", None, STOPPED, "kept until the linked MLA request is decided")
    if hold.state in (states.HOLD_EXPIRED, states.HOLD_RELEASED):
        return Clock("preservation_hold", hold.expires_at, STOPPED, f"hold {hold.state}")
    alerts = tuple(sorted(hold.expires_at - timedelta(days=d) for d in alert_days))
    status = OVERDUE if now >= hold.expires_at else RUNNING
    return Clock(
        "preservation_hold",
        hold.expires_at,
        status,
        f"data preserved until {hold.expires_at:%Y-%m-%d %H:%M} UTC",
        alerts,
    )


def _acknowledge_window(urgency: str, timers: dict[str, Any], global_timers: dict[str, int]) -> timedelta | None:
    if isinstance(timers.get("acknowledge_minutes"), int):
        return timedelta(minutes=timers["acknowledge_minutes"])
    if urgency == "emergency":
        return timedelta(minutes=global_timers["emergency_acknowledge_minutes"])
    if urgency == "urgent" and "urgent_acknowledge_hours" in global_timers:
        return timedelta(hours=global_timers["urgent_acknowledge_hours"])
    return None


def _answer_window(urgency: str, timers: dict[str, Any], global_timers: dict[str, int]) -> timedelta | None:
    if isinstance(timers.get("answer_hours"), int):
        return timedelta(hours=timers["answer_hours"])
    if isinstance(timers.get("answer_days"), int):
        return timedelta(days=timers["answer_days"])
    if urgency == "emergency":
        return timedelta(hours=global_timers["emergency_answer_hours"])
    return None


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"
