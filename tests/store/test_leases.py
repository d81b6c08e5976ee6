"""The worker lease on every backend (store contract): one holder at a time, renewals, expiry,
release, and racing takers on separate connections."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from tests.store.conftest import CONTRACT

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=20)


@CONTRACT
def test_one_holder_renewals_expiry_and_release(store):
    assert store.lease("worker") is None
    a = store.take_lease("worker", "a", T0, TTL)
    assert (a.holder, a.acquired_at, a.expires_at) == ("a", T0, T0 + TTL)
    assert store.take_lease("worker", "b", T0 + timedelta(seconds=5), TTL).holder == "a"  # still a's
    renewed = store.take_lease("worker", "a", T0 + timedelta(seconds=10), TTL)
    assert (renewed.acquired_at, renewed.expires_at) == (T0, T0 + timedelta(seconds=30))
    assert store.take_lease("worker", "b", T0 + timedelta(seconds=29), TTL).holder == "a"
    taken = store.take_lease("worker", "b", T0 + timedelta(seconds=30), TTL)  # expired: b takes it
    assert (taken.holder, taken.acquired_at) == ("b", T0 + timedelta(seconds=30))
    assert store.lease("worker").holder == "b"
    assert not store.release_lease("worker", "a")  # not a's any more
    assert store.release_lease("worker", "b")
    assert store.lease("worker") is None
    assert store.take_lease("worker", "a", T0 + timedelta(seconds=31), TTL).holder == "a"
    assert store.take_lease("other", "b", T0, TTL).holder == "b"  # leases are independent


@CONTRACT
def test_racing_takers_get_one_holder(store):
    winners, barrier = [], threading.Barrier(4)

    def take(i: int) -> None:
        barrier.wait()
        if store.take_lease("worker", f"h{i}", T0, TTL).holder == f"h{i}":
            winners.append(i)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and store.lease("worker").holder == f"h{winners[0]}"
