"""Errors of matching. Each carries the fields tests and the problem renderer read."""

from __future__ import annotations

from accord.errors import InvalidInput


class TooManyValues(InvalidInput):
    """One lookup asked about more than ``limit`` values (``count``); the caller splits the list and asks again.

    An InvalidInput naming the field, so the answer points at it; rendered as 413 (the issue's "more than the
    limit"), because the request is well-formed, only larger than one call may be.
    """

    def __init__(self, field: str, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(field, f"{count} values; at most {limit} in one lookup")
