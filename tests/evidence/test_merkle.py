"""The custody Merkle tree against RFC 9162 §2.1: published vectors, a brute-force reference, tampering, limits.

The reference below is a separate, deliberately naive implementation: MTH, PATH and PROOF written as the
recursive definitions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 over explicit lists of leaf data.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.evidence import merkle
from accord.evidence.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    consistency_proof_keys,
    frontier_keys,
    inclusion_proof,
    inclusion_proof_keys,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    root_hash,
    root_keys,
    verify_consistency,
    verify_inclusion,
)

# -- the RFC's recursive definitions, literally ----------------------------------------------------------------


def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if whole else [ref_mth(data)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, data[:k], whole), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return ref_subproof(m, data, True)


# -- helpers --------------------------------------------------------------------------------------------------


def leaf_data(n: int) -> list[bytes]:
    return [b"custody event %d" % i for i in range(n)]


class Store:
    """What a caller keeps: leaf hashes (level 0) and every node that Frontier.append reported."""

    def __init__(self, data: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = Frontier.empty()
        for item in data:
            self.add(leaf_hash(item))

    def add(self, leaf: bytes) -> None:
        self.nodes[(0, self.frontier.size)] = leaf
        for level, index, digest in self.frontier.append(leaf):
            assert (level, index) not in self.nodes
            self.nodes[(level, index)] = digest

    def subtree(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def limited(self, keys: list[tuple[int, int]]) -> Callable[[int, int], bytes]:
        """A subtree callable that knows only ``keys`` (a KeyError shows a key the *_keys function missed)."""
        allowed = {key: self.nodes[key] for key in keys}
        return lambda level, index: allowed[(level, index)]


def perfect_subtrees(n: int) -> Iterator[tuple[int, int]]:
    level = 1
    while (1 << level) <= n:
        for index in range(n >> level):
            yield level, index
        level += 1


# -- published vectors: github.com/transparency-dev/merkle (testonly/constants.go, proof/verify_test.go) --------
# The 8 leaf inputs of the Certificate Transparency test tree, the root of every prefix, the hashes of every
# perfect subtree, the compact ranges, and known inclusion/consistency proofs (leaf numbers there count from 1).

CT_INPUTS = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
# CompactTrees(): the compact range of each prefix, as (level, index) into CT_NODES.
CT_COMPACT = [[], [(0, 0)], [(1, 0)], [(1, 0), (0, 2)], [(2, 0)], [(2, 0), (0, 4)], [(2, 0), (1, 2)],
              [(2, 0), (1, 2), (0, 6)], [(3, 0)]]  # fmt: skip
# (leaf number counting from 1, tree size, proof)
CT_INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_hash_functions_match_rfc_9162_and_the_ct_vectors() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert leaf_hash(b"").hex() == CT_NODES[0][0]
    assert node_hash(bytes.fromhex(CT_NODES[0][0]), bytes.fromhex(CT_NODES[0][1])).hex() == CT_NODES[1][0]


def test_ct_vector_roots_nodes_and_compact_ranges() -> None:
    store = Store([])
    for size in range(len(CT_INPUTS) + 1):
        if size:
            store.add(leaf_hash(CT_INPUTS[size - 1]))
        assert store.frontier.root().hex() == CT_ROOTS[size]
        assert root_hash(size, store.subtree).hex() == CT_ROOTS[size]
        assert root_from_leaf_hashes([leaf_hash(d) for d in CT_INPUTS[:size]]).hex() == CT_ROOTS[size]
        assert frontier_keys(size) == CT_COMPACT[size]
        assert hexes(list(store.frontier.hashes)) == [CT_NODES[level][index] for level, index in CT_COMPACT[size]]
    for level, row in enumerate(CT_NODES):
        for index, digest in enumerate(row):
            assert store.nodes[(level, index)].hex() == digest


@pytest.mark.parametrize(("number", "size", "proof"), CT_INCLUSION)
def test_ct_vector_inclusion_proofs(number: int, size: int, proof: list[str]) -> None:
    store = Store(CT_INPUTS)
    assert hexes(inclusion_proof(number - 1, size, store.subtree)) == proof
    leaf = leaf_hash(CT_INPUTS[number - 1])
    verify_inclusion(leaf, number - 1, size, [bytes.fromhex(h) for h in proof], bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_ct_vector_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    store = Store(CT_INPUTS)
    assert hexes(consistency_proof(old, new, store.subtree)) == proof
    roots = [bytes.fromhex(h) for h in CT_ROOTS]
    verify_consistency(old, new, roots[old], roots[new], [bytes.fromhex(h) for h in proof])


# -- brute force against the reference -------------------------------------------------------------------------


def check_tree(data: list[bytes], store: Store, indexes: range | list[int], olds: range | list[int]) -> None:
    n = len(data)
    root = ref_mth(data)
    assert root_hash(n, store.subtree) == root
    assert root_hash(n, store.limited(root_keys(n))) == root
    assert store.frontier.root() == root
    for index in indexes:
        proof = inclusion_proof(index, n, store.limited(inclusion_proof_keys(index, n)))
        assert proof == ref_path(index, data), (index, n)
        verify_inclusion(leaf_hash(data[index]), index, n, proof, root)
    for old in olds:
        proof = consistency_proof(old, n, store.limited(consistency_proof_keys(old, n)))
        assert proof == (ref_proof(old, data) if 0 < old < n else []), (old, n)
        verify_consistency(old, n, ref_mth(data[:old]), root, proof)


def test_every_tree_up_to_70_leaves_matches_the_reference() -> None:
    data = leaf_data(70)
    store = Store([])
    for n in range(0, 71):
        if n:
            store.add(leaf_hash(data[n - 1]))
        check_tree(data[:n], store, range(n), range(n + 1))


def test_frontier_reports_exactly_the_perfect_subtrees_with_their_reference_hashes() -> None:
    data = leaf_data(70)
    store = Store(data)
    reported = {key for key in store.nodes if key[0] >= 1}
    assert reported == set(perfect_subtrees(70))
    for level, index in reported:
        assert store.nodes[(level, index)] == ref_mth(data[index << level : (index + 1) << level])


def test_keys_name_complete_perfect_subtrees_once() -> None:
    for n in range(1, 40):
        for keys in [root_keys(n), *(inclusion_proof_keys(i, n) for i in range(n))] + [
            consistency_proof_keys(m, n) for m in range(n + 1)
        ]:
            assert len(keys) == len(set(keys))
            assert all(((index + 1) << level) <= n for level, index in keys)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_larger_trees_match_the_reference(n: int, draw: st.DataObject) -> None:
    data = leaf_data(n)
    store = Store(data)
    indexes = draw.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    olds = draw.draw(st.lists(st.integers(0, n), min_size=1, max_size=4))
    check_tree(data, store, indexes, olds)
    assert root_from_leaf_hashes([leaf_hash(d) for d in data]) == ref_mth(data)


# -- the frontier ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 7, 8, 13, 32, 63])
def test_frontier_rebuilt_from_stored_subtrees_continues_the_same_tree(cut: int) -> None:
    data = leaf_data(80)
    whole = Store(data)
    partial = Store(data[:cut])
    rebuilt = Frontier(cut, [partial.nodes[key] for key in frontier_keys(cut)])
    assert rebuilt.hashes == partial.frontier.hashes
    reported: dict[tuple[int, int], bytes] = {}
    for item in data[cut:]:
        for level, index, digest in rebuilt.append(leaf_hash(item)):
            reported[(level, index)] = digest
    assert rebuilt.size == 80
    assert rebuilt.root() == ref_mth(data)
    assert reported == {key: h for key, h in whole.nodes.items() if key[0] >= 1 and key not in partial.nodes}


def test_frontier_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="a frontier of 6 leaves holds 2 hashes, 1 given"):
        Frontier(6, [EMPTY_ROOT])
    with pytest.raises(ValueError, match="frontier hash 1 is 31 bytes"):
        Frontier(3, [EMPTY_ROOT, EMPTY_ROOT[:31]])
    with pytest.raises(ValueError, match="leaf hash is 3 bytes"):
        Frontier.empty().append(b"abc")
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        Frontier(-1, [])
    with pytest.raises(ValueError, match="already holds"):
        Frontier(2**63 - 1, [EMPTY_ROOT] * 63).append(EMPTY_ROOT)


def test_a_million_appends_are_fast_and_agree_with_the_reference_root() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1_000_000)]
    frontier = Frontier.empty()
    started = time.perf_counter()
    for leaf in leaves:
        frontier.append(leaf)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"1,000,000 appends took {elapsed:.2f} s"
    assert frontier.root() == root_from_leaf_hashes(leaves)
    assert len(frontier.hashes) == bin(1_000_000).count("1")


# -- tampering: every change to a good proof is rejected ------------------------------------------------------


def flips(proof: list[bytes]) -> Iterator[list[bytes]]:
    for position, digest in enumerate(proof):
        for byte in range(len(digest)):
            changed = bytearray(digest)
            changed[byte] ^= 0x01
            yield [*proof[:position], bytes(changed), *proof[position + 1 :]]


def inclusion_rejected(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return True
    return False


def consistency_rejected(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    try:
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ProofError:
        return True
    return False


def test_every_change_to_an_inclusion_proof_is_rejected() -> None:
    """The probes of transparency-dev/merkle's verify_test.go (corruptInclusionProof), on every small tree.

    A size off by one is not among them: RFC 9162 checks the size only through the shape of the path, and
    e.g. leaf 0's path has the same shape in trees of 3 and 4 leaves. The signed checkpoint binds size to root.
    """
    data = leaf_data(20)
    store = Store(data)
    other = hashlib.sha256(b"some other hash").digest()
    for n in range(1, 21):
        root = root_hash(n, store.subtree)
        for index in range(n):
            leaf = leaf_hash(data[index])
            proof = inclusion_proof(index, n, store.subtree)
            variants: list[tuple[bytes, int, int, list[bytes], bytes]] = [
                (leaf, index - 1, n, proof, root),
                (leaf, index + 1, n, proof, root),
                (leaf, index ^ 2, n, proof, root),
                (leaf, index, n * 2, proof, root),
                (leaf, index, n // 2, proof, root),
                (other, index, n, proof, root),
                (leaf, index, n, proof, other),
                (leaf, index, n, proof, EMPTY_ROOT),
                (leaf, index, n, [*proof, root], root),
                (leaf, index, n, [root, *proof], root),
                (leaf, index, n, [*proof, b""], root),
                (leaf, index, n, proof[:-1], root) if proof else (leaf, index, n, [other], root),
                (leaf, index, n, proof[1:], root) if proof else (leaf, index, n, [root], root),
            ]
            variants += [(leaf, index, n, changed, root) for changed in flips(proof)]
            for variant in variants:
                if variant[1] < 0:
                    continue
                assert inclusion_rejected(*variant), (index, n, variant[1:3])


def test_every_change_to_a_consistency_proof_is_rejected() -> None:
    """The probes of transparency-dev/merkle's verify_test.go (corruptConsistencyProof), on every small tree."""
    data = leaf_data(20)
    store = Store(data)
    roots = [root_hash(n, store.subtree) for n in range(21)]
    other = hashlib.sha256(b"some other hash").digest()
    for n in range(2, 21):
        for m in range(1, n):
            proof = consistency_proof(m, n, store.subtree)
            old, new = roots[m], roots[n]
            variants: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
                (m - 1, n, old, new, proof),
                (m + 1, n, old, new, proof),
                (m ^ 2, n, old, new, proof),
                (m, n * 2, old, new, proof),
                (m, n // 2, old, new, proof),
                (m, n, other, new, proof),
                (m, n, old, other, proof),
                (m, n, new, old, proof),
                (m, n, old, new, []),
                (m, n, old, new, proof[:-1]),
                (m, n, old, new, proof[1:]),
                (m, n, old, new, [*proof, old]),
                (m, n, old, new, [*proof, new]),
                (m, n, old, new, [old, *proof]),
                (m, n, old, new, [proof[0], *proof]),
                (m, n, old, new, [*proof, b""]),
            ]
            variants += [(m, n, old, new, changed) for changed in flips(proof)]
            for variant in variants:
                assert consistency_rejected(*variant), (m, n, variant[:2])


