"""Checks on identity input from outside (forms, JSON, flags). Each failure names its field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

import pycountry

from accord.errors import InvalidInput

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")  # shape only; nothing is sent to it
MAX_NAME = 200
E = TypeVar("E", bound=StrEnum)


def clean_text(field: str, value: str, *, max_length: int = MAX_NAME, required: bool = True) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"at most {max_length} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(field, "must not contain control characters")
    return value


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
    if not EMAIL.match(value):
        raise InvalidInput("email", "not an e-mail address")
    return value


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
