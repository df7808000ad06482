"""Shared fixtures; also makes ``import server`` work from any working directory."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

APP_DIR = Path(__file__).resolve().parent.parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))


@pytest.fixture
def live_server():
    """The real server on 127.0.0.1:<ephemeral port>, served from a background thread."""
    import server as app_server  # importable thanks to the sys.path entry above

    srv = app_server.make_server(0, host="127.0.0.1")
    thread = threading.Thread(
        target=srv.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="test-server",
        daemon=True,
    )
    thread.start()
    try:
        yield SimpleNamespace(server=srv, thread=thread, url=f"http://127.0.0.1:{srv.server_address[1]}")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
