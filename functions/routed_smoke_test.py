"""ECS deployment lifecycle hook of a host-routed service: the smoke test of functions/ecs_smoke_test.py, with every
request naming the service's host in its Host header.

The load balancer has one test listener; each traffic-shifting service's test rule there has the conditions of its
production rule. A request by the load balancer's DNS name therefore reaches a host-routed service's new revision
only when its Host header names the service's host. Everything else (the environment, the attempts, the deadlines,
the answers to ECS) is ecs_smoke_test's; this hook adds one variable:

    TEST_HOST_HEADER   required: the service's host name, without wildcards, e.g. shop.example.com.

A path-routed service needs nothing more: the wiring starts its HEALTH_PATH and SMOKE_PATHS with its path prefix.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Mapping

from functions import ecs_smoke_test as smoke

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


class HostHeader(urllib.request.BaseHandler):
    """Names `host` in the Host header of every request while it is set. urllib keeps a Host header a request already
    has and derives one from the URL only otherwise (AbstractHTTPHandler.do_request_), so this runs first."""

    handler_order = 100  # before HTTPHandler's and HTTPSHandler's request processing (500)

    def __init__(self) -> None:
        self.host: str | None = None

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        if self.host is not None:
            request.add_unredirected_header("Host", self.host)
        return request

    https_request = http_request


# Added to the smoke test's own opener (no proxies, no redirects followed) rather than a second opener beside it.
HOST_HEADER = HostHeader()
smoke._OPENER.add_handler(HOST_HEADER)


def run(event: Mapping, env: Mapping[str, str], context: smoke.LambdaContext | None = None) -> dict:
    """ecs_smoke_test.run with the Host header TEST_HOST_HEADER names; FAILED without a valid one (nothing tested)."""
    host = env.get("TEST_HOST_HEADER")
    if host is None or not _HOST.fullmatch(host):
        smoke.logger.error("smoke test FAILED before testing: TEST_HOST_HEADER=%r is not allowed; use the service's host name without wildcards, e.g. shop.example.com", host)
        return {"hookStatus": smoke.FAILED}
    HOST_HEADER.host = host
    try:
        return smoke.run(event, env, context)
    finally:
        HOST_HEADER.host = None


def handler(event: dict, context: smoke.LambdaContext) -> dict:
    """Lambda entry point (handler `functions.routed_smoke_test.handler`)."""
    return run(event, os.environ, context)
