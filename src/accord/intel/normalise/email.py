"""E-mail addresses (RFC 5321/5322 syntax, with RFC 6531 internationalised local parts), checked offline by
``email-validator``. Canonical form: the library's normalised local part (Unicode NFC, case kept: only the
receiving server knows whether case matters) ``@`` the domain in lower-case ASCII (IDNA A-labels)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from accord.intel.normalise.domain import normalise_domain
from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 512  # RFC 5321 section 4.5.3.1.3 limits a path to 256 octets; leave room for surrounding space
KIND = IdentifierKind.EMAIL


def normalise_email(raw: str) -> Canonical:
    """Canonical form of the address ``raw``. No DNS lookup is made.

    Raises InvalidIdentifier when the syntax is wrong or the domain is reserved (``.test``, ``localhost``...).
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentifier(KIND, raw, str(exc)) from exc
    domain = result.ascii_domain.lower()
    details = {"local_part": result.local_part, "domain": domain}
    try:
        details["registered_domain"] = normalise_domain(domain).details["registered_domain"]
    except InvalidIdentifier:
        pass  # email-validator accepts a few names our stricter host-name rules do not; the address still stands
    return Canonical(KIND, f"{result.local_part}@{domain}", raw, details)
