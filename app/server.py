"""Sample HTTP service deployed by the CI/CD pipeline.

Standard library only (Python 3.11+). Endpoints:

    GET /ping      -> 200 {"status": "ok"}                       (health check)
    GET /api/info  -> 200 {"service": ..., "version": ..., "time": ...}
    other paths    -> 404 {"error": "not found", "path": ...}
    other methods  -> 405 {"error": "method not allowed", "method": ...}

Configuration (environment): PORT (default 8080), SERVICE_NAME (default
"app"), APP_VERSION (default "dev"). Every response is JSON, one JSON log line
per request goes to stdout, and SIGTERM/SIGINT stop the server gracefully
(in-flight requests finish, exit status 0). Nothing is written to disk, so the
service runs on a read-only root filesystem.
"""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 -- all interfaces: must be reachable from outside the container
# Socket timeout: an idle or slow client cannot hold a worker (or shutdown) forever.
REQUEST_TIMEOUT_SECONDS = 10
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_PING_BODY = b'{"status": "ok"}'  # pre-encoded: the health check does no work
_log_lock = threading.Lock()


def log_event(**fields: object) -> None:
    """Write one JSON object as a single line to stdout (thread-safe)."""
    line = json.dumps(fields, separators=(",", ":"), default=str)
    with _log_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RequestHandler(BaseHTTPRequestHandler):
    server_version = "app"  # Server header; the Python version is not advertised
    # HTTP/1.0: one request per connection, so no idle keep-alive connection
    # delays a graceful shutdown.
    protocol_version = "HTTP/1.0"
    # Report protocol errors (400 etc.) with a status line and headers even
    # when the request line could not be parsed (stdlib default is HTTP/0.9).
    default_request_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_SECONDS

    # -- routing -------------------------------------------------------------

    def do_GET(self) -> None:
        path = self._request_path()
        if path == "/ping":
            self._send_json(HTTPStatus.OK, _PING_BODY)
        elif path == "/api/info":
            self._send_json(
                HTTPStatus.OK,
                {
                    "service": os.environ.get("SERVICE_NAME") or "app",
                    "version": os.environ.get("APP_VERSION") or "dev",
                    "time": utc_now_iso(),
                },
            )
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": path})

    def _method_not_allowed(self) -> None:
        self._send_json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": "method not allowed", "method": self.command},
            headers={"Allow": "GET"},
        )

    def __getattr__(self, name: str):
        # BaseHTTPRequestHandler dispatches to do_<METHOD> and answers 501 when
        # that attribute is missing; route every method except GET to 405.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    # -- stdlib hooks ----------------------------------------------------------

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Used by the stdlib for protocol errors (400, 414, 431, 505, ...):
        # answer in JSON like everything else instead of an HTML page.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        payload = {"error": phrase.lower()}
        if message:
            payload["detail"] = message
        self._send_json(code, payload)

    def log_request(self, code: object = "-", size: object = "-") -> None:
        pass  # replaced by the JSON line written in _send_json

    def log_message(self, format: str, *args: object) -> None:
        log_event(event="http_error", message=format % args)

    def version_string(self) -> str:
        return self.server_version

    # -- helpers ---------------------------------------------------------------

    def _request_path(self) -> str:
        """Request path without query string or fragment (never logged/echoed)."""
        target = getattr(self, "path", "") or ""
        if target.startswith("/"):  # origin-form, the normal case
            return target.partition("?")[0].partition("#")[0]
        return urlsplit(target).path or target  # absolute-form or "*"

    def _send_json(
        self,
        status: int,
        payload: Mapping[str, object] | bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", JSON_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        started = getattr(self, "_started", None)  # unset if the request line was bad
        elapsed = time.perf_counter() - started if started else 0.0
        log_event(
            method=self.command or "-",
            path=self._request_path(),
            status=int(status),
            duration_ms=round(elapsed * 1000, 3),
        )


class AppServer(ThreadingHTTPServer):
    """ThreadingHTTPServer whose server_close() waits for in-flight requests."""

    # ThreadingHTTPServer uses daemon threads, which server_close() does not
    # track or join; non-daemon threads are joined, so a graceful stop drains
    # in-flight requests (bounded by REQUEST_TIMEOUT_SECONDS per socket read).
    daemon_threads = False
    block_on_close = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn() (reverse DNS), which
        # can stall start-up when DNS is slow; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return  # the client went away; nothing to report
        log_event(
            event="error",
            client=client_address[0] if client_address else None,
            error=repr(exc),
            traceback=traceback.format_exc(),
        )


def make_server(port: int, host: str = DEFAULT_HOST) -> AppServer:
    """Create (bind) the server; port 0 picks a free ephemeral port."""
    return AppServer((host, port), RequestHandler)


def port_from_env(environ: Mapping[str, str] | None = None) -> int:
    """PORT from the environment (default 8080); ValueError if invalid."""
    raw = (os.environ if environ is None else environ).get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def main() -> int:
    try:
        port = port_from_env()
    except ValueError:
        log_event(event="error", message=f"invalid PORT {os.environ.get('PORT')!r}")
        return 2
    try:
        server = make_server(port)
    except OSError as exc:
        log_event(event="error", message=f"cannot listen on {DEFAULT_HOST}:{port}: {exc}")
        return 1

    def request_shutdown(signum: int) -> None:
        log_event(event="stopping", signal=signal.Signals(signum).name)
        server.shutdown()  # blocks until serve_forever() has returned

    def on_signal(signum: int, _frame: object) -> None:
        # Signal handlers run in the main thread, which is inside
        # serve_forever(); shutdown() must be called from another thread.
        threading.Thread(target=request_shutdown, args=(signum,), daemon=True).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log_event(event="listening", host=DEFAULT_HOST, port=server.server_address[1])
        server.serve_forever()
    finally:
        server.server_close()  # stop accepting; wait for in-flight requests
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log_event(event="stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
