"""The fake servers of these tests listen on 127.0.0.1: the egress policy allows it here
(tests/test_egress.py shows that it refuses it by default)."""

from collections.abc import Iterator

import pytest

from podium import egress
from podium.config import Settings


@pytest.fixture(autouse=True)
def loopback_allowed() -> Iterator[None]:
    egress.configure(Settings(egress_allow=["127.0.0.1"]))
    yield
    egress.configure(None)
