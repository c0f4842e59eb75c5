"""Audit errors."""

from __future__ import annotations

from accord.errors import AccordError


class AuditChainBroken(AccordError):
    """Entry ``seq`` does not fit the chain: its ``field`` holds ``actual`` where ``expected`` was computed."""

    def __init__(self, seq: int, field: str, expected: str, actual: str) -> None:
        self.seq = seq
        self.field = field
        self.expected = expected
        self.actual = actual
        super().__init__(f"audit chain broken at entry {seq}: {field} is {actual}, expected {expected}")
