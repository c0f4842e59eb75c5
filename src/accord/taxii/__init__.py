"""TAXII 2.1 server surface over the intelligence store."""
