"""Root test configuration: fixtures shared by every package's tests."""

from collections.abc import Mapping

import pytest

pytest_plugins = ["openmem_postgres.testing"]


@pytest.fixture(scope="session")
def lexical() -> Mapping[str, str]:
    """Provider options choosing the lexical ``hashing`` embedder: the one way a test says so.

    Every provider that embeds defaults to the semantic embedder, and a test that does not
    ask gets it. A test takes this fixture, and passes it on (``InMemoryProvider(**lexical)``,
    ``AsyncMemory(provider="inmemory", **lexical)``; ``OPENMEM_EMBEDDER=hashing`` in a
    subprocess's environment), when what it proves rests on word overlap (a side-by-side
    with another library given the same hashing vectors), or when the embedder plays no part
    in what it proves and it runs whole conformance suites, where the instant embedder keeps
    ``make test`` within its budget; its docstring or a comment says which.
    """
    return {"embedder": "hashing"}
