"""The node's own Ed25519 key pair: it signs audit heads (and, as they arrive, custody tree heads and envelopes).

The node id is derived from the public key, so a peer can check that a key belongs to the id it claims.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.identity.errors import NodeKeyProblem

PRIVATE_KEY_FILE = "node_key.pem"
PUBLIC_KEY_FILE = "node_key.pub.pem"


@dataclass(frozen=True)
class NodeKeys:
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey

    @property
    def public_raw(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def node_id(self) -> str:
        return node_id_for(self.public_raw)

    @property
    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def node_id_for(public_raw: bytes) -> str:
    return "node-" + hashlib.sha256(public_raw).hexdigest()[:32]


def generate_node_keys(home: Path) -> NodeKeys:
    """Create the key files in ``home``; refuses to overwrite an existing key (that would orphan the node id)."""
    private_path, public_path = home / PRIVATE_KEY_FILE, home / PUBLIC_KEY_FILE
    if private_path.exists():
        raise NodeKeyProblem(str(private_path), "already exists; a node keeps its key for life")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # O_EXCL + mode 0600 at creation: the secret is never readable by others, not even for a moment.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    keys = NodeKeys(key, key.public_key())
    public_path.write_text(keys.public_pem, encoding="ascii")
    return keys


def load_node_keys(home: Path) -> NodeKeys:
    path = home / PRIVATE_KEY_FILE
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NodeKeyProblem(str(path), "missing; run accord init") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NodeKeyProblem(str(path), f"mode {stat.S_IMODE(mode):o} lets others read it; chmod 600")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise NodeKeyProblem(str(path), f"unreadable: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise NodeKeyProblem(str(path), "not an Ed25519 key")
    return NodeKeys(key, key.public_key())
