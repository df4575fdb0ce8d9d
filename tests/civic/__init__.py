"""Tests of the civic data layer (database, services, CLI)."""
