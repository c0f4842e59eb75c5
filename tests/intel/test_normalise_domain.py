"""Domain names: ASCII form, IDNA 2008, Public Suffix List details from the bundled snapshot."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.intel.normalise import IdentifierKind, InvalidIdentifier, normalise

PROPERTY = settings(max_examples=200, deadline=None)
KIND = "domain-name"


def test_domain_is_lower_cased_and_loses_its_trailing_dot() -> None:
    canonical = normalise(KIND, " WWW.Example.CO.UK. ")
    assert canonical.kind is IdentifierKind.DOMAIN
    assert canonical.value == "www.example.co.uk"
    assert dict(canonical.details) == {
        "registered_domain": "example.co.uk",
        "suffix": "co.uk",
        "private_suffix": "false",
    }


def test_domain_idn_uses_idna2008_not_the_idna2003_codec() -> None:
    # IDNA 2003 (Python's "idna" codec) would map ß to "ss", giving fass.de: another registrable domain.
    canonical = normalise(KIND, "Faß.de")
    assert canonical.value == "xn--fa-hia.de"
    assert canonical.details["unicode"] == "faß.de"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "example.com"),
    ],
)
def test_domain_unicode_and_punycode_spellings_share_one_key(raw: str, value: str) -> None:
    assert normalise(KIND, raw).value == value


@pytest.mark.parametrize(
    ("raw", "registered", "suffix"),
    [
        ("foo.github.io", "foo.github.io", "github.io"),
        ("a.b.foo.blogspot.com", "foo.blogspot.com", "blogspot.com"),
    ],
)
def test_domain_under_a_private_suffix_is_registered_one_level_deeper(raw: str, registered: str, suffix: str) -> None:
    details = normalise(KIND, raw).details
    assert details["registered_domain"] == registered
    assert details["suffix"] == suffix
    assert details["private_suffix"] == "true"


def test_domain_that_is_itself_a_public_suffix_has_no_registered_domain() -> None:
    assert normalise(KIND, "co.uk").details["registered_domain"] == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("localhost", "two labels"),
        ("ex_ample.com", "IDNA"),
        ("-phish.com", "IDNA"),
        ("a..b.com", "empty or longer than 63"),
        ("1.2.3.4", "all-numeric"),
        ("a" * 64 + ".com", "empty or longer than 63"),
        ("bücher" * 11 + ".de", "IDNA"),
        (".".join(["a" * 60] * 5) + ".com", "longer than 253"),
        ("x" * 2000, "1024"),
    ],
)
def test_domain_that_is_not_a_host_name_is_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, raw)
    assert caught.value.kind == "domain-name"
    assert reason in caught.value.reason


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(lambda label: label[2:4] != "--")
UNICODE_LABEL = st.text(st.sampled_from("abcxyzđăâêôơưáàảãạếềểễệ0123456789"), min_size=1, max_size=12)
SUFFIXES = st.sampled_from(["com", "vn", "com.vn", "co.uk", "github.io", "xn--fiqs8s", "中国", "blogspot.com"])
HOSTNAMES = st.tuples(st.lists(LABEL | UNICODE_LABEL, min_size=1, max_size=4), SUFFIXES).map(
    lambda parts: ".".join([*parts[0], parts[1]])
)


@PROPERTY
@given(raw=HOSTNAMES, upper=st.booleans())
def test_domain_normalisation_is_idempotent_on_generated_names(raw: str, upper: bool) -> None:
    canonical = normalise(KIND, raw.upper() if upper else raw)
    assert canonical.value.isascii()
    assert canonical.value == canonical.value.lower()
    assert canonical.value.endswith(canonical.details["registered_domain"])
    assert normalise(KIND, canonical.value) == normalise(KIND, canonical.value)
    assert normalise(KIND, canonical.value).value == canonical.value
