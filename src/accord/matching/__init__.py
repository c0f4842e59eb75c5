"""Matching reported identifiers against what is already known: correlation from the observable index, bulk
lookup with hit/no-hit answers under the markings, and false-positive and known-identifier lists."""
