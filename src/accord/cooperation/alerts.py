"""Notifications of cooperation requests: raised once each inside the transaction that causes them, shown in
the app, and e-mailed afterwards to the party's cooperation staff (a failing mail server never holds a
transaction or loses an alert). Emergency notifications name who is on duty now, from the 24/7 directory.
"""

from __future__ import annotations

import smtplib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.clock import Clock
from accord.cooperation.directory import Directory
from accord.cooperation.models import CooperationNotification, CooperationRequest
from accord.cooperation.notify import Mailer
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.store.engine import Database


class Alerts:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        identity: IdentityService,
        mailer: Mailer | None = None,
        directory: Directory | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._identity = identity
        self.mailer = mailer
        self._directory = directory

    def notify(self, session: Session, row: CooperationRequest, party_id: str, kind: str, message: str) -> int:
        key = f"{row.id}:{party_id}:{kind}"[:200]
        exists = session.scalar(select(CooperationNotification.id).where(CooperationNotification.key == key))
        if exists is not None:
            return 0
        session.add(
            CooperationNotification(
                key=key,
                party_id=party_id,
                request_id=row.id,
                kind=kind.split("-")[0] if kind.startswith("state-") else kind[:40],
                message=message,
                created_at=self._clock.now(),
            )
        )
        session.flush()
        return 1

    def contact_line(self, party_id: str, *, escalate: bool) -> str:
        """Who is on duty now for the party (the next one in escalation order when escalating)."""
        if self._directory is None:
            return ""
        duty = self._directory.on_duty(party_id)
        if not duty:
            return " (no point of contact of the party is on duty now: call its central authority)"
        entry = duty[1] if escalate and len(duty) > 1 else duty[0]
        reach = ", ".join(x for x in (entry.phone, entry.email) if x)
        return f": {entry.name}" + (f" ({reach})" if reach else "")

    def deliver_email(self, limit: int = 200) -> int:
        """E-mail the notifications not sent yet to the party's cooperation staff (after their transaction)."""
        if self.mailer is None or not self.mailer.settings.enabled:
            return 0
        with self._db.reading() as session:
            pending = session.scalars(
                select(CooperationNotification)
                .where(CooperationNotification.emailed_at.is_(None), CooperationNotification.email_error.is_(None))
                .order_by(CooperationNotification.id)
                .limit(limit)
            ).all()
            session.expunge_all()
        sent = 0
        for note in pending:
            addresses = self._identity.addresses_for(note.party_id, Permission.RESPOND_COOPERATION)
            addresses = addresses or self._identity.addresses_for(note.party_id, Permission.DRAFT_COOPERATION)
            error = None
            if not addresses:
                error = "no user of the party with an e-mail address handles cooperation requests"
            else:
                try:
                    self.mailer.send(addresses, f"[Accord] {note.message[:150]}", mail_body(note))
                    sent += 1
                except (OSError, smtplib.SMTPException) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
            with self._db.writing() as session:
                row = session.get(CooperationNotification, note.id)
                if row is not None:
                    row.emailed_at = None if error else self._clock.now()
                    row.email_error = error
        return sent

    def listed(self, party_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest notifications of a party (all of them for the node operator: ``party_id`` None)."""
        statement = select(CooperationNotification).order_by(CooperationNotification.id.desc()).limit(min(limit, 200))
        if party_id is not None:
            statement = statement.where(CooperationNotification.party_id == party_id)
        with self._db.reading() as session:
            return [
                {
                    "id": n.id,
                    "request_id": n.request_id,
                    "kind": n.kind,
                    "message": n.message,
                    "created_at": n.created_at.isoformat(),
                    "emailed_at": n.emailed_at.isoformat() if n.emailed_at else None,
                }
                for n in session.scalars(statement)
            ]


def mail_body(note: CooperationNotification) -> str:
    return (
        f"{note.message}\n\n"
        f"Request: {note.request_id}\n"
        f"Raised: {note.created_at:%Y-%m-%d %H:%M} UTC\n\n"
        "Open Accord to see the request, its history and its clocks. This message carries no case details on "
        "purpose: e-mail is not the channel for them.\n"
    )
