"""Storage: one schema, two dialects (SQLite embedded default, PostgreSQL in production)."""
