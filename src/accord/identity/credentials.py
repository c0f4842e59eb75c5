"""Passwords (argon2id) and API-token secrets (random, stored as SHA-256).

API tokens carry 256 bits of randomness, so a fast hash is enough to store them (as GitHub does);
argon2's deliberate slowness is for human-chosen passwords only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accord.errors import InvalidInput
from accord.ids import IdSource

MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B allows 8; we ask more of accounts that reach personal data
MAX_PASSWORD_LENGTH = 1024  # bounds argon2's work on hostile input
GENERATED_PASSWORD_BYTES = 15  # 20 URL-safe characters, 120 bits
TOKEN_PREFIX = "accord"  # noqa: S105 - a public prefix that secret scanners match, not a secret
TOKEN_LOOKUP_BYTES = 9  # 12 characters: finds the row without revealing the secret
TOKEN_SECRET_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^accord\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$")

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_password_hash() -> str:
    """A hash to verify against when the user does not exist, so that timing does not reveal user names.

    Made on first use, not at import (argon2 is deliberately slow).
    """
    return _hasher.hash("accord-no-such-user-dummy-password")


def generate_password(ids: IdSource) -> str:
    return ids.secret(GENERATED_PASSWORD_BYTES)


@dataclass(frozen=True)
class TokenSecret:
    lookup: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{TOKEN_PREFIX}.{self.lookup}.{self.secret}"


def new_token_secret(ids: IdSource) -> TokenSecret:
    return TokenSecret(lookup=ids.secret(TOKEN_LOOKUP_BYTES), secret=ids.secret(TOKEN_SECRET_BYTES))


def parse_token(plaintext: str) -> TokenSecret | None:
    match = _TOKEN_SHAPE.match(plaintext.strip())
    return TokenSecret(match.group(1), match.group(2)) if match else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, secret_hash(secret))


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (upgrade it at the next login)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False
