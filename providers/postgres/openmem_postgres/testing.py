"""Pytest fixtures for tests that need a real PostgreSQL with pgvector (being written)."""
