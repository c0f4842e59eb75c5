"""Checks on identity input from outside (forms, JSON, flags). Each failure names its field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

import pycountry

from accord.errors import InvalidInput
from accord.identity.models import CONTACT_LENGTH

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")  # shape only; nothing is sent to it
MAX_NAME = 200
JOINERS = frozenset({"\u200c", "\u200d"})  # ZWNJ/ZWJ are part of correct spelling in Persian, Indic scripts
E = TypeVar("E", bound=StrEnum)


def clean_text(field: str, value: str, *, max_length: int = MAX_NAME, required: bool = True) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"at most {max_length} characters")
    if has_control_characters(value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def contact(value: str | None) -> str | None:
    """A party's point of contact (free text: desk, phone, e-mail), or None when absent or blank."""
    if value is None:
        return None
    return clean_text("contact", value, max_length=CONTACT_LENGTH, required=False) or None


def username(value: str) -> str:
    value = value.strip().lower()
    if not USERNAME.match(value):
        raise InvalidInput(
            "username", "2-64 characters: letters a-z, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not EMAIL.match(value) or has_control_characters(value):
        raise InvalidInput("email", "not an e-mail address")
    return value


def has_control_characters(value: str) -> bool:
    """Control (Cc) and format (Cf) characters: NUL breaks PostgreSQL, bidi overrides mislead readers."""
    return any(unicodedata.category(ch) in {"Cc", "Cf"} and ch not in JOINERS for ch in value)


def is_lookup_key(value: str) -> bool:
    """A name or id we may look up at all (bounded, printable); anything else cannot exist."""
    return 0 < len(value) <= MAX_NAME and not has_control_characters(value)


OBJECT_ID = re.compile(r"^[a-z][a-z0-9-]{0,40}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_object_id(value: str, kind: str) -> bool:
    """``<kind>--<uuid>``, the shape of every id Accord hands out."""
    return bool(OBJECT_ID.match(value)) and value.startswith(f"{kind}--")


def country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput("country", f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def one_of(field: str, value: str, vocabulary: type[E]) -> E:
    try:
        return vocabulary(value.strip().lower())
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(v.value for v in vocabulary)}") from None


def many_of(field: str, values: Iterable[str], vocabulary: type[E]) -> frozenset[E]:
    chosen = frozenset(one_of(field, v, vocabulary) for v in values)
    if not chosen:
        raise InvalidInput(field, "choose at least one")
    return chosen
