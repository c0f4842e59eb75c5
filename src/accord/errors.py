"""The one base error of Accord.

Domain errors live in ``<domain>/errors.py``, subclass :class:`AccordError`, and carry structured
fields that tests assert. They carry no HTTP status: ``web/problems.py`` maps them to RFC 9457
problem documents in one place, and the CLI prints ``str(error)`` on one line.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base of every error Accord raises on purpose."""


class InvalidInput(AccordError):
    """A value from outside (a form, a flag, a JSON body, a file) is not acceptable.

    ``field`` names the input so that the HTTP layer and the CLI can point at it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class NotFound(AccordError):
    """An object that the caller named does not exist (or is not visible to them)."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class AlreadyExists(AccordError):
    """A unique name is taken."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} already exists")
