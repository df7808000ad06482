"""Tests for app/server.py against a real server on an ephemeral port."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import server

SERVER_PY = Path(server.__file__).resolve()
JSON_CT = "application/json; charset=utf-8"

# Ignore any http_proxy/https_proxy in the environment: always talk to 127.0.0.1 directly.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(base_url: str, path: str, method: str = "GET"):
    """Return (status, headers, raw body) for one request, including error statuses."""
    req = urllib.request.Request(base_url + path, method=method)
    try:
        with _opener.open(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def fetch_json(base_url: str, path: str, method: str = "GET"):
    status, headers, body = fetch(base_url, path, method)
    assert headers["Content-Type"] == JSON_CT
    assert int(headers["Content-Length"]) == len(body)
    return status, headers, json.loads(body)


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; parse status line, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def read_log_lines(capsys, predicate, timeout: float = 3.0) -> list[dict]:
    """Collect JSON stdout lines until one matches (the log is written after the response)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        if any(predicate(rec) for rec in seen):
            return seen
        time.sleep(0.01)
    pytest.fail(f"no matching log line in {seen!r}")


# -- GET endpoints ----------------------------------------------------------------


def test_ping(live_server):
    status, headers, body = fetch_json(live_server.url, "/ping")
    assert status == 200
    assert body == {"status": "ok"}
    assert headers["Cache-Control"] == "no-store"
    assert headers["Server"] == "app"  # no Python version disclosed


def test_ping_ignores_query_string(live_server):
    status, _, body = fetch_json(live_server.url, "/ping?probe=alb")
    assert (status, body) == (200, {"status": "ok"})


def test_info_defaults(live_server, monkeypatch):
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.delenv("APP_VERSION", raising=False)
    before = datetime.now(UTC).replace(microsecond=0)
    status, _, body = fetch_json(live_server.url, "/api/info")
    after = datetime.now(UTC)
    assert status == 200
    assert body == {"service": "app", "version": "dev", "time": body["time"]}
    assert body["time"].endswith("Z")
    stamp = datetime.fromisoformat(body["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= after


def test_info_from_environment(live_server, monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "orders")
    monkeypatch.setenv("APP_VERSION", "1.2.3-abc1234")
    status, _, body = fetch_json(live_server.url, "/api/info")
    assert status == 200
    assert {k: body[k] for k in ("service", "version")} == {
        "service": "orders",
        "version": "1.2.3-abc1234",
    }
    assert set(body) == {"service", "version", "time"}


@pytest.mark.parametrize("path", ["/", "/nope", "/ping/", "/api", "/api/info/extra", "/PING"])
def test_unknown_path_is_404(live_server, path):
    status, _, body = fetch_json(live_server.url, path)
    assert status == 404
    assert body == {"error": "not found", "path": path}


def test_404_path_excludes_query_string(live_server):
    status, _, body = fetch_json(live_server.url, "/missing?token=secret")
    assert (status, body) == (404, {"error": "not found", "path": "/missing"})


# -- other methods ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"])
@pytest.mark.parametrize("path", ["/ping", "/api/info", "/nope"])
def test_non_get_is_405(live_server, method, path):
    status, headers, body = fetch_json(live_server.url, path, method)
    assert status == 405
    assert body == {"error": "method not allowed", "method": method}
    assert headers["Allow"] == "GET"


def test_head_is_405_without_body(live_server):
    status, headers, body = fetch(live_server.url, "/ping", "HEAD")
    assert status == 405
    assert headers["Allow"] == "GET"
    assert headers["Content-Type"] == JSON_CT
    assert body == b""


# -- protocol errors ------------------------------------------------------------------


def test_malformed_request_is_400_json(live_server):
    port = live_server.server.server_address[1]
    status, headers, body = raw_request(port, b"THIS IS NOT HTTP\r\n\r\n")
    assert status == 400
    assert headers["Content-Type"] == JSON_CT
    payload = json.loads(body)
    assert payload["error"] == "bad request"
    assert "detail" in payload


def test_unsupported_http_version_is_505_json(live_server):
    port = live_server.server.server_address[1]
    status, headers, body = raw_request(port, b"GET /ping HTTP/2.0\r\n\r\n")
    assert status == 505
    assert headers["Content-Type"] == JSON_CT
    assert json.loads(body)["error"] == "http version not supported"


# -- logging -----------------------------------------------------------------------


def test_one_json_log_line_per_request(live_server, capsys):
    capsys.readouterr()
    # Each request's line is written after its response, by the request's own thread: wait for one before the
    # next request, or a loaded machine may log them in the other order.
    fetch(live_server.url, "/ping?secret=1")
    records = read_log_lines(capsys, lambda r: r.get("path") == "/ping")
    fetch(live_server.url, "/nope")
    records += read_log_lines(capsys, lambda r: r.get("path") == "/nope")
    requests = [r for r in records if "status" in r]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/ping", 200),
        ("GET", "/nope", 404),
    ]
    for rec in requests:
        assert set(rec) == {"method", "path", "status", "duration_ms"}
        assert isinstance(rec["duration_ms"], float) and rec["duration_ms"] >= 0
    assert capsys.readouterr().err == ""  # nothing in the stdlib stderr format


# -- construction / configuration ---------------------------------------------------


def test_make_server_binds_all_interfaces_by_default():
    srv = server.make_server(0)
    try:
        assert srv.server_address[0] == "0.0.0.0"
        assert srv.server_address[1] > 0
    finally:
        srv.server_close()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, 8080), ({"PORT": ""}, 8080), ({"PORT": "9000"}, 9000), ({"PORT": " 0 "}, 0)],
)
def test_port_from_env(environ, expected):
    assert server.port_from_env(environ) == expected


