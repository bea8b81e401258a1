"""`--metrics-listen`: Prometheus `/metrics` on a listener of its own, and then only there."""

import re
import socket
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    """(status, body) of a plain GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_metrics_on_their_own_listener(fresh_server):
    port = free_port()
    srv = fresh_server(extra_args=["--metrics-listen", f"127.0.0.1:{port}"])
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    # The banner names it.
    banner = srv.stdout_path.read_text()
    assert re.search(r"Prometheus metrics on " + re.escape(metrics_url), banner), banner

    srv.client("sts").get_caller_identity()
    status, text = get(metrics_url)
    assert status == 200
    assert 'rampart_requests_total{service="sts",operation="GetCallerIdentity",outcome="success"' in text
    assert "rampart_request_duration_seconds_bucket" in text

    # Every request counts: three more calls move the counter and the histogram by three.
    def counts(text):
        line = next(l for l in text.splitlines()
                    if l.startswith('rampart_requests_total{service="sts",operation="GetCallerIdentity",outcome="success"'))
        hist = next(l for l in text.splitlines()
                    if l.startswith('rampart_request_duration_seconds_count{service="sts",operation="GetCallerIdentity"'))
        return float(line.rsplit(" ", 1)[1]), float(hist.rsplit(" ", 1)[1])
    before = counts(text)
    for _ in range(3):
        srv.client("sts").get_caller_identity()
    after = counts(get(metrics_url)[1])
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3), (before, after)

    # The main listener no longer serves them: /metrics is an unsigned AWS request, refused.
    status, body = get(srv.endpoint + "/metrics")
    assert status == 403, (status, body)
    assert "MissingAuthenticationToken" in body, body
    assert "rampart_requests_total" not in body
    # /health stays where it was; the metrics listener serves nothing else.
    assert get(srv.endpoint + "/health")[0] == 200
    assert get(f"http://127.0.0.1:{port}/health")[0] == 404


def test_without_the_option_metrics_stay_on_the_main_listener(fresh_server):
    srv = fresh_server()
    assert "Prometheus metrics on" not in srv.stdout_path.read_text()
    srv.client("sts").get_caller_identity()
    status, text = get(srv.endpoint + "/metrics")
    assert status == 200
    assert 'rampart_requests_total{service="sts",operation="GetCallerIdentity",outcome="success"' in text
