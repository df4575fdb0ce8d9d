"""Storage: SQLModel tables (models), engines/sessions and Alembic migrations (engine, migrations/)."""
