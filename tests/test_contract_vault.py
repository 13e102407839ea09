"""The store contract for the `vault` table, run against both stores (the `sut` fixture)."""

from __future__ import annotations

import pytest

from console.service.store import NotFoundError, StoreFunctionError
from tests.conftest import StoreUnderTest

REC = '{"ct":"AAAA","fmt":"scv1","kid":"k1","name":"n","nonce":"BBBB","v":1}'


def test_put_get_list_remove(sut: StoreUnderTest) -> None:
    s = sut.store
    row = s.vault_put("convex-deploy-key", 1, REC, "0123456789abcdef", expected_version=0)
    assert (row.name, row.version, row.kid, row.deleted, row.record) == ("convex-deploy-key", 1, "0123456789abcdef", False, REC)
    s.vault_put("convex-deploy-key", 2, REC + " ", "0123456789abcdef", expected_version=1)
    s.vault_put("other", 1, REC, "0123456789abcdef")
    listed = s.vault_list()
    assert [(r.name, r.version) for r in listed] == [("convex-deploy-key", 1), ("convex-deploy-key", 2), ("other", 1)]
    assert all(r.record is None for r in listed)
    assert s.vault_get("convex-deploy-key").version == 2
    assert s.vault_get("convex-deploy-key", 1).record == REC
    assert s.vault_remove("convex-deploy-key") == 2
    with pytest.raises(NotFoundError):
        s.vault_get("convex-deploy-key")
    assert s.vault_get("convex-deploy-key", 1).deleted
    assert s.vault_remove("convex-deploy-key") == 0
    with pytest.raises(NotFoundError):
        s.vault_remove("never")
    with pytest.raises(NotFoundError):
        s.vault_get("never")
    acts = s.list_activities()
    assert [a.type for a in acts] == ["vault_removed", "vault_put", "vault_put", "vault_put"]
    assert acts[-1].detail == {"name": "convex-deploy-key", "version": 1, "kid": "0123456789abcdef"}
    assert all("AAAA" not in (a.message + str(a.detail)) for a in acts)


def test_check_and_set_and_idempotent_retries(sut: StoreUnderTest) -> None:
    s = sut.store
    first = s.vault_put("k", 1, REC, "kid")
    assert s.vault_put("k", 1, REC, "kid").id == first.id  # a retried replication: one row
    with pytest.raises(StoreFunctionError) as err:
        s.vault_put("k", 2, REC, "kid", expected_version=0)
    assert err.value.data["code"] == "Conflict"
    with pytest.raises(StoreFunctionError):
        s.vault_put("k", 1, REC + "x", "kid")  # the same version, another record
    s.vault_put("k", 5, REC, "kid")  # replicas may skip versions the local file no longer keeps
    assert [r.version for r in s.vault_list()] == [1, 5]
    assert len([a for a in s.list_activities() if a.type == "vault_put"]) == 2
