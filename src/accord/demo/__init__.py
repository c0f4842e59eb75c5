"""Demo data: a believable three-country network that every part of Accord adds its own data to."""
