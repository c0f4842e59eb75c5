"""The Merkle tree of the evidence custody log: RFC 9162 (Certificate Transparency 2.0) §2.1 with SHA-256.

Why this tree: the custody log must let a court or a foreign node check, offline and with nothing but this
RFC, that one custody event is in the log (inclusion proof) and that the log only ever grew (consistency
proof). RFC 9162 §2.1 is the Merkle tree that Certificate Transparency, Go's checksum database and every
C2SP transparency-log witness already use, so their tools can check our proofs too.

Storage model (no database here, this module is pure): a *perfect subtree* ``(level, index)`` is MTH of the
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hash itself. The caller stores the
perfect subtrees that ``Frontier.append`` reports and hands them back through a callable
``subtree(level, index) -> bytes``. Every MTH(D[a:b]) that the recursive definitions of §2.1.1, §2.1.3.1 and
§2.1.4.1 need is a node of the RFC tree, so ``[a, b)`` starts at a multiple of the next power of two at or above
``b - a`` and splits into perfect subtrees following the binary digits of ``b - a`` (largest first); its MTH is
the right fold of their hashes (the RFC splits at the largest power of two below the length, which is exactly
the first of those perfect subtrees). The ``*_keys`` functions name the perfect subtrees a computation will
read, so the caller fetches all of them in one query; they run the very same computation with a recording
callable, so keys and proofs cannot disagree.

Verification (``verify_inclusion``, ``verify_consistency``) follows the algorithms of §2.1.3.2 and §2.1.4.2
step by step; they are what an offline verifier abroad runs, so every failure says which check failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
MAX_TREE_SIZE = 2**63 - 1  # sizes and indexes travel as signed 64-bit integers (databases, Go's int64)
MAX_PROOF_HASHES = 64  # a proof in a tree of at most 2**63 - 1 leaves never needs more than 63 hashes

Key = tuple[int, int]
Subtree = Callable[[int, int], bytes]

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))
_NODE_PREFIX = b"\x01"  # RFC 9162 §2.1.1: MTH(D_n) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))

EMPTY_ROOT = _sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()


class ProofError(Exception):
    """A proof failed verification; the message names the check that failed."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of one leaf, SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of an interior node, SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def short_hex(digest: bytes) -> str:
    """A hash shortened for messages: its first 12 hex digits and an ellipsis."""
    return digest.hex()[:12] + "\u2026"


# -- sizes and ranges ------------------------------------------------------------------------------------------


def _check_count(what: str, value: int) -> None:
    if value < 0 or value > MAX_TREE_SIZE:
        raise ValueError(f"{what} {value} is outside 0..2**63-1")


def _split(length: int) -> int:
    """RFC 9162 §2.1.1: k, the largest power of two smaller than ``length`` (for length > 1)."""
    return 1 << ((length - 1).bit_length() - 1)


def _range_keys(lo: int, hi: int) -> list[Key]:
    """The perfect subtrees that make up the RFC-tree node ``[lo, hi)``, largest (leftmost) first."""
    keys: list[Key] = []
    start, length = lo, hi - lo
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def _fetch(subtree: Subtree, key: Key) -> bytes:
    digest = subtree(*key)
    if len(digest) != HASH_SIZE:
        raise ValueError(f"perfect subtree {key} is {len(digest)} bytes, expected {HASH_SIZE}")
    return digest


def _range_hash(lo: int, hi: int, subtree: Subtree) -> bytes:
    """MTH(D[lo:hi]) of an RFC-tree node: the right fold of its perfect subtrees (RFC 9162 §2.1.1)."""
    hashes = [_fetch(subtree, key) for key in _range_keys(lo, hi)]
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs make up PATH(index, D_n), RFC 9162 §2.1.3.1, leaf-side first.

    PATH(m, D_n) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k, else PATH(m - k, D[k:n]) : MTH(D[0:k]); walking
    down from the root collects the siblings root-side first, so they are reversed at the end.
    """
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs make up PROOF(m, D_n) = SUBPROOF(m, D_n, true), RFC 9162 §2.1.4.1.

    SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}; for m < n, with k the largest power
    of two below n: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k, else SUBPROOF(m - k, D[k:n], false) :
    MTH(D[0:k]). PROOF is defined for 0 < m < n only; for m = 0 or m = n there is nothing to prove.
    """
    if old_size in (0, new_size):
        return []
    siblings: list[tuple[int, int]] = []
    lo, hi, whole = 0, new_size, True
    while old_size != hi:  # invariant: lo < old_size <= hi
        k = _split(hi - lo)
        if old_size - lo <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
            whole = False
    head = [] if whole else [(lo, hi)]
    return head + siblings[::-1]


