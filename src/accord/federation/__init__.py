"""Federation: national nodes that peer, sign every call with their node keys, and exchange what policy allows."""
