"""One small verifier pool shared by every reward test (workers start once per test session).

Its per-check limit is generous so that a loaded test machine cannot fail honest checks; tests of the time bound pass
their own `timeout_s`.
"""

from collections.abc import Iterator

import pytest

from rethinker.rewards.verify import Verifier


@pytest.fixture(scope="session")
def verifier() -> Iterator[Verifier]:
    with Verifier(workers=2, timeout_s=10.0) as pool:
        yield pool
