"""Errors of the identifier normalisers. Each carries the fields tests and the problem renderer read."""

from __future__ import annotations

from accord.errors import AccordError

RAW_KEPT = 200  # characters of the offending input kept on the error: enough to find it, bounded for hostile input


class InvalidIdentifier(AccordError):
    """``raw`` is not a valid identifier of ``kind`` (``"unknown"`` when detection found no kind); ``reason`` says why.

    ``raw`` is truncated to 200 characters. The message names the kind and reason, never the raw value, so that
    the identifier (possibly a victim's phone number) does not end up in logs through ``str(error)``.
    """

    def __init__(self, kind: str, raw: str, reason: str) -> None:
        self.kind = str(kind)
        self.raw = raw[:RAW_KEPT]
        self.reason = reason
        super().__init__(f"invalid {self.kind}: {reason}")


class ChecksumMismatch(InvalidIdentifier):
    """The value has the right shape for ``kind`` but its check digits or checksum do not match (a typo, or an
    altered identifier). ``reason`` always contains the word "checksum"; detection stops here instead of trying
    another kind.
    """
