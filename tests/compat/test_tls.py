"""HTTPS: with --tls-cert/--tls-key the same listener speaks TLS, and SDKs verify it."""

import subprocess

import pytest
from botocore.exceptions import SSLError

from conftest import start_server


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_listener(tmp_path, certificate):
    cert, key = certificate
    srv = start_server(tmp_path / "data", ["--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        assert srv.endpoint.startswith("https://127.0.0.1:")
        ident = srv.client("sts", verify=str(cert)).get_caller_identity()
        assert ident["Arn"].endswith(":user/admin")
        # The audit record says the request came over TLS.
        import json

        records = [json.loads(l) for l in srv.audit("--json").splitlines()]
        assert records and records[-1]["tls"] is True
        # A client that does not trust the certificate refuses to talk.
        with pytest.raises(SSLError):
            srv.client("sts").get_caller_identity()
    finally:
        srv.kill()
