"""Storage: the schema (Alembic migrations), and the store with one backend per dialect."""
