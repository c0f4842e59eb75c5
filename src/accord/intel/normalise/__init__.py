"""Identifier normalisers: one canonical form per scam identifier, the key of the observable index.

``normalise(kind, raw)`` checks and canonicalises a value of a known kind; ``detect(raw)`` guesses the kind first.
Both return a :class:`Canonical` or raise :class:`InvalidIdentifier` (:class:`ChecksumMismatch` when check digits
or a checksum fail). Everything runs offline.
"""

from accord.intel.normalise.detect import detect
from accord.intel.normalise.dispatch import normalise
from accord.intel.normalise.errors import ChecksumMismatch, InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

__all__ = ["Canonical", "ChecksumMismatch", "IdentifierKind", "InvalidIdentifier", "detect", "normalise"]
