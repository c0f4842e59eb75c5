"""E-mail for cooperation notifications (a deadline alert at 3 a.m. must reach the 24/7 desk's inbox too).

Notifications are first written to the database in the transaction that raises them; mail goes out afterwards,
so a slow or failing mail server never holds a transaction or loses an alert: each notification records when it
was e-mailed, or why it could not be.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.sender)


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, recipients: list[str], subject: str, body: str) -> None:
        """Send one message; raises OSError or smtplib.SMTPException when the server will not take it."""
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.settings.host, self.settings.port, timeout=TIMEOUT_SECONDS) as server:
            server.send_message(message)
