"""Electronic evidence: blob store, custody Merkle log, packages and their offline verifier."""
