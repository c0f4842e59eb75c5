"""Scam-native identifiers as STIX 2.1 "new-sco" extensions: phone-number, bank-account, cryptocurrency-wallet.

The type names and main properties are OpenCTI's (``value`` for phones and wallets; ``iban``, ``bic``,
``account_number`` for bank accounts), so bundles move between OpenCTI and Accord unchanged. For countries
without IBAN, a bank account is ``country`` + ``bank_id`` + ``account_number``. The extension-definition
objects below are what a consumer needs to understand them (STIX 2.1 section 7.3).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from stix2 import properties
from stix2.v21 import CustomObservable

# Deterministic ids: UUIDv5 (URL namespace) of https://accord.invalid/stix/extension/<type>, the same everywhere.
PHONE_EXTENSION = "extension-definition--51f93941-333e-5a76-87cc-7c9bfadd8d48"
BANK_ACCOUNT_EXTENSION = "extension-definition--bd9f9d33-e53c-5ad4-b3b7-4db8bd88c0ba"
WALLET_EXTENSION = "extension-definition--e16afda5-89eb-5e61-a895-da138beb18dd"
EXTENSION_CREATOR = "identity--d4f8a0a6-9c1b-5b7e-8a21-5d3f0c9e7b12"  # the Accord project
EXTENSION_TIME = "2026-11-23T00:00:00.000Z"
SCAM_SCO_TYPES = ("phone-number", "bank-account", "cryptocurrency-wallet")


@cache
def register() -> None:
    """Teach the stix2 library our three types, once per process (not at import time)."""
    CustomObservable(
        "phone-number",
        [("value", properties.StringProperty(required=True))],
        ["value"],
        extension_name=PHONE_EXTENSION,
    )(type("PhoneNumber", (), {}))
    CustomObservable(
        "bank-account",
        [
            ("iban", properties.StringProperty()),
            ("bic", properties.StringProperty()),
            ("account_number", properties.StringProperty()),
            ("country", properties.StringProperty()),
            ("bank_id", properties.StringProperty()),
        ],
        ["iban", "country", "bank_id", "account_number"],
        extension_name=BANK_ACCOUNT_EXTENSION,
    )(type("BankAccount", (), {}))
    CustomObservable(
        "cryptocurrency-wallet",
        [("value", properties.StringProperty(required=True)), ("chain", properties.StringProperty())],
        ["value"],
        extension_name=WALLET_EXTENSION,
    )(type("CryptocurrencyWallet", (), {}))


def extension_definitions() -> list[dict[str, Any]]:
    """The three extension-definition objects, for bundles Accord exports."""
    described = [
        (PHONE_EXTENSION, "phone-number", "A telephone number used in a scam; value in E.164."),
        (BANK_ACCOUNT_EXTENSION, "bank-account", "A bank account: iban, or country + bank_id + account_number."),
        (WALLET_EXTENSION, "cryptocurrency-wallet", "A cryptocurrency address; value as its chain encodes it."),
    ]
    return [
        {
            "type": "extension-definition",
            "spec_version": "2.1",
            "id": ext_id,
            "created_by_ref": EXTENSION_CREATOR,
            "created": EXTENSION_TIME,
            "modified": EXTENSION_TIME,
            "name": f"Accord {sco_type}",
            "description": description,
            "schema": f"https://accord.invalid/stix/extension/{sco_type}",
            "version": "1.0.0",
            "extension_types": ["new-sco"],
        }
        for ext_id, sco_type, description in described
    ]
