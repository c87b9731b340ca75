"""redis-py 8 against the real lodestone binary.

redis-py 8 opens every connection with HELLO 3 (and CLIENT SETINFO), and task frameworks
built on it (RQ, Celery) give up if that fails. These tests prove an unmodified redis-py
connects in RESP3 and RESP2 and gets the reply types it expects.
"""

import pytest
import redis


@pytest.mark.parametrize("protocol", [3, 2])
def test_connects_and_round_trips(server, protocol):
    """A default redis-py client (HELLO 3) and a RESP2 one both work end to end."""
    r = redis.Redis(port=server, protocol=protocol, decode_responses=True)
    assert r.ping() is True
    assert r.set("greeting", "hello", ex=100) is True
    assert r.get("greeting") == "hello"
    assert 0 < r.ttl("greeting") <= 100
    assert r.incr("counter") == 1
    assert r.incrbyfloat("float", 10.5) == 10.5
    assert r.mget("greeting", "missing") == ["hello", None]
    assert r.exists("greeting", "missing") == 1
    assert r.delete("greeting", "counter", "float") == 3
    assert r.get("greeting") is None


def test_resp3_hello_and_client_info(server):
    """HELLO 3 succeeds, CLIENT SETINFO is recorded, and CLIENT INFO shows resp=3."""
    r = redis.Redis(port=server, protocol=3, decode_responses=True)
    hello = r.execute_command("HELLO", "3")
    assert hello["server"] == "redis"
    assert hello["version"] == "7.0.15"
    assert hello["proto"] == 3
    info = r.client_info()
    assert info["resp"] == "3"
    assert info["lib-name"].startswith("redis-py")


def test_pipeline_without_transaction(server):
    """A non-transactional pipeline sends many commands in one write and reads every reply."""
    r = redis.Redis(port=server, decode_responses=True)
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"k{i}", i)
    for i in range(100):
        pipe.get(f"k{i}")
    replies = pipe.execute()
    assert replies[:100] == [True] * 100
    assert replies[100:] == [str(i) for i in range(100)]


def test_scan_iter_and_errors(server):
    """scan_iter sees every key, and server errors surface as redis-py exceptions."""
    r = redis.Redis(port=server, decode_responses=True)
    r.flushdb()
    r.mset({f"scan:{i}": i for i in range(500)})
    assert sorted(r.scan_iter(match="scan:*", count=37)) == sorted(f"scan:{i}" for i in range(500))
    r.set("text", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("text")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND")
    assert r.ping() is True
