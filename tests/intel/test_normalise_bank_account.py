"""Bank accounts: IBANs (ISO 13616) and the national "<CC>:<bank id>:<account>" form for countries without IBAN."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schwifty import IBAN, registry

from accord.intel.normalise import ChecksumMismatch, IdentifierKind, InvalidIdentifier, normalise
from accord.intel.normalise.bank_account import normalise_bank_account

PROPERTY = settings(max_examples=150, deadline=None)
KIND = "bank-account"


@pytest.mark.parametrize(
    ("raw", "value", "details"),
    [
        (
            "DE89 3704 0044 0532 0130 00",
            "DE89370400440532013000",
            {"format": "iban", "country": "DE", "bank_code": "37040044", "bic": "COBADEFFXXX"},
        ),
        (
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            {"format": "iban", "country": "GB", "bank_code": "WEST", "branch_code": "123456"},
        ),
    ],
)
def test_iban_published_examples_give_the_electronic_format(raw: str, value: str, details: dict[str, str]) -> None:
    canonical = normalise(KIND, raw)
    assert canonical.kind is IdentifierKind.BANK_ACCOUNT
    assert canonical.value == value
    assert dict(canonical.details) == details


@pytest.mark.parametrize(
    "raw", ["de89 3704 0044 0532 0130 00", "IBAN DE89 3704 0044 0532 0130 00", "DE89-3704-0044-0532-0130-00"]
)
def test_iban_lower_case_paper_prefix_and_hyphens_are_accepted(raw: str) -> None:
    assert normalise(KIND, raw).value == "DE89370400440532013000"


def test_iban_with_wrong_check_digits_is_a_checksum_mismatch() -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        normalise(KIND, "DE88 3704 0044 0532 0130 00")
    assert caught.value.kind == "bank-account"
    assert "checksum" in caught.value.reason
    assert caught.value.raw == "DE88 3704 0044 0532 0130 00"


def test_iban_with_one_digit_changed_in_the_account_is_a_checksum_mismatch() -> None:
    with pytest.raises(ChecksumMismatch):
        normalise(KIND, "GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("DE89 3704 0044 0532 0130 0", "length"),
        ("XX89 3704 0044 0532 0130 00", "country"),
        ("GB82 1234 1234 5698 7654 32", "format"),  # a British BBAN starts with four letters
    ],
)
def test_iban_of_wrong_length_country_or_format_is_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, raw)
    assert not isinstance(caught.value, ChecksumMismatch)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "raw",
    [
        "VN:970436:0071000123456",
        "vn:970436:0071000123456",
        "VN : 970 436 : 0071-000-123456",
        " VN:970436:0071.000.123456 ",
    ],
)
def test_bank_national_form_for_viet_nam_drops_separators(raw: str) -> None:
    canonical = normalise(KIND, raw)
    assert canonical.value == "VN:970436:0071000123456"
    assert dict(canonical.details) == {
        "format": "national",
        "country": "VN",
        "bank_code": "970436",
        "account_number": "0071000123456",
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [("US:021000021:123456789", "US:021000021:123456789"), ("PH:BNORPHMM:0012-3456-78", "PH:BNORPHMM:0012345678")],
)
def test_bank_national_form_for_other_countries_without_iban(raw: str, value: str) -> None:
    assert normalise(KIND, raw).value == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("DE:37040044:0532013000", "IBAN"),  # Germany has IBAN: one account, one key
        ("XX:970436:0071000123456", "country"),
        ("VN:970436:123", "account number"),
        ("VN:9:0071000123456", "bank id"),
        ("VN:970436:0071:000123456", "<country>:<bank id>:<account number>"),
        ("VN:970436:007100012345ß", "ASCII"),
    ],
)
def test_bank_national_form_rejects_bad_parts(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, raw)
    assert caught.value.kind == "bank-account"
    assert reason in caught.value.reason


GENERATED_IBANS = st.one_of(
    st.tuples(
        st.just("DE"),
        st.sampled_from(["37040044", "10070000", "50010517"]),
        st.from_regex(r"[1-9][0-9]{0,9}", fullmatch=True),
    ),
    st.tuples(st.just("NL"), st.sampled_from(["ABNA", "INGB", "RABO"]), st.from_regex(r"[0-9]{10}", fullmatch=True)),
    st.tuples(st.just("PL"), st.sampled_from(["10901014", "10201026"]), st.from_regex(r"[0-9]{16}", fullmatch=True)),
    st.tuples(st.just("BE"), st.sampled_from(["539", "001", "310"]), st.from_regex(r"[0-9]{7}", fullmatch=True)),
)


@PROPERTY
@given(parts=GENERATED_IBANS)
def test_iban_generated_by_schwifty_normalises_idempotently(parts: tuple[str, str, str]) -> None:
    iban = IBAN.generate(*parts)
    canonical = normalise(KIND, iban.formatted.lower())
    assert canonical.value == iban.compact
    assert canonical.details["country"] == parts[0]
    assert normalise(KIND, canonical.value) == normalise(KIND, iban.compact)


@PROPERTY
@given(
    country=st.sampled_from(["VN", "US", "PH", "GH", "KH", "SG"]),
    bank_id=st.from_regex(r"[A-Za-z0-9]{2,11}", fullmatch=True),
    account=st.from_regex(r"[A-Za-z0-9]{4,34}", fullmatch=True),
    separator=st.sampled_from(["", " ", "-", "."]),
)
def test_bank_national_form_normalises_idempotently(country: str, bank_id: str, account: str, separator: str) -> None:
    spaced = separator.join(account[i : i + 4] for i in range(0, len(account), 4))
    canonical = normalise(KIND, f"{country.lower()}:{bank_id}:{spaced}")
    assert canonical.value == f"{country}:{bank_id.upper()}:{account.upper()}"
    assert normalise(KIND, canonical.value).value == canonical.value


def test_the_remembered_bic_is_the_one_schwifty_gives_every_time() -> None:
    # The BIC is remembered per country, bank code and branch code (the registry lookup was half an IBAN's
    # cost): for banks of every registry country, known and unknown bank codes, cold and remembered, the details
    # are those schwifty's own ``iban.bic`` gives.
    rng = random.Random(20261124)  # noqa: S311 - a fixed sample of test data, not a secret
    ibans = [IBAN.random(country, random=rng) for country in sorted(registry.get_countries()) for _ in range(3)]
    ibans += [IBAN.random(country, random=rng, use_registry=False) for country in ("DE", "FR", "GB", "IT", "ES")]
    ibans += [IBAN.generate("DE", bank_code="37040044", account_code=str(n)) for n in range(1, 5)]
    assert sum(1 for iban in ibans if iban.bic is None) and sum(1 for iban in ibans if iban.bic is not None)
    for _round in ("cold", "remembered"):
        for iban in ibans:
            expected = None if iban.bic is None else str(iban.bic)
            details = normalise_bank_account(str(iban.compact)).details
            assert details.get("bic") == expected, (str(iban), _round)
            assert "bic" in details or expected is None
