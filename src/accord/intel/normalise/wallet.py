"""Cryptocurrency wallet addresses: Bitcoin, Ethereum (and every EVM chain) and TRON.

- Bitcoin legacy, base58check (P2PKH ``1...``, P2SH ``3...``; testnet ``m``/``n``/``2``): the 4-byte double-SHA-256
  checksum must match and the version byte must be known. Canonical form: as given (base58 is case-sensitive).
- Bitcoin segwit: bech32 (BIP-173) for witness version 0, bech32m (BIP-350) for versions 1 to 16, human-readable
  part ``bc`` or ``tb``. Canonical form: lower case.
- Ethereum: ``0x`` and 40 hex digits. Mixed case must be a valid EIP-55 checksum; all-lower and all-upper carry no
  checksum and are accepted. Canonical form: the EIP-55 checksummed address.
- TRON: base58check with version byte 0x41 (``T...``). Canonical form: as given.
"""

from __future__ import annotations

import re

import base58
import bech32
from Crypto.Hash import keccak

from accord.intel.normalise.errors import ChecksumMismatch, InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 128  # the longest address here is a 90-character bech32 string (BIP-173)
KIND = IdentifierKind.WALLET

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# version byte -> (chain, network, address type); Bitcoin's from chainparams.cpp, TRON's from its protocol docs
_BASE58_VERSIONS = {
    0x00: ("bitcoin", "mainnet", "p2pkh"),
    0x05: ("bitcoin", "mainnet", "p2sh"),
    0x6F: ("bitcoin", "testnet", "p2pkh"),
    0xC4: ("bitcoin", "testnet", "p2sh"),
    0x41: ("tron", "mainnet", "account"),
}
_BASE58_PAYLOAD = 21  # version byte + 20-byte hash (HASH160 for Bitcoin, the Keccak-derived account id for TRON)
_SEGWIT_NETWORKS = {"bc": "mainnet", "tb": "testnet"}
BECH32M_CONST = 0x2BC830A3  # BIP-350: bech32m's checksum constant (bech32's is 1)
_BECH32_MAX = 90  # BIP-173: a bech32 string is at most 90 characters
_ETHEREUM = re.compile(r"0[xX]([0-9a-fA-F]{40})")


def normalise_wallet(raw: str) -> Canonical:
    """Canonical address of ``raw`` (see the module docstring).

    Raises ChecksumMismatch when the shape is right but the checksum fails, InvalidIdentifier otherwise.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    text = raw.strip()
    if text[:2] in ("0x", "0X"):
        return _ethereum(raw, text)
    if text[:3].lower() in ("bc1", "tb1"):
        return _segwit(raw, text)
    if text and all(c in BASE58_ALPHABET for c in text):
        return _base58check(raw, text)
    raise InvalidIdentifier(KIND, raw, "not a Bitcoin, Ethereum or TRON address")


def eip55(hex_digits: str) -> str:
    """EIP-55 mixed-case checksum encoding of a 40-hex-digit address: a letter is upper case when the matching
    nibble of keccak-256(lower-case hex) is 8 or more."""
    lower = hex_digits.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def _ethereum(raw: str, text: str) -> Canonical:
    match = _ETHEREUM.fullmatch(text)
    if match is None:
        raise InvalidIdentifier(KIND, raw, "an Ethereum address is 0x and 40 hex digits")
    digits = match[1]
    checksummed = eip55(digits)
    if digits not in (digits.lower(), digits.upper()) and checksummed[2:] != digits:
        raise ChecksumMismatch(KIND, raw, "EIP-55 checksum (the mixed case) does not match")
    # An EVM address is the same on every EVM chain and network: the chain is metadata, not part of the key.
    return Canonical(KIND, checksummed, raw, {"chain": "ethereum", "network": "any", "encoding": "eip55"})


def _base58check(raw: str, text: str) -> Canonical:
    if not 25 <= len(text) <= 36:
        raise InvalidIdentifier(KIND, raw, "wrong length for a base58check address")
    try:
        payload = base58.b58decode_check(text)
    except ValueError as exc:
        raise ChecksumMismatch(KIND, raw, "base58check checksum (double SHA-256) does not match") from exc
    if len(payload) != _BASE58_PAYLOAD:
        raise InvalidIdentifier(KIND, raw, "base58check payload is not a 21-byte address")
    known = _BASE58_VERSIONS.get(payload[0])
    if known is None:
        raise InvalidIdentifier(KIND, raw, f"unknown base58check version byte 0x{payload[0]:02x}")
    chain, network, address_type = known
    details = {"chain": chain, "network": network, "encoding": "base58check", "address_type": address_type}
    return Canonical(KIND, text, raw, details)


def _segwit(raw: str, text: str) -> Canonical:
    # BIP-173 "Bech32": one case only, at most 90 characters, the last '1' separates hrp and data.
    if len(text) > _BECH32_MAX:
        raise InvalidIdentifier(KIND, raw, f"longer than {_BECH32_MAX} characters (BIP-173)")
    if text not in (text.lower(), text.upper()):
        raise InvalidIdentifier(KIND, raw, "mixed case is not allowed in bech32 (BIP-173)")
    address = text.lower()
    hrp, _, data_part = address.rpartition("1")
    if hrp not in _SEGWIT_NETWORKS or len(data_part) < 7 or any(c not in bech32.CHARSET for c in data_part):
        raise InvalidIdentifier(KIND, raw, "not a bech32 segwit address")
    data = [bech32.CHARSET.index(c) for c in data_part]
    encoding = _checksum_variant(hrp, data)
    if encoding is None:
        raise ChecksumMismatch(KIND, raw, "bech32/bech32m checksum does not match")
    version = data[0]
    expected = "bech32" if version == 0 else "bech32m"
    if encoding != expected:  # BIP-350: v0 keeps bech32, v1..v16 use bech32m
        raise ChecksumMismatch(KIND, raw, f"witness v{version} needs a {expected} checksum, not {encoding} (BIP-350)")
    program = _witness_program(hrp, address, data)
    if version > 16 or program is None:
        raise InvalidIdentifier(KIND, raw, "invalid witness version or program length (BIP-141)")
    network = _SEGWIT_NETWORKS[hrp]
    details = {"chain": "bitcoin", "network": network, "encoding": encoding, "witness_version": str(version)}
    return Canonical(KIND, address, raw, details)


def _checksum_variant(hrp: str, data: list[int]) -> str | None:
    """Which checksum the data carries. The ``bech32`` library (1.2.0) predates BIP-350 and knows bech32 only, so
    the bech32m constant is checked here, reusing the library's polymod."""
    residue = bech32.bech32_polymod(bech32.bech32_hrp_expand(hrp) + data)
    if residue == 1:
        return "bech32"
    if residue == BECH32M_CONST:
        return "bech32m"
    return None


def _witness_program(hrp: str, address: str, data: list[int]) -> list[int] | None:
    if data[0] == 0:
        version, program = bech32.decode(hrp, address)  # the library's BIP-173 decoder checks v0 lengths (20/32)
        return program if version == 0 else None
    # bech32m: the library's decoder rejects the checksum, so convert the 5-bit groups (without the 6 checksum
    # characters) ourselves; BIP-141 allows 2 to 40 program bytes.
    program = bech32.convertbits(data[1:-6], 5, 8, False)
    return program if program is not None and 2 <= len(program) <= 40 else None
