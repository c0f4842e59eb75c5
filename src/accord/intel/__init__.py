"""Intelligence: STIX 2.1 store, scam identifiers, markings."""
