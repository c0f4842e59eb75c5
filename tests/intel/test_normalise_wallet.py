"""Wallet addresses: published BIP-173/BIP-350/EIP-55 vectors, and generated addresses round-tripping."""

from __future__ import annotations

import base58
import bech32
import pytest
from Crypto.Hash import keccak
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accord.intel.normalise import ChecksumMismatch, IdentifierKind, InvalidIdentifier, normalise

PROPERTY = settings(max_examples=150, deadline=None)
KIND = "cryptocurrency-wallet"

# BIP-350, "Test vectors for v0-v16 native segregated witness addresses": valid (the first also in BIP-173).
SEGWIT_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "mainnet", "bech32", "0"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "testnet", "bech32", "0"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "mainnet", "bech32m", "1"),
    ("BC1SW50QGDZ25J", "mainnet", "bech32m", "16"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "mainnet", "bech32m", "2"),
    ("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "testnet", "bech32", "0"),
    ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "testnet", "bech32m", "1"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "mainnet", "bech32m", "1"),
]
# BIP-350 invalid vectors whose fault is the checksum (variant) ...
SEGWIT_BAD_CHECKSUM = [
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32 instead of bech32m
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",  # bech32 instead of bech32m
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # bech32 instead of bech32m
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # bech32m instead of bech32
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",  # bech32m instead of bech32
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # BIP-173's first address with the last character changed
]
# ... and whose fault is something else.
SEGWIT_MALFORMED = [
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # invalid character in the data part
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # witness version 17
    "bc1pw5dgrnzv",  # 1-byte program
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41-byte program
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # 16-byte program for v0
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",  # mixed case
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # more than 4 bits of zero padding
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",  # non-zero padding
    "bc1gmk9yu",  # empty data section
]
# EIP-55's own examples: all-caps, all-lower and mixed-case addresses that are their checksummed form.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
BASE58_VERSIONS = {0x00: "bitcoin", 0x05: "bitcoin", 0x6F: "bitcoin", 0xC4: "bitcoin", 0x41: "tron"}


@pytest.mark.parametrize(("raw", "network", "encoding", "version"), SEGWIT_VALID)
def test_segwit_bip350_valid_vectors_are_lower_cased(raw: str, network: str, encoding: str, version: str) -> None:
    canonical = normalise(KIND, raw)
    assert canonical.kind is IdentifierKind.WALLET
    assert canonical.value == raw.lower()
    assert dict(canonical.details) == {
        "chain": "bitcoin",
        "network": network,
        "encoding": encoding,
        "witness_version": version,
    }


@pytest.mark.parametrize("raw", SEGWIT_BAD_CHECKSUM)
def test_segwit_wrong_checksum_or_variant_is_a_checksum_mismatch(raw: str) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        normalise(KIND, raw)
    assert caught.value.kind == "cryptocurrency-wallet"
    assert "checksum" in caught.value.reason


@pytest.mark.parametrize("raw", SEGWIT_MALFORMED)
def test_segwit_malformed_vectors_are_rejected_without_blaming_the_checksum(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, raw)
    assert not isinstance(caught.value, ChecksumMismatch)
    assert caught.value.kind == "cryptocurrency-wallet"


@pytest.mark.parametrize("checksummed", EIP55_EXAMPLES)
def test_ethereum_eip55_examples_in_any_case_give_the_checksummed_form(checksummed: str) -> None:
    for raw in (checksummed, "0x" + checksummed[2:].lower(), "0x" + checksummed[2:].upper()):
        canonical = normalise(KIND, raw)
        assert canonical.value == checksummed
        assert dict(canonical.details) == {"chain": "ethereum", "network": "any", "encoding": "eip55"}


def test_ethereum_wrong_mixed_case_is_a_checksum_mismatch() -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        normalise(KIND, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")  # last letter's case flipped
    assert caught.value.kind == "cryptocurrency-wallet"
    assert "EIP-55 checksum" in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "chain", "address_type"),
    [
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bitcoin", "p2pkh"),  # Bitcoin wiki's P2PKH example
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bitcoin", "p2sh"),  # Bitcoin wiki's P2SH example
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron", "account"),  # the USDT-TRC20 contract
    ],
)
def test_base58check_addresses_are_kept_as_given(raw: str, chain: str, address_type: str) -> None:
    canonical = normalise(KIND, f"  {raw} ")
    assert canonical.value == raw
    assert canonical.details["chain"] == chain
    assert canonical.details["address_type"] == address_type
    assert canonical.details["network"] == "mainnet"


