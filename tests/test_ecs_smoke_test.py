"""The ECS smoke-test hook against a real HTTP server on 127.0.0.1: its answers to ECS (hookStatus,
callBackDelay, hookDetails), its retry budget, its deadlines, and its refusal of a bad environment."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions import ecs_smoke_test as hook

DEPLOYMENT = "arn:aws:ecs:us-east-1:123456789012:service-deployment/cluster/app/EZe5RNVLH6PPzHXINuP28"
REVISION = "arn:aws:ecs:us-east-1:123456789012:service-revision/cluster/app/9313423515462893900"


def event(stage: str = hook.STAGE, details: dict | None = None) -> dict:
    """The POST_TEST_TRAFFIC_SHIFT payload as ECS documents it (both weight maps empty at this stage)."""
    payload = {
        "executionId": "3a0345ba-b029-404b-890d-7da2a4b266aa",
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/cluster/app",
            "targetServiceRevisionArn": REVISION,
            "testTrafficWeights": {},
            "productionTrafficWeights": {},
        },
    }
    if details is not None:
        payload["hookDetails"] = details
    return payload


class App(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping past a test's end does not hold the server
    routes: dict[str, tuple[int, float, dict[str, str]]]
    hits: list[str]
    """Paths requested, in order."""
    hosts: list[str | None]
    """The Host header of each request, in order."""
    answered: list[str]
    """Paths whose answer the server had started to send, in order (after the route's delay)."""

    def handle_error(self, request, client_address):
        pass  # the client gave up on a slow answer: expected in the timeout tests


class Handler(BaseHTTPRequestHandler):
    server: App

    def do_GET(self):
        self.server.hits.append(self.path)
        self.server.hosts.append(self.headers.get("Host"))
        status, delay, headers = self.server.routes.get(self.path, (404, 0.0, {}))
        time.sleep(delay)
        self.server.answered.append(self.path)  # before sending: the client cannot have the answer earlier
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def app():
    server = App(("127.0.0.1", 0), Handler)
    server.routes, server.hits, server.answered, server.hosts = {}, [], [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def env(server: App | None = None, **overrides) -> dict[str, str]:
    base = {"TEST_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}" if server else "http://127.0.0.1:1", "HEALTH_PATH": "/health"}
    base.update({"SMOKE_PATHS": '["/", "/api/items"]', "REQUEST_TIMEOUT_SECONDS": "1", "MAX_ATTEMPTS": "3", "RETRY_DELAY_SECONDS": "20"})
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def smoke_log(caplog) -> list[dict]:
    return [json.loads(r.getMessage())["smokeTest"] for r in caplog.records if r.getMessage().startswith('{"smokeTest"')]


def test_all_paths_answering_well_succeed_in_order_health_first(app, caplog):
    caplog.set_level(logging.INFO, logger="ecs_smoke_test")
    app.routes.update({"/health": (200, 0, {}), "/": (204, 0, {}), "/api/items": (304, 0, {})})
    assert hook.run(event(), env(app)) == {"hookStatus": "SUCCEEDED"}
    assert app.hits == ["/health", "/", "/api/items"]
    [line] = smoke_log(caplog)
    assert line == {
        "verdict": "SUCCEEDED",
        "attempt": 1,
        "maxAttempts": 3,
        "deployment": DEPLOYMENT,
        "targetServiceRevision": REVISION,
        "results": [{"path": p, "status": s, "error": None} for p, s in (("/health", 200), ("/", 204), ("/api/items", 304))],
    }


def test_one_500_retries_with_the_count_in_hook_details_then_fails_after_the_budget(app, caplog):
    app.routes.update({"/health": (200, 0, {}), "/": (200, 0, {}), "/api/items": (500, 0, {})})
    first = hook.run(event(), env(app))
    assert first == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"smokeTestAttempt": 1}}
    # ECS merges the returned hookDetails into what the service configured and passes them back.
    second = hook.run(event(details={"team": "payments", **first["hookDetails"]}), env(app))
    assert second == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"smokeTestAttempt": 2}}
    third = hook.run(event(details=second["hookDetails"]), env(app))
    assert third == {"hookStatus": "FAILED"}
    assert app.hits == ["/health", "/", "/api/items"] * 3
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"smoke test FAILED after 3 attempts against http://127.0.0.1:{app.server_address[1]}: /api/items -> status 500"]


