"""Domain names, canonicalised to their ASCII (A-label) form, with the registered domain from the Public Suffix List.

IDNA: IDNA 2008 (RFC 5891) with the UTS #46 mapping (case folding, full-width dots), through the ``idna`` package.
Python's built-in ``"idna"`` codec is IDNA 2003, which maps ``faß.de`` to ``fass.de`` - a different registrable
domain than the ``xn--fa-hia.de`` that browsers and registries use - so it is not used. ``idna`` is the library
``email-validator`` already uses, so a domain and the domain part of an e-mail address get the same key.

The Public Suffix List is ``tldextract``'s bundled snapshot, never fetched over the network nor cached on disk,
with the private section included: on ``github.io`` or ``blogspot.com`` the registered domain is one level deeper
(``foo.github.io``), because blocking ``github.io`` would hit every user of it.
"""

from __future__ import annotations

import functools
import re

import idna
import tldextract

from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 1024  # generous for a 253-character name written in Unicode; bounds the work on hostile input
MAX_NAME = 253  # RFC 1035 section 2.3.4: 255 octets on the wire, i.e. 253 characters in dotted text form
MAX_LABEL = 63  # RFC 1035 section 2.3.4
KIND = IdentifierKind.DOMAIN

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")  # RFC 1123 section 2.1 host name syntax
_NUMERIC = re.compile(r"[0-9]+")


def normalise_domain(raw: str) -> Canonical:
    """ASCII form of the domain name ``raw``, with ``registered_domain``, ``suffix`` and ``private_suffix`` details.

    ``registered_domain`` is empty when the name is itself a public suffix (``co.uk``, ``github.io``) or its suffix
    is not in the list. Raises InvalidIdentifier when ``raw`` is not a valid host name.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    text = raw.strip()
    if text.endswith("."):
        text = text[:-1]  # the root label (RFC 1034 section 3.1): "example.com." names the same domain
    if not text:
        raise InvalidIdentifier(KIND, raw, "empty")
    if text.isascii():
        _check_lengths(raw, text)  # before IDNA, which would refuse these too but without saying why
    try:
        name = idna.encode(text, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError and its subclasses are UnicodeErrors
        raise InvalidIdentifier(KIND, raw, "not a valid IDNA 2008 host name") from exc
    labels = _check_lengths(raw, name)
    if not all(_LDH_LABEL.fullmatch(label) for label in labels):
        raise InvalidIdentifier(KIND, raw, "labels must be letters, digits or inner hyphens")
    if _NUMERIC.fullmatch(labels[-1]):
        raise InvalidIdentifier(KIND, raw, "all-numeric top-level label (an IP address is not a domain name)")
    return Canonical(KIND, name, raw, _suffix_details(name))


def _check_lengths(raw: str, name: str) -> list[str]:
    labels = name.split(".")
    if len(name) > MAX_NAME:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_NAME} characters")
    if len(labels) < 2:
        raise InvalidIdentifier(KIND, raw, "needs at least two labels")
    if not all(1 <= len(label) <= MAX_LABEL for label in labels):
        raise InvalidIdentifier(KIND, raw, f"a label is empty or longer than {MAX_LABEL} characters")
    return labels


def _suffix_details(name: str) -> dict[str, str]:
    parts = _extractor().extract_str(name)
    details = {
        "registered_domain": parts.top_domain_under_public_suffix,
        "suffix": parts.suffix,
        "private_suffix": "true" if parts.is_private else "false",
    }
    if "xn--" in name:
        try:
            details["unicode"] = idna.decode(name)  # for an analyst looking for look-alikes; never a key
        except UnicodeError:
            pass
    return details


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    """Built on first use, not at import: reading the bundled list takes a moment."""
    return tldextract.TLDExtract(
        cache_dir=None,  # no cache file under $HOME
        suffix_list_urls=(),  # never fetch the list over the network
        fallback_to_snapshot=True,
        include_psl_private_domains=True,
    )
