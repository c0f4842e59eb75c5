"""Accord: cross-border cooperation against cybercrime (UN Convention against Cybercrime, 2025)."""

__version__ = "0.1.0"
