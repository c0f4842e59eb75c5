"""E-mail addresses: email-validator's normalised local part, the domain in lower-case ASCII; no DNS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.intel.normalise import IdentifierKind, InvalidIdentifier, normalise

PROPERTY = settings(max_examples=150, deadline=None)
KIND = "email-addr"


def test_email_domain_is_lower_cased_and_local_part_case_kept() -> None:
    canonical = normalise(KIND, " John.Doe@Example.COM ")
    assert canonical.kind is IdentifierKind.EMAIL
    assert canonical.value == "John.Doe@example.com"
    assert dict(canonical.details) == {
        "local_part": "John.Doe",
        "domain": "example.com",
        "registered_domain": "example.com",
    }


def test_email_idn_domain_becomes_punycode() -> None:
    assert normalise(KIND, "kế-toán@BÜCHER.de").value == "kế-toán@xn--bcher-kva.de"


def test_email_registered_domain_respects_private_suffixes() -> None:
    assert normalise(KIND, "support@scam.github.io").details["registered_domain"] == "scam.github.io"


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "x@example.test", "two@@example.com", "a b@example.com", ""])
def test_email_with_bad_syntax_or_reserved_domain_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, raw)
    assert caught.value.kind == "email-addr"
    assert caught.value.reason


LOCAL = st.from_regex(r"[A-Za-z0-9]+([._+-][A-Za-z0-9]+){0,3}", fullmatch=True)
DOMAIN = st.tuples(
    st.from_regex(r"[a-z0-9]([a-z0-9]{0,10}[a-z0-9])?", fullmatch=True) | st.sampled_from(["bücher", "đà-nẵng"]),
    st.sampled_from(["com", "vn", "co.uk", "github.io"]),
).map(lambda parts: f"{parts[0]}.{parts[1]}")


@PROPERTY
@given(local=LOCAL, domain=DOMAIN, upper_domain=st.booleans())
def test_email_normalisation_is_idempotent_on_generated_addresses(local: str, domain: str, upper_domain: bool) -> None:
    canonical = normalise(KIND, f"{local}@{domain.upper() if upper_domain else domain}")
    assert canonical.value.startswith(local + "@")
    assert normalise(KIND, canonical.value).value == canonical.value