@pytest.mark.parametrize("value", ["abc", "-1", "65536", "80.5"])
def test_port_from_env_rejects_invalid(value):
    with pytest.raises(ValueError):
        server.port_from_env({"PORT": value})


def test_main_exits_2_on_invalid_port(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "not-a-port")
    assert server.main() == 2
    assert json.loads(capsys.readouterr().out) == {
        "event": "error",
        "message": "invalid PORT 'not-a-port'",
    }


def test_shutdown_stops_serve_forever(live_server):
    assert fetch(live_server.url, "/ping")[0] == 200
    live_server.server.shutdown()
    live_server.thread.join(timeout=5)
    assert not live_server.thread.is_alive()


# -- SIGTERM (real process, as ECS/Kubernetes stop it) --------------------------------

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def start_process() -> tuple[subprocess.Popen, int]:
    env = {
        **os.environ,
        "PORT": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_PY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    if not ready:
        proc.kill()
        proc.wait()
        pytest.fail("server process did not start within 10s")
    first = json.loads(proc.stdout.readline())
    assert first["event"] == "listening" and first["host"] == "0.0.0.0"
    return proc, first["port"]


def stop_process(proc: subprocess.Popen) -> tuple[int, list[dict], str]:
    try:
        returncode = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return returncode, [json.loads(line) for line in out.splitlines()], err


@posix_only
def test_sigterm_shuts_down_cleanly():
    proc, port = start_process()
    status, _, body = fetch(f"http://127.0.0.1:{port}", "/ping")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    proc.send_signal(signal.SIGTERM)
    returncode, records, err = stop_process(proc)
    assert returncode == 0, err
    assert err == ""
    # The request line is written after the response is sent, so it may land
    # just before or just after "stopping"; "stopped" is always last.
    assert records[-1] == {"event": "stopped"}
    assert {"event": "stopping", "signal": "SIGTERM"} in records
    requests = [r for r in records if "status" in r]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [("GET", "/ping", 200)]
    assert len(records) == 3


@posix_only
def test_sigterm_lets_in_flight_request_finish():
    proc, port = start_process()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /ping HTTP/1.0\r\n")  # headers not finished yet
        time.sleep(0.5)  # let the server accept the connection
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # shutdown is now waiting for this request
        assert proc.poll() is None
        sock.sendall(b"\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.0 200 ")
    assert response.endswith(b'{"status": "ok"}')
    returncode, records, err = stop_process(proc)
    assert returncode == 0, err
    assert records[-1] == {"event": "stopped"}
