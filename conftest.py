"""Root test configuration: fixtures shared by every package's tests."""

pytest_plugins = ["openmem_postgres.testing"]