# -- precise messages, edge cases and limits ------------------------------------------------------------------


@pytest.fixture(scope="module")
def twelve() -> Store:
    return Store(leaf_data(12))


def test_inclusion_messages_name_the_failed_check(twelve: Store) -> None:
    root = root_hash(12, twelve.subtree)
    leaf = twelve.nodes[(0, 5)]
    proof = inclusion_proof(5, 12, twelve.subtree)
    assert len(proof) == 4
    with pytest.raises(ProofError, match=r"^inclusion proof for leaf 5 of 12: 3 hashes given, 4 expected$"):
        verify_inclusion(leaf, 5, 12, proof[:3], root)
    with pytest.raises(ProofError, match=r"^inclusion proof for leaf 12 of 12: the leaf index is not below"):
        verify_inclusion(leaf, 12, 12, proof, root)
    with pytest.raises(ProofError, match=r"leaf 5 of 12: hash 2 of 4 is 31 bytes, expected 32"):
        verify_inclusion(leaf, 5, 12, [proof[0], proof[1][:31], *proof[2:]], root)
    wrong = twelve.nodes[(0, 6)]
    with pytest.raises(ProofError) as caught:
        verify_inclusion(wrong, 5, 12, proof, root)
    message = str(caught.value)
    assert message.startswith("inclusion proof for leaf 5 of 12: computed root ")
    assert message.endswith(f"differs from the signed root {root.hex()[:12]}\u2026")
    with pytest.raises(ProofError, match="65 hashes given, more than the limit of 64"):
        verify_inclusion(leaf, 5, 12, [root] * 65, root)


