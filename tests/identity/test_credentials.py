"""Token format and password hashing (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.identity import credentials
from accord.ids import RandomIds


@given(st.text(max_size=200))
def test_parse_token_never_crashes_and_only_accepts_the_exact_shape(text: str) -> None:
    parsed = credentials.parse_token(text)
    if parsed is not None:
        assert parsed.plaintext == text.strip()


def test_new_tokens_round_trip_and_are_unique() -> None:
    ids = RandomIds()
    made = [credentials.new_token_secret(ids) for _ in range(200)]
    assert len({t.plaintext for t in made}) == 200
    for token in made:
        assert credentials.parse_token(token.plaintext) == token
        assert credentials.secret_matches(credentials.secret_hash(token.secret), token.secret)
        assert not credentials.secret_matches(credentials.secret_hash(token.secret), token.secret + "x")


def test_password_verification_rejects_oversized_and_wrong_input() -> None:
    stored = credentials.hash_password("a long enough password")
    assert credentials.verify_password(stored, "a long enough password")
    assert not credentials.verify_password(stored, "a long enough passworD")
    assert not credentials.verify_password(stored, "x" * (credentials.MAX_PASSWORD_LENGTH + 1))
    assert not credentials.verify_password("not-a-hash", "anything at all")
