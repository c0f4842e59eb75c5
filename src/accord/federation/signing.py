"""Node-to-node authentication: every call is an RFC 9421 HTTP Message Signature made with the calling node's
Ed25519 key, verified with the key the peer presented when peering. No shared password, no bearer token.

Covered components: method, authority, target URI and the body's Content-Digest (RFC 9530), so neither the
request line nor the body can be changed in transit. The signature's ``keyid`` is the caller's node id and its
``nonce`` is random: a signature older than ``MAX_AGE`` or seen before is refused (replay).
The ``http-message-signatures`` library (pyauth) does the RFC 9421 work; this module adapts it to httpx on the
client side and Starlette on the server side.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from accord.errors import AccordError
from accord.federation.models import MAX_NONCE_LENGTH

COVERED = ("@method", "@authority", "@target-uri", "content-digest")
MAX_AGE = timedelta(minutes=5)
FUTURE_SKEW_SECONDS = 60
# How long a seen nonce is kept: as long as a signature carrying it could still be accepted.
SEEN_SECONDS = MAX_AGE.total_seconds() + FUTURE_SKEW_SECONDS


class PeerAuthenticationFailed(AccordError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"peer authentication failed: {reason}")


@dataclass
class _Message:
    """What the signer and verifier read of a request: method, full URL and a writable header mapping."""

    method: str
    url: str
    headers: Any


class _OwnKey(HTTPSignatureKeyResolver):
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        return self._private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        return self._private.public_key()


class _PeerKeys(HTTPSignatureKeyResolver):
    def __init__(self, lookup: Callable[[str], bytes | None]) -> None:
        self._lookup = lookup

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        raw = self._lookup(key_id)
        if raw is None:
            raise PeerAuthenticationFailed(f"unknown node {key_id[:80]!r}")
        return Ed25519PublicKey.from_public_bytes(raw)

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:  # pragma: no cover - verification only
        raise PeerAuthenticationFailed("no private keys here")


def sign_message(
    method: str, url: str, headers: Any, body: bytes, node_id: str, private_key: Ed25519PrivateKey
) -> None:
    """Add Content-Digest, Signature-Input and Signature to ``headers`` (a writable mapping), for any client."""
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey(private_key))
    signer.sign(
        _Message(method, url, headers),
        key_id=node_id,
        nonce=secrets.token_urlsafe(16),
        covered_component_ids=COVERED,
        body=body,
    )


def sign_request(request: httpx.Request, node_id: str, private_key: Ed25519PrivateKey) -> httpx.Request:
    """Sign an httpx request (in place) and return it."""
    sign_message(request.method, str(request.url), request.headers, request.content, node_id, private_key)
    return request


class SignatureVerifier:
    """Verifies signed calls; ``remember(node_id, nonce)`` records each accepted call's nonce where every server
    process sees it and raises PeerAuthenticationFailed when it was recorded before (a replay)."""

    def __init__(self, lookup: Callable[[str], bytes | None], remember: Callable[[str, str], None]) -> None:
        self._verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_PeerKeys(lookup))
        self._remember = remember

    def verify(self, method: str, url: str, headers: Any, body: bytes) -> str:
        """The calling node's id. Raises PeerAuthenticationFailed with the reason."""
        if "signature" not in headers or "signature-input" not in headers:
            raise PeerAuthenticationFailed("the call is not signed (RFC 9421 Signature and Signature-Input)")
        try:
            results = self._verifier.verify(
                _Message(method, url, headers), max_age=MAX_AGE, require_components=COVERED, body=body
            )
        except PeerAuthenticationFailed:
            raise
        except (HTTPMessageSignaturesException, ValueError, KeyError) as exc:
            raise PeerAuthenticationFailed(str(exc)[:200] or type(exc).__name__) from None
        if len(results) != 1:
            raise PeerAuthenticationFailed("exactly one signature expected")
        parameters = results[0].parameters
        node_id, nonce, created = parameters.get("keyid"), parameters.get("nonce"), parameters.get("created")
        if not isinstance(node_id, str) or not isinstance(nonce, str) or not isinstance(created, int):
            raise PeerAuthenticationFailed("the signature needs keyid, nonce and created")
        # Transport freshness is judged on the machine's real clock, as the library judges max_age: these are
        # seconds between two machines, not the domain's (injected) notion of time.
        if created > time.time() + FUTURE_SKEW_SECONDS:
            raise PeerAuthenticationFailed("the signature is dated in the future (check the clocks)")
        if len(nonce) > MAX_NONCE_LENGTH:
            raise PeerAuthenticationFailed(f"the nonce is longer than {MAX_NONCE_LENGTH} characters")
        self._remember(node_id, nonce)
        return node_id
