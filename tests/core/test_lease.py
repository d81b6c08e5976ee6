"""The worker lease (core/lease.py) on real SQLite files: one instance works at a time, a silent
holder is replaced after ttl, a clean stop hands over at once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from core.lease import WorkerLease
from store.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
TTL, RENEW = timedelta(seconds=20), timedelta(seconds=5)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def pair(store, clock):
    return (WorkerLease(store, TTL, RENEW, clock, holder="a"), WorkerLease(store, TTL, RENEW, clock, holder="b"))


def test_the_first_instance_works_the_second_waits_and_takes_over_after_ttl(store):
    clock = Clock()
    a, b = pair(store, clock)
    assert a.tick() and not b.tick()
    assert b.state.holder == "a" and b.describe()["role"] == "standby" and a.describe()["role"] == "active"
    for _ in range(10):  # a renews every 5 s: b never gets it
        clock.now += RENEW
        assert a.tick() and not b.tick()
    # a goes silent (killed): it stops counting itself active one renewal before expiry...
    clock.now += TTL - RENEW
    assert not a.active()
    assert not b.tick()
    # ...and b takes over once the lease has expired
    clock.now += RENEW
    assert b.tick() and b.state.holder == "b"
    # a comes back: it sees it lost the lease and stays standby
    assert not a.tick() and a.state.holder == "b"


def test_a_clean_stop_hands_over_at_once(store):
    clock = Clock()
    a, b = pair(store, clock)
    gained = []
    b.on_gain = lambda: gained.append(clock.now)
    assert a.tick() and not b.tick()
    a.release()
    assert not a.active() and store.lease("worker") is None
    assert b.tick() and gained == [T0]
    a.release()  # not the holder: nothing happens
    assert store.lease("worker").holder == "b"


def test_a_renewal_keeps_the_first_acquisition_time(store):
    clock = Clock()
    a, _ = pair(store, clock)
    a.tick()
    clock.now += RENEW
    a.tick()
    state = store.lease("worker")
    assert state.acquired_at == T0 and state.expires_at == T0 + RENEW + TTL


def test_a_store_failure_stops_work_before_the_lease_can_expire(store):
    clock = Clock()
    a, b = pair(store, clock)
    assert a.tick()
    real = store.take_lease

    def broken(*args, **kw):
        raise OSError("disk gone")

    store.take_lease = broken
    clock.now += RENEW
    assert a.tick()  # still within its lease
    clock.now += TTL - 2 * RENEW
    assert not a.tick()  # one renewal before expiry: stops
    store.take_lease = real
    clock.now += RENEW
    assert b.tick()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["tick", "tick", "tick", "release", "silent"]),
                          st.integers(0, 12)), min_size=1, max_size=60))
def test_never_two_instances_at_work(tmp_path_factory, steps):
    """Any interleaving of renewals, releases, silences and time passing: at every moment at most one
    instance counts itself active, and the lease row agrees with whoever does."""
    store = SqliteStore(tmp_path_factory.mktemp("lease") / "s.db")
    store.migrate()
    try:
        clock = Clock()
        leases = [WorkerLease(store, TTL, RENEW, clock, holder=f"i{i}") for i in range(3)]
        for who, action, seconds in steps:
            if action == "tick":
                leases[who].tick()
            elif action == "release":
                leases[who].release()
            clock.now += timedelta(seconds=seconds)
            active = [lease for lease in leases if lease.active()]
            assert len(active) <= 1
            if active:
                row = store.lease("worker")
                assert row is not None and row.holder == active[0].holder and clock.now < row.expires_at
    finally:
        store.close()


def test_racing_takers_on_separate_connections_get_one_holder(tmp_path):
    path = tmp_path / "s.db"
    SqliteStore(path).migrate()
    winners, barrier = [], threading.Barrier(6)

    def take(i: int) -> None:
        s = SqliteStore(path)
        barrier.wait()
        if s.take_lease("worker", f"h{i}", T0, TTL).holder == f"h{i}":
            winners.append(i)
        s.close()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
