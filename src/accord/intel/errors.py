"""Intelligence errors."""

from __future__ import annotations

from accord.errors import AccordError


class InvalidStix(AccordError):
    """One object of a bundle is not valid STIX 2.1 (or carries an identifier that does not check out)."""

    def __init__(self, object_id: str, reason: str) -> None:
        self.object_id = object_id
        self.reason = reason
        super().__init__(f"{object_id}: {reason}")


class InvalidBundle(AccordError):
    """The request or file as a whole is not a STIX bundle (not JSON, wrong type, too many objects)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"not a STIX 2.1 bundle: {reason}")