@pytest.mark.parametrize("raw", ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "1bvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"])
def test_base58check_wrong_checksum_or_case_is_a_checksum_mismatch(raw: str) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        normalise(KIND, raw)
    assert caught.value.kind == "cryptocurrency-wallet"
    assert "checksum" in caught.value.reason


def test_base58check_with_unknown_version_byte_is_rejected() -> None:
    litecoin = base58.b58encode_check(bytes([0x30]) + bytes(20)).decode()
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(KIND, litecoin)
    assert "version byte 0x30" in caught.value.reason


def _eip55(payload: bytes) -> str:
    lower = payload.hex()
    digest = keccak.new(digest_bits=256, data=lower.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest, strict=False))


def _segwit(hrp: str, version: int, program: bytes) -> str:
    if version == 0:
        address = bech32.encode(hrp, 0, program)
        assert address is not None
        return address
    # bech32 1.2.0 cannot encode bech32m (BIP-350): compute the checksum with its constant here.
    five_bit = bech32.convertbits(program, 8, 5)
    assert five_bit is not None
    data = [version, *five_bit]
    polymod = bech32.bech32_polymod([*bech32.bech32_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 0x2BC830A3
    return hrp + "1" + "".join(bech32.CHARSET[d] for d in data + [(polymod >> 5 * (5 - i)) & 31 for i in range(6)])


@PROPERTY
@given(payload=st.binary(min_size=20, max_size=20), case=st.sampled_from(["lower", "upper", "eip55"]))
def test_ethereum_generated_addresses_normalise_to_eip55(payload: bytes, case: str) -> None:
    checksummed = _eip55(payload)
    raw = {"lower": "0x" + payload.hex(), "upper": "0x" + payload.hex().upper(), "eip55": checksummed}[case]
    assert normalise(KIND, raw).value == checksummed
    assert normalise(KIND, checksummed).value == checksummed


@PROPERTY
@given(payload=st.binary(min_size=20, max_size=20), index=st.integers(0, 39))
def test_ethereum_one_letter_case_flipped_is_a_checksum_mismatch(payload: bytes, index: int) -> None:
    checksummed = _eip55(payload)
    digits = checksummed[2:]
    assume(digits[index].isalpha())
    flipped = digits[:index] + digits[index].swapcase() + digits[index + 1 :]
    assume(flipped not in (flipped.lower(), flipped.upper()))  # no letter case left: carries no checksum
    with pytest.raises(ChecksumMismatch):
        normalise(KIND, "0x" + flipped)


@PROPERTY
@given(version=st.sampled_from(sorted(BASE58_VERSIONS)), payload=st.binary(min_size=20, max_size=20))
def test_base58check_generated_addresses_round_trip(version: int, payload: bytes) -> None:
    address = base58.b58encode_check(bytes([version]) + payload).decode()
    canonical = normalise(KIND, address)
    assert canonical.value == address
    assert canonical.details["chain"] == BASE58_VERSIONS[version]
    assert normalise(KIND, canonical.value).value == address


@PROPERTY
@given(
    hrp=st.sampled_from(["bc", "tb"]),
    version=st.integers(0, 16),
    program=st.binary(min_size=2, max_size=40),
    upper=st.booleans(),
)
def test_segwit_generated_addresses_round_trip_in_lower_case(
    hrp: str, version: int, program: bytes, upper: bool
) -> None:
    assume(version != 0 or len(program) in (20, 32))
    address = _segwit(hrp, version, program)
    canonical = normalise(KIND, address.upper() if upper else address)
    assert canonical.value == address
    assert canonical.details["encoding"] == ("bech32" if version == 0 else "bech32m")
    assert normalise(KIND, canonical.value).value == address


@PROPERTY
@given(
    version=st.integers(0, 16),
    program=st.binary(min_size=20, max_size=20),
    data=st.data(),
)
def test_segwit_one_character_changed_is_a_checksum_mismatch(version: int, program: bytes, data: st.DataObject) -> None:
    address = _segwit("bc", version, program)
    index = data.draw(st.integers(3, len(address) - 1))  # a data or checksum character
    replacement = data.draw(st.sampled_from([c for c in bech32.CHARSET if c != address[index]]))
    with pytest.raises(ChecksumMismatch):
        normalise(KIND, address[:index] + replacement + address[index + 1 :])
