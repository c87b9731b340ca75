"""Streams through redis-py 8, the way task and event frameworks use them.

redis-py parses XREAD/XREADGROUP, XPENDING, XAUTOCLAIM and XINFO replies into Python
structures; a reply shape that differs from Redis's (RESP3 maps, nulls, nested
entries) breaks the parsers, so these tests run in both protocols.
"""

import threading

import pytest
import redis


@pytest.mark.parametrize("protocol", [3, 2])
def test_consumer_group_round_trip(server, protocol):
    """Produce, read as a group, acknowledge, inspect: replies parse as redis-py expects."""
    r = redis.Redis(port=server, protocol=protocol, decode_responses=True)
    r.delete("jobs")
    ids = [r.xadd("jobs", {"task": f"t{i}", "n": i}) for i in range(5)]
    assert r.xlen("jobs") == 5
    assert r.xgroup_create("jobs", "workers", id="0") is True
    batch = r.xreadgroup("workers", "w1", {"jobs": ">"}, count=3)
    # RESP2: [[key, entries]]; RESP3: {key: [entries]} as redis-py returns it.
    entries = batch["jobs"][0] if isinstance(batch, dict) else batch[0][1]
    assert [e[0] for e in entries] == ids[:3]
    assert entries[0][1] == {"task": "t0", "n": "0"}
    pending = r.xpending("jobs", "workers")
    assert pending["pending"] == 3
    assert pending["min"] == ids[0] and pending["max"] == ids[2]
    assert pending["consumers"] == [{"name": "w1", "pending": 3}]
    assert r.xack("jobs", "workers", ids[0], ids[1]) == 2
    detail = r.xpending_range("jobs", "workers", min="-", max="+", count=10)
    assert [d["message_id"] for d in detail] == [ids[2]]
    assert detail[0]["consumer"] == "w1" and detail[0]["times_delivered"] == 1
    # w2 takes over what w1 left pending.
    claimed = r.xautoclaim("jobs", "workers", "w2", min_idle_time=0, start_id="0-0")
    assert claimed[0] == "0-0"
    assert [e[0] for e in claimed[1]] == [ids[2]]
    groups = r.xinfo_groups("jobs")
    assert groups[0]["name"] == "workers"
    assert groups[0]["pending"] == 1
    assert groups[0]["entries-read"] == 3
    assert groups[0]["lag"] == 2
    info = r.xinfo_stream("jobs")
    assert info["length"] == 5
    assert info["first-entry"][0] == ids[0]
    assert info["last-entry"][0] == ids[4]
    consumers = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
    assert consumers == {"w1": 0, "w2": 1}


@pytest.mark.parametrize("protocol", [3, 2])
def test_blocking_read_is_woken_by_another_client(server, protocol):
    """XREAD BLOCK on `$` returns the entry another connection adds (BullMQ's events)."""
    r = redis.Redis(port=server, protocol=protocol, decode_responses=True)
    r.delete("events")
    got = {}

    def reader():
        reader_conn = redis.Redis(port=server, protocol=protocol, decode_responses=True)
        got["reply"] = reader_conn.xread({"events": "$"}, block=10_000)

    thread = threading.Thread(target=reader)
    thread.start()
    # Wait (bounded) until the reader is parked before producing.
    for _ in range(1000):
        if int(r.info("clients")["blocked_clients"]) == 1:
            break
        threading.Event().wait(0.01)
    added = r.xadd("events", {"event": "completed", "job": "42"})
    thread.join(timeout=10)
    assert not thread.is_alive()
    reply = got["reply"]
    entries = reply["events"][0] if isinstance(reply, dict) else reply[0][1]
    assert entries == [(added, {"event": "completed", "job": "42"})]
