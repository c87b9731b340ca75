"""Shared fixtures: one real lodestone binary per test module, on a free port."""

import os
import socket
import subprocess
import time

import pytest

BINARY = os.environ.get("LODESTONE_BINARY", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "lodestone"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    data = tmp_path_factory.mktemp("lodestone")
    proc = subprocess.Popen([BINARY, "--port", str(port), "--dir", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        # Ready once PING answers: connecting is not enough while the dataset loads
        # (-LOADING).
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(64).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("lodestone did not start")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


