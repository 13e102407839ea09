"""Fixtures of the fault suites: a fault proxy in front of the session's convex-test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_KEY, ConvexTestServer
from tests.faults.proxy import FaultProxy

# The deploy key the clients carry: planted so every output can be searched for it. The proxy
# swaps it for the test server's key.
SECRET = "prod:squad-fault-secret|eyJ2IjoiRkFVTFQtU0VDUkVULTQyIn0="
SECRET_PARTS = (SECRET, "squad-fault-secret", "eyJ2IjoiRkFVTFQtU0VDUkVULTQyIn0")


@pytest.fixture
def proxy(convex_server: ConvexTestServer) -> Iterator[FaultProxy]:
    convex_server.reset()
    p = FaultProxy(convex_server.url, client_key=SECRET, upstream_key=ADMIN_KEY, lifetime=120.0)
    yield p
    p.close()


def assert_no_secret(text: str, where: str) -> None:
    for part in SECRET_PARTS:
        assert part not in text, f"the deploy key shows in {where}"