def test_a_later_attempt_that_passes_succeeds(app):
    app.routes.update({"/health": (503, 0, {})})
    assert hook.run(event(), env(app, SMOKE_PATHS="[]"))["hookStatus"] == "IN_PROGRESS"
    app.routes["/health"] = (200, 0, {})
    assert hook.run(event(details={"smokeTestAttempt": 1}), env(app, SMOKE_PATHS="[]")) == {"hookStatus": "SUCCEEDED"}


# "A path answers well when its status is 200 to 399" (the hook's contract): a client error is a bad
# answer like a server error, whether the new revision misroutes (404), refuses (401, 403), throttles (429)
# or answers any other status up to 499, the top of the 4xx range.
BAD_STATUSES = (400, 401, 403, 404, 429, 499, 500, 503)
GOOD_STATUSES = (200, 204, 301, 302, 304, 399)


def answering(app: App, path: str, status: int) -> None:
    """`path` answers `status`; a redirect names a Location on the same server (the hook must not follow it)."""
    headers = {"Location": f"http://127.0.0.1:{app.server_address[1]}/elsewhere"} if 300 <= status <= 399 else {}
    app.routes[path] = (status, 0, headers)


@pytest.mark.parametrize("status", BAD_STATUSES)
def test_a_health_path_answering_a_4xx_or_5xx_fails_the_attempt(app, status, caplog):
    answering(app, "/health", status)
    config = hook.load_config(env(app, SMOKE_PATHS="[]"))
    assert hook.attempt(config, None) == [hook.Probe("/health", status, None)]
    assert hook.run(event(), env(app, SMOKE_PATHS="[]", MAX_ATTEMPTS="1")) == {"hookStatus": "FAILED"}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"smoke test FAILED after 1 attempts against http://127.0.0.1:{app.server_address[1]}: /health -> status {status}"
    ]


@pytest.mark.parametrize("status", BAD_STATUSES)
def test_a_smoke_path_answering_a_4xx_or_5xx_fails_the_attempt(app, status):
    answering(app, "/health", 200)
    answering(app, "/", 200)
    answering(app, "/api/items", status)
    answer = hook.run(event(), env(app))
    assert answer == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"smokeTestAttempt": 1}}
    assert app.hits == ["/health", "/", "/api/items"]


@pytest.mark.parametrize("status", GOOD_STATUSES)
def test_every_path_answering_200_to_399_succeeds(app, status):
    for path in ("/health", "/", "/api/items"):
        answering(app, path, status)
    config = hook.load_config(env(app))
    assert [p.status for p in hook.attempt(config, None)] == [status] * 3
    assert hook.run(event(), env(app)) == {"hookStatus": "SUCCEEDED"}
    assert app.hits == ["/health", "/", "/api/items"] * 2  # no redirect followed


def test_a_failing_health_path_gates_the_others(app, caplog):
    caplog.set_level(logging.INFO, logger="ecs_smoke_test")
    app.routes.update({"/health": (503, 0, {})})
    assert hook.run(event(), env(app, MAX_ATTEMPTS="1")) == {"hookStatus": "FAILED"}
    assert app.hits == ["/health"]
    assert [(r["path"], r["status"], r["error"]) for r in smoke_log(caplog)[0]["results"]] == [
        ("/health", 503, None),
        ("/", None, "not tried: the health path failed"),
        ("/api/items", None, "not tried: the health path failed"),
    ]


# A slow route sleeps this long before answering: far past every deadline below, so that a hook that waited
# for the answer is told apart by what the server had sent when the hook returned, not by a clock.
SLOW_SECONDS = 10.0


def test_a_slow_answer_is_a_timeout_and_the_hook_does_not_wait_for_it(app, caplog):
    app.routes.update({"/health": (200, 0, {}), "/": (200, SLOW_SECONDS, {})})
    answer = hook.run(event(), env(app, SMOKE_PATHS='["/"]', REQUEST_TIMEOUT_SECONDS="0.3"))
    assert (app.hits, app.answered) == (["/health", "/"], ["/health"])  # it answered before "/" did
    assert answer == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"smokeTestAttempt": 1}}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["smoke test attempt 1 of 3 failed, retrying in 20 s: / -> timed out after 0.3 s"]


