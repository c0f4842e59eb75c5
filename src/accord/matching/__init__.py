"""Matching reported identifiers against what is already known: false-positive and known-identifier lists."""
