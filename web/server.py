"""Serving the web app with uvicorn: ``run`` for the CLI, ``serve_in_thread`` for tests and benches."""
from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn

from warmpool.config import WEB_SECRETS, check_deployment, get_settings
from web.app import create_app


def _proxy_settings() -> dict[str, Any]:
    # X-Forwarded-For decides the client IP for rate limits and consent records, so it is only
    # believed from proxies named in WARMPOOL_TRUSTED_PROXIES (none by default).
    trusted = os.environ.get("WARMPOOL_TRUSTED_PROXIES", "").strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


def run(host: str = "127.0.0.1", port: int = 8300, app: Any = None) -> None:
    """Serve until interrupted (one process: the rate limiter lives in memory). UnsafeDeployment before
    anything listens if the settings would serve the sandbox's public secrets (demo mode: loopback only)."""
    check_deployment(get_settings(), WEB_SECRETS, bind_host=host)
    uvicorn.run(app or create_app(), host=host, port=port, log_level="info", server_header=False,
                limit_concurrency=512, timeout_keep_alive=5, **_proxy_settings())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app: Any = None, host: str = "127.0.0.1", port: int | None = None,
                    timeout: float = 15.0) -> Iterator[str]:
    """Start uvicorn in a background thread; yields the base URL; stops it on exit."""
    port = port or free_port(host)
    config = uvicorn.Config(app or create_app(), host=host, port=port, log_level="warning", server_header=False,
                            lifespan="off", **_proxy_settings())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"warmpool-web-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"web server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
