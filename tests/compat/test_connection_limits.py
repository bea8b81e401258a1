"""What one client may hold of the listener (`--max-connections`, `--header-read-timeout-secs`):
a slowloris client is cut off, connections beyond the limit are closed at once, and neither
keeps a well-behaved client from being served. (How much hostile clients cost the others in
throughput is measured by bench/soak.py, not here.)"""

import socket
import time


def _addr(srv):
    host, port = srv.endpoint.split("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def _closed_within(sock, seconds):
    """True if the server closes `sock` (EOF or reset) within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_slow_headers_are_cut_off_and_others_are_served(fresh_server):
    srv = fresh_server(["--header-read-timeout-secs", "2"])
    slow = socket.create_connection(_addr(srv))
    started = time.monotonic()
    slow.send(b"POST / HTTP/1.1\r\nHost: x\r\n")
    sts = srv.client("sts")
    closed = False
    # One header byte a second: never a complete head.
    for _ in range(8):
        assert sts.get_caller_identity()["Account"]
        try:
            slow.send(b"a")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(1)
    if not closed:
        closed = _closed_within(slow, 2)
    elapsed = time.monotonic() - started
    assert closed, "a client sending headers a byte a second was never cut off"
    assert 1.5 <= elapsed <= 9, elapsed
    slow.close()


def test_a_silent_connection_is_closed(fresh_server):
    srv = fresh_server(["--header-read-timeout-secs", "1"])
    silent = socket.create_connection(_addr(srv))
    assert _closed_within(silent, 5), "a connection that never sent a request stayed open"
    silent.close()


def test_connections_beyond_the_limit_are_closed_at_once(fresh_server):
    srv = fresh_server(["--max-connections", "4", "--header-read-timeout-secs", "30"])
    held = [socket.create_connection(_addr(srv)) for _ in range(4)]
    time.sleep(0.3)
    extra = socket.create_connection(_addr(srv))
    assert _closed_within(extra, 3), "a connection beyond --max-connections was kept open"
    extra.close()
    # The held ones are still served.
    held[0].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    held[0].settimeout(5)
    assert held[0].recv(1024).startswith(b"HTTP/1.1 200")
    for s in held:
        s.close()
    # Once they close, new clients are served again.
    deadline = time.time() + 5
    while True:
        try:
            assert srv.client("sts").get_caller_identity()["Account"]
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
