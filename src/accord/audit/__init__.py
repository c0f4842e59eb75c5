"""Append-only, hash-chained audit log: who did or saw what, for which purpose, on which legal basis."""