def test_a_trickling_server_is_cut_at_the_deadline_not_per_read(caplog):
    """urllib's timeout bounds each socket read; a server sending a header byte at a time stays under
    it forever. The hook's deadline is for the whole exchange."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    header = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100
    sent: list[int] = []

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            for byte in header:  # one byte every 0.1 s: each read is well inside urllib's 0.5 s
                if stop.wait(0.1):
                    return
                connection.sendall(bytes([byte]))
                sent.append(byte)

    threading.Thread(target=trickle, daemon=True).start()
    result = hook.probe(f"http://127.0.0.1:{listener.getsockname()[1]}", "/health", 0.5)
    sent_when_cut = len(sent)
    stop.set()
    listener.close()
    assert result == hook.Probe("/health", None, "timed out after 0.5 s")
    # It gave up while the header was still arriving; a per-read timeout would have read all of it.
    assert sent_when_cut < len(header)


def test_connection_refused_is_a_failure_to_retry():
    probe_socket = socket.socket()
    probe_socket.bind(("127.0.0.1", 0))
    port = probe_socket.getsockname()[1]
    probe_socket.close()  # nothing listens on the port now
    config = hook.load_config(env(TEST_BASE_URL=f"http://127.0.0.1:{port}", SMOKE_PATHS="[]"))
    assert hook.attempt(config, None) == [hook.Probe("/health", None, "connection refused")]
    assert hook.run(event(), env(TEST_BASE_URL=f"http://127.0.0.1:{port}"))["hookStatus"] == "IN_PROGRESS"


def test_empty_or_unset_smoke_paths_test_the_health_path_alone(app):
    app.routes.update({"/health": (200, 0, {})})
    assert hook.run(event(), env(app, SMOKE_PATHS="[]")) == {"hookStatus": "SUCCEEDED"}
    assert hook.run(event(), env(app, SMOKE_PATHS=None)) == {"hookStatus": "SUCCEEDED"}
    assert app.hits == ["/health", "/health"]


def test_a_redirect_is_the_answer_and_is_not_followed(app):
    app.routes.update({"/health": (302, 0, {"Location": f"http://127.0.0.1:{app.server_address[1]}/elsewhere"})})
    assert hook.run(event(), env(app, SMOKE_PATHS="[]")) == {"hookStatus": "SUCCEEDED"}
    assert app.hits == ["/health"]


def test_an_attempt_stops_before_a_request_the_invocation_cannot_cover(app):
    class Context:
        def get_remaining_time_in_millis(self):
            return 1500  # 1.5 s left: 1 s safety + 1 s request does not fit

    app.routes.update({"/health": (200, 0, {})})
    assert hook.run(event(), env(app), Context())["hookStatus"] == "IN_PROGRESS"
    assert app.hits == []


def test_any_other_lifecycle_stage_is_a_wiring_mistake_and_fails(app, caplog):
    assert hook.run(event(stage="PRE_SCALE_UP"), env(app)) == {"hookStatus": "FAILED"}
    assert app.hits == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "smoke test FAILED: invoked at lifecycle stage 'PRE_SCALE_UP'; register this hook at POST_TEST_TRAFFIC_SHIFT only "
        "(the stage where the test listener reaches the new revision)"
    ]


def test_a_corrupt_attempt_count_fails_closed(app):
    assert hook.run(event(details={"smokeTestAttempt": "two"}), env(app)) == {"hookStatus": "FAILED"}
    assert app.hits == []


def test_a_bad_environment_names_every_problem_and_fails_without_testing(app, caplog):
    bad = env(app, TEST_BASE_URL="ftp://alb/x", HEALTH_PATH="health", SMOKE_PATHS='["/ok", 3]', REQUEST_TIMEOUT_SECONDS="0", MAX_ATTEMPTS="2.5", RETRY_DELAY_SECONDS="-1")
    with pytest.raises(hook.ConfigError) as raised:
        hook.load_config(bad)
    assert str(raised.value) == (
        "ecs_smoke_test environment: "
        "TEST_BASE_URL='ftp://alb/x' is not allowed; use http:// or https://, a host and an optional port, without path, query or credentials, "
        "e.g. http://my-alb-123.us-east-1.elb.amazonaws.com:8080; "
        'HEALTH_PATH=\'health\' is not allowed; use a path starting with "/" without spaces or "#", e.g. "/health"; '
        'SMOKE_PATHS=\'["/ok", 3]\' is not allowed; use a JSON list of at most 20 paths starting with "/", e.g. ["/", "/api/items"], or []; '
        "REQUEST_TIMEOUT_SECONDS='0' is not allowed; use a number from 0.1 to 60 (unset: 5); "
        "MAX_ATTEMPTS='2.5' is not allowed; use a whole number from 1 to 100 (unset: 10); "
        "RETRY_DELAY_SECONDS='-1' is not allowed; use a whole number from 1 to 3600 (unset: 30)"
    )
    assert hook.run(event(), bad) == {"hookStatus": "FAILED"}
    assert app.hits == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [f"smoke test FAILED before testing: {raised.value}"]


def test_required_variables_and_defaults():
    with pytest.raises(hook.ConfigError, match=r"^ecs_smoke_test environment: TEST_BASE_URL is not set; .*; HEALTH_PATH is not set; set it to the container's health path"):
        hook.load_config({})
    config = hook.load_config({"TEST_BASE_URL": "https://test.example.com:8443/", "HEALTH_PATH": "/healthz?deep=1"})
    assert config == hook.Config("https://test.example.com:8443", "/healthz?deep=1", (), 5.0, 10, 30)


@pytest.mark.parametrize("url", ["http://alb:notaport", "http://user:pw@alb", "http://alb/prefix", "http://alb?x=1", "alb:8080", "http://:8080"])
def test_base_url_shapes_refused(url):
    with pytest.raises(hook.ConfigError, match=r"^ecs_smoke_test environment: TEST_BASE_URL="):
        hook.load_config({"TEST_BASE_URL": url, "HEALTH_PATH": "/"})


def test_one_attempt_must_fit_one_invocation():
    paths = json.dumps([f"/p{i}" for i in range(20)])
    with pytest.raises(hook.ConfigError, match=r"REQUEST_TIMEOUT_SECONDS=60 x 21 paths is 1260 s, more than one Lambda invocation can run \(900 s\)"):
        hook.load_config({"TEST_BASE_URL": "http://alb", "HEALTH_PATH": "/", "SMOKE_PATHS": paths, "REQUEST_TIMEOUT_SECONDS": "60"})


def test_worst_case_seconds():
    # 10 attempts of 3 paths at 5 s, with 9 pauses of 30 s between them.
    assert hook.WORST_CASE_SECONDS(10, 30, 5, 3) == 10 * 3 * 5 + 9 * 30 == 420
    assert hook.WORST_CASE_SECONDS(1, 30, 5, 3) == 15  # one invocation: what the Lambda timeout covers
    with pytest.raises(ValueError, match="attempts 0 and n_paths 1 must be >= 1"):
        hook.WORST_CASE_SECONDS(0, 30, 5, 1)


def test_worst_case_bounds_a_real_failing_run(app):
    """The terms of WORST_CASE_SECONDS, on a run whose every attempt times out: MAX_ATTEMPTS invocations of at
    most 1 + len(SMOKE_PATHS) requests each, none waited out past its deadline (no pause between invocations
    here: ECS's callBackDelay is outside the function)."""
    app.routes.update({"/health": (200, 0, {}), "/": (200, SLOW_SECONDS, {})})
    settings = env(app, SMOKE_PATHS='["/"]', REQUEST_TIMEOUT_SECONDS="0.2", MAX_ATTEMPTS="2")
    answers, details = [], None
    for _ in range(2):
        answers.append(hook.run(event(details=details), settings))
        details = answers[-1].get("hookDetails")
    assert [a["hookStatus"] for a in answers] == ["IN_PROGRESS", "FAILED"]
    assert app.hits == ["/health", "/"] * 2  # 2 attempts x 2 paths
    assert app.answered == ["/health"] * 2  # the run ended before either slow answer: each request was cut at its deadline


def test_a_host_routed_services_hook_names_its_host_in_every_request(app):
    """functions/routed_smoke_test.py: the test listener's rule of a host-routed service matches its host, so every
    request names it; the plain hook (in the same process) goes on sending the URL's host."""
    from functions import routed_smoke_test as routed

    for path in ("/shop/health", "/shop/"):
        app.routes[path] = (200, 0.0, {})
    shop = env(app, HEALTH_PATH="/shop/health", SMOKE_PATHS='["/shop/"]', TEST_HOST_HEADER="shop.example.com")
    assert routed.run(event(), shop) == {"hookStatus": "SUCCEEDED"}
    assert (app.hits, app.hosts) == (["/shop/health", "/shop/"], ["shop.example.com"] * 2)
    app.hits.clear()
    app.hosts.clear()
    assert hook.run(event(), shop)["hookStatus"] == "SUCCEEDED"
    assert app.hosts == [f"127.0.0.1:{app.server_address[1]}"] * 2


@pytest.mark.parametrize("host", [None, "*.example.com", "a b", ""])
def test_a_host_routed_services_hook_without_a_plain_host_fails_without_testing(app, host, caplog):
    from functions import routed_smoke_test as routed

    assert routed.run(event(), env(app, TEST_HOST_HEADER=host)) == {"hookStatus": "FAILED"}
    assert app.hits == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"smoke test FAILED before testing: TEST_HOST_HEADER={host!r} is not allowed; use the service's host name without wildcards, e.g. shop.example.com"
    ]
