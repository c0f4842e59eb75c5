"""Injectable identifiers. Every object that may cross a border gets a UUID-based id that is stable forever."""

from __future__ import annotations

import secrets
import uuid
from typing import Protocol


class IdSource(Protocol):
    def new_id(self, kind: str) -> str:
        """A fresh id such as ``party--<uuid4>`` (the STIX 2.1 id shape, so ids travel in STIX bundles)."""
        ...

    def secret(self, nbytes: int) -> str:
        """A fresh URL-safe random secret of ``nbytes`` bytes of entropy."""
        ...


class RandomIds:
    def new_id(self, kind: str) -> str:
        return f"{kind}--{uuid.uuid4()}"

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)


class SequentialIds:
    """Predictable ids for tests; secrets stay random because tests must not depend on them."""

    def __init__(self) -> None:
        self._counter = 0

    def new_id(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}--{uuid.UUID(int=self._counter)}"

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)
