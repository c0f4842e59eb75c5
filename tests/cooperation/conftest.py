"""The matching tests' scam (one number, a GREEN and a RED report in two countries) serves the drafts too."""

from tests.matching.conftest import scam  # noqa: F401 - a fixture, found by pytest through this module