def _recorded_keys(run: Callable[[Subtree], object]) -> list[Key]:
    """The perfect subtrees that ``run`` reads, in first-read order, each once."""
    seen: dict[Key, None] = {}

    def record(level: int, index: int) -> bytes:
        seen.setdefault((level, index), None)
        return EMPTY_ROOT  # any 32 bytes: only which subtrees are read matters here

    run(record)
    return list(seen)


# -- computing roots and proofs from stored perfect subtrees --------------------------------------------------


def root_hash(tree_size: int, subtree: Subtree) -> bytes:
    """MTH(D_n), RFC 9162 §2.1.1, from the perfect subtrees of the binary decomposition of ``tree_size``."""
    _check_count("tree size", tree_size)
    if tree_size == 0:
        return EMPTY_ROOT
    return _range_hash(0, tree_size, subtree)


def inclusion_proof(index: int, tree_size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D_n), RFC 9162 §2.1.3.1: the audit path of leaf ``index`` in the tree of ``tree_size``."""
    _check_inclusion_args(index, tree_size)
    return [_range_hash(lo, hi, subtree) for lo, hi in _inclusion_ranges(index, tree_size)]


def consistency_proof(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old_size, D_new_size), RFC 9162 §2.1.4.1; empty when old_size is 0 or equals new_size."""
    _check_consistency_args(old_size, new_size)
    return [_range_hash(lo, hi, subtree) for lo, hi in _consistency_ranges(old_size, new_size)]


def root_keys(tree_size: int) -> list[Key]:
    """The perfect subtrees ``root_hash(tree_size, ...)`` reads."""
    return _recorded_keys(lambda subtree: root_hash(tree_size, subtree))


def inclusion_proof_keys(index: int, tree_size: int) -> list[Key]:
    """The perfect subtrees ``inclusion_proof(index, tree_size, ...)`` reads."""
    return _recorded_keys(lambda subtree: inclusion_proof(index, tree_size, subtree))


def consistency_proof_keys(old_size: int, new_size: int) -> list[Key]:
    """The perfect subtrees ``consistency_proof(old_size, new_size, ...)`` reads."""
    return _recorded_keys(lambda subtree: consistency_proof(old_size, new_size, subtree))


def frontier_keys(size: int) -> list[Key]:
    """The perfect subtrees of the binary decomposition of ``size``, largest first: what a Frontier holds."""
    _check_count("tree size", size)
    return _range_keys(0, size)


def _check_inclusion_args(index: int, tree_size: int) -> None:
    _check_count("leaf index", index)
    _check_count("tree size", tree_size)
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is not in a tree of {tree_size} leaves")


def _check_consistency_args(old_size: int, new_size: int) -> None:
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")


