"""The node's Ed25519 key pair."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.identity.errors import NodeKeyProblem
from accord.identity.node_keys import PRIVATE_KEY_FILE, generate_node_keys, load_node_keys, node_id_for


def test_private_key_is_created_0600_and_signs(tmp_path: Path) -> None:
    keys = generate_node_keys(tmp_path)
    assert stat.S_IMODE((tmp_path / PRIVATE_KEY_FILE).stat().st_mode) == 0o600
    loaded = load_node_keys(tmp_path)
    assert loaded.node_id == keys.node_id == node_id_for(keys.public_raw)
    signature = loaded.sign(b"tree head")
    Ed25519PublicKey.from_public_bytes(keys.public_raw).verify(signature, b"tree head")


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    generate_node_keys(tmp_path)
    with pytest.raises(NodeKeyProblem) as caught:
        generate_node_keys(tmp_path)
    assert caught.value.path.endswith(PRIVATE_KEY_FILE)


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    generate_node_keys(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).chmod(0o644)
    with pytest.raises(NodeKeyProblem) as caught:
        load_node_keys(tmp_path)
    assert "644" in caught.value.reason


def test_missing_key_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(NodeKeyProblem) as caught:
        load_node_keys(tmp_path)
    assert "accord init" in caught.value.reason