def test_consistency_messages_and_trivial_cases(twelve: Store) -> None:
    roots = [root_hash(n, twelve.subtree) for n in range(13)]
    proof = consistency_proof(5, 12, twelve.subtree)
    with pytest.raises(ProofError, match=rf"^consistency proof from 5 to 12: {len(proof) + 1} hashes given, "):
        verify_consistency(5, 12, roots[5], roots[12], [*proof, roots[1]])
    with pytest.raises(ProofError, match=r"^consistency proof from 12 to 5: the old tree is larger"):
        verify_consistency(12, 5, roots[12], roots[5], proof)
    with pytest.raises(
        ProofError, match=rf"computed old root .* differs from the signed old root {roots[4].hex()[:12]}"
    ):
        verify_consistency(5, 12, roots[4], roots[12], proof)
    with pytest.raises(ProofError, match=r"computed new root .* differs from the signed new root"):
        verify_consistency(5, 12, roots[5], roots[11], proof)
    # Nothing to prove: empty proofs, and the roots must still be right.
    verify_consistency(0, 12, EMPTY_ROOT, roots[12], [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(7, 7, roots[7], roots[7], [])
    assert consistency_proof(0, 12, twelve.subtree) == consistency_proof(7, 7, twelve.subtree) == []
    with pytest.raises(ProofError, match=r"computed old root .* differs from the signed old root"):
        verify_consistency(0, 12, roots[3], roots[12], [])
    with pytest.raises(ProofError, match="from 0 to 12: 1 hashes given, 0 expected"):
        verify_consistency(0, 12, EMPTY_ROOT, roots[12], [roots[1]])
    with pytest.raises(ProofError, match="from 7 to 7: same size, different roots"):
        verify_consistency(7, 7, roots[7], roots[8], [])
    with pytest.raises(ProofError, match="from 7 to 7: 1 hashes given, 0 expected"):
        verify_consistency(7, 7, roots[7], roots[7], [roots[7]])
    with pytest.raises(ProofError, match="signed old root is 3 bytes, expected 32"):
        verify_consistency(5, 12, b"old", roots[12], proof)


def test_sizes_and_indexes_are_limited_to_63_bits() -> None:
    too_big = 2**63
    for call in [
        lambda: root_keys(too_big),
        lambda: frontier_keys(too_big),
        lambda: inclusion_proof_keys(0, too_big),
        lambda: consistency_proof_keys(1, too_big),
        lambda: verify_inclusion(EMPTY_ROOT, too_big, too_big, [], EMPTY_ROOT),
        lambda: verify_inclusion(EMPTY_ROOT, 0, too_big, [], EMPTY_ROOT),
        lambda: verify_consistency(1, too_big, EMPTY_ROOT, EMPTY_ROOT, []),
        lambda: verify_consistency(-1, 3, EMPTY_ROOT, EMPTY_ROOT, []),
    ]:
        with pytest.raises(ValueError, match=r"outside 0\.\.2\*\*63-1"):
            call()
    with pytest.raises(ValueError, match="leaf index 5 is not in a tree of 5 leaves"):
        inclusion_proof_keys(5, 5)
    with pytest.raises(ValueError, match="old tree size 6 is larger than new tree size 5"):
        consistency_proof_keys(6, 5)


def test_proofs_in_the_largest_tree_verify() -> None:
    """A tree of 2**63-1 equal leaves (its perfect subtrees are cheap to know): the arithmetic holds."""

    levels = [leaf_hash(b"same")]  # a tree whose leaves are all equal: every perfect subtree of a level is equal
    for _ in range(63):
        levels.append(node_hash(levels[-1], levels[-1]))

    def fake(level: int, index: int) -> bytes:
        return levels[level]

    n = 2**63 - 1
    root = root_hash(n, fake)
    assert len(frontier_keys(n)) == 63
    for index in [0, 1, 2**62, n - 2, n - 1]:
        proof = inclusion_proof(index, n, fake)
        assert len(proof) <= merkle.MAX_PROOF_HASHES
        verify_inclusion(fake(0, index), index, n, proof, root)
    for old in [1, 2**40 + 3, 2**62, n - 1]:
        proof = consistency_proof(old, n, fake)
        verify_consistency(old, n, root_hash(old, fake), root, proof)


def test_cross_check_with_pymerkle() -> None:
    """pymerkle (RFC 9162 §2 tree, 1-based leaf numbers) must agree on roots and inclusion paths."""
    pymerkle = pytest.importorskip("pymerkle")
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    data = leaf_data(100)
    for item in data:
        tree.append_entry(item)
    store = Store(data)
    for n in range(101):
        assert tree.get_root(n) == root_hash(n, store.subtree)
    for n in range(1, 101, 7):
        for index in range(n):
            assert list(tree.prove_inclusion(index + 1, n).path[1:]) == inclusion_proof(index, n, store.subtree)