# -- reference root and the appending frontier ----------------------------------------------------------------


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the given leaf hashes (RFC 9162 §2.1.1), computed in one pass with a stack of perfect subtrees.

    The stack holds (level, hash) of the perfect subtrees of the leaves seen so far; two of equal level merge.
    At the end the remaining subtrees (largest first) fold from the right, exactly like MTH's split at the
    largest power of two below n.
    """
    stack: list[tuple[int, bytes]] = []
    for leaf in leaf_hashes:
        level, digest = 0, leaf
        while stack and stack[-1][0] == level:
            digest = node_hash(stack.pop()[1], digest)
            level += 1
        stack.append((level, digest))
    if not stack:
        return EMPTY_ROOT
    result = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        result = node_hash(left, result)
    return result


class Frontier:
    """The compact range [0, size): the perfect subtrees of the binary decomposition of ``size``, largest first.

    Appending a leaf merges the equal-sized subtrees at the right edge, and reports every perfect subtree of
    level >= 1 that the leaf completed, so the caller can store exactly those.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, hashes: Sequence[bytes]) -> None:
        _check_count("tree size", size)
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves holds {size.bit_count()} hashes, {len(hashes)} given")
        for position, digest in enumerate(hashes):
            if len(digest) != HASH_SIZE:
                raise ValueError(f"frontier hash {position} is {len(digest)} bytes, expected {HASH_SIZE}")
        self._size = size
        self._hashes = [bytes(digest) for digest in hashes]

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, [])

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The hashes of the perfect subtrees named by ``frontier_keys(size)``, in that order."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns (level, index, hash) of each perfect subtree completed at level >= 1."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
        size = self._size
        if size >= MAX_TREE_SIZE:
            raise ValueError("the tree already holds 2**63-1 leaves")
        hashes = self._hashes
        completed: list[tuple[int, int, bytes]] = []
        digest, level = leaf_hash, 0
        # The set low bits of ``size`` are the subtrees at the right edge that the new leaf completes.
        while size >> level & 1:
            digest = _sha256(_NODE_PREFIX + hashes.pop() + digest).digest()
            level += 1
            completed.append((level, size >> level, digest))
        hashes.append(digest)
        self._size = size + 1
        return completed

    def root(self) -> bytes:
        """MTH of the leaves appended so far (RFC 9162 §2.1.1): the right fold of the frontier's hashes."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result


# -- verification (what an offline verifier runs) ------------------------------------------------------------


def _check_hash(what: str, digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise ProofError(f"{what} is {len(digest)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(context: str, proof: Sequence[bytes], expected: int) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise ProofError(f"{context}: {len(proof)} hashes given, more than the limit of {MAX_PROOF_HASHES}")
    if len(proof) != expected:
        raise ProofError(f"{context}: {len(proof)} hashes given, {expected} expected")
    for position, digest in enumerate(proof, start=1):
        _check_hash(f"{context}: hash {position} of {len(proof)}", digest)


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` leaves whose root is ``root``.

    RFC 9162 §2.1.3.2; raises ProofError naming the failed check.
    """
    _check_count("leaf index", index)
    _check_count("tree size", tree_size)
    context = f"inclusion proof for leaf {index} of {tree_size}"
    # Step 1: leaf_index >= tree_size fails.
    if index >= tree_size:
        raise ProofError(f"{context}: the leaf index is not below the tree size")
    _check_hash(f"{context}: leaf hash", leaf_hash)
    _check_hash(f"{context}: signed root", root)
    _check_proof_hashes(context, proof, len(_inclusion_ranges(index, tree_size)))
    fn, sn = index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    for position, p in enumerate(proof, start=1):  # step 4
        if sn == 0:  # step 4a
            raise ProofError(f"{context}: hash {position} of {len(proof)} is past the top of the tree (step 4a)")
        if fn & 1 or fn == sn:  # step 4b
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # step 4c
        sn >>= 1
    # Step 5: sn must be 0 and r must equal the root.
    if sn != 0:
        raise ProofError(f"{context}: the path ends below the top of the tree (step 5)")
    if r != root:
        raise ProofError(f"{context}: computed root {short_hex(r)} differs from the signed root {short_hex(root)}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` leaves with ``new_root`` extends the one of ``old_size`` with ``old_root``.

    RFC 9162 §2.1.4.2 for 0 < old_size < new_size. The cases the RFC leaves outside (§2.1.4.1 defines PROOF
    for 0 < m < n only) are decided strictly: equal sizes need an empty proof and equal roots; old size 0
    needs an empty proof and the old root to be MTH({}) = HASH() (every tree extends the empty one).
    Raises ProofError naming the failed check.
    """
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    context = f"consistency proof from {old_size} to {new_size}"
    if old_size > new_size:
        raise ProofError(f"{context}: the old tree is larger than the new one")
    _check_hash(f"{context}: signed old root", old_root)
    _check_hash(f"{context}: signed new root", new_root)
    _check_proof_hashes(context, proof, len(_consistency_ranges(old_size, new_size)))
    if old_size == 0:
        _check_roots_equal(context, "old root", EMPTY_ROOT, old_root)
        if new_size == 0:
            _check_roots_equal(context, "new root", EMPTY_ROOT, new_root)
        return
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(
                f"{context}: same size, different roots: old {short_hex(old_root)}, new {short_hex(new_root)}"
            )
        return
    _rfc9162_consistency(context, old_size, new_size, old_root, new_root, proof)


def _check_roots_equal(context: str, what: str, computed: bytes, signed: bytes) -> None:
    if computed != signed:
        raise ProofError(
            f"{context}: computed {what} {short_hex(computed)} differs from the signed {what} {short_hex(signed)}"
        )


def _rfc9162_consistency(
    context: str, first: int, second: int, first_hash: bytes, second_hash: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2 steps 1-7, for 0 < first < second (the names are the RFC's)."""
    if not proof:  # step 1
        raise ProofError(f"{context}: the proof is empty (step 1)")
    path = list(proof)
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    offset = len(path) - len(proof)  # 1 if first_hash was prepended: report positions in the given proof
    for position, c in enumerate(path[1:], start=2 - offset):  # step 6
        if sn == 0:  # step 6a
            raise ProofError(f"{context}: hash {position} of {len(proof)} is past the top of the tree (step 6a)")
        if fn & 1 or fn == sn:  # step 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # step 6c
        sn >>= 1
    # Step 7: fr must equal first_hash, sr must equal second_hash, and sn must be 0.
    _check_roots_equal(context, "old root", fr, first_hash)
    _check_roots_equal(context, "new root", sr, second_hash)
    if sn != 0:
        raise ProofError(f"{context}: the path ends below the top of the new tree (step 7)")
