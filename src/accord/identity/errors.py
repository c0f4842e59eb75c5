"""Identity errors. Each carries the fields tests assert; none carries an HTTP status."""

from __future__ import annotations

from datetime import datetime

from accord.errors import AccordError


class AuthenticationFailed(AccordError):
    """Credentials (password, token or session) were missing, wrong, expired or revoked.

    ``reason`` is for the audit log and tests; callers never show it, so a guesser cannot tell which.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__("authentication failed")


class LoginThrottled(AccordError):
    """Too many failed logins for this user name or client; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {retry_after} s")


class PermissionDenied(AccordError):
    """The authenticated actor lacks the role or token scope for ``permission``."""

    def __init__(self, actor: str, permission: str, missing: str) -> None:
        self.actor = actor
        self.permission = permission
        self.missing = missing  # "role", "scope", or "party" (the object belongs to another party)
        super().__init__(f"{actor} may not {permission} (missing {missing})")


class TokenExpiryInvalid(AccordError):
    def __init__(self, requested: datetime, latest: datetime) -> None:
        self.requested = requested
        self.latest = latest
        super().__init__(f"token expiry {requested.isoformat()} is past the latest allowed {latest.isoformat()}")


class NodeKeyProblem(AccordError):
    """The node's key pair is missing, unreadable or readable by others."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"node key {path}: {reason}")
