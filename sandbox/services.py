"""Start and stop the sandbox's services together: the ATS API simulator, the SMTP sink and the
email provider's contact-list API simulator (SendGrid Marketing Contacts shape).

    with SandboxServices(settings, ats_port=0, smtp_port=0) as svc:   # 0 = any free port
        ... svc.ats_url, svc.smtp_host, svc.smtp_port, svc.mailbox_dir, svc.provider_url ...

Uvicorn runs in a background thread on a socket bound before start, so the port is known at once and
parallel test sessions never collide; ``__enter__`` returns only when the API answers.
"""
from __future__ import annotations

import socket
import threading
from functools import partial
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import uvicorn

from sandbox.ats_simulator import ENDPOINTS, RateLimit, app_from_settings
from sandbox.provider_lists import provider_lists_app
from sandbox.smtp_sink import SmtpSink
from warmpool.campaigns.replies import record_inbound_reply
from warmpool.config import get_settings


def _default_port(url: str, fallback: int) -> int:
    return urlparse(url).port or fallback


SANDBOX_PROVIDER_KEY = "sandbox-sendgrid-key"  # the simulator's API key (config: campaigns.provider_list)


class AppServer:
    """One ASGI app under uvicorn in a background thread, on a socket bound before start (port 0: any)."""

    def __init__(self, app, host: str, port: int, name: str):
        self.app, self.host, self.name = app, host, name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                    timeout_graceful_shutdown=2, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name=name, daemon=True)

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.sock.getsockname()[1]}"

    def start(self, health_path: str = "/_sim/health") -> "AppServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start")
            if self.server.started:
                try:
                    if httpx.get(f"{self.root}{health_path}", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not answer within 20 s")

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=5)
            if self.thread.is_alive():  # a client holding a connection open: stop waiting for it
                self.server.force_exit = True
                self.thread.join(timeout=5)
        self.sock.close()


class SandboxServices:
    def __init__(self, settings=None, ats_port: int | None = None, smtp_port: int | None = None,
                 host: str = "127.0.0.1", rate_limit: RateLimit | None = None):
        self.settings = settings or get_settings()
        self.host = host
        self._ats_port = _default_port(self.settings.ats.base_url, 8200) if ats_port is None else ats_port
        self._smtp_port = self.settings.smtp.port if smtp_port is None else smtp_port
        self._rate_limit = rate_limit
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.smtp: SmtpSink | None = None
        self.app = None
        self.provider: AppServer | None = None

    # --- what clients need -------------------------------------------------------------------
    @property
    def ats_port(self) -> int:
        return self._sock.getsockname()[1] if self._sock else self._ats_port

    @property
    def ats_url(self) -> str:
        return f"http://{self.host}:{self.ats_port}/v1"

    @property
    def ats_root(self) -> str:
        return f"http://{self.host}:{self.ats_port}"

    @property
    def smtp_host(self) -> str:
        return self.host

    @property
    def smtp_port(self) -> int:
        return self.smtp.port if self.smtp else self._smtp_port

    @property
    def provider_url(self) -> str:
        """The provider contact-list API simulator (SendGrid shape; Bearer SANDBOX_PROVIDER_KEY)."""
        return self.provider.root if self.provider else ""

    @property
    def mailbox_dir(self) -> Path:
        return Path(self.settings.mailbox_dir)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "SandboxServices":
        try:
            self._start_ats()
            # some recipients answer: their replies take the inbound path the Mailgun-routes webhook takes
            self.smtp = SmtpSink(self.mailbox_dir, host=self.host, port=self._smtp_port,
                                 on_reply=partial(record_inbound_reply, self.settings)).start()
            self.provider = AppServer(provider_lists_app(SANDBOX_PROVIDER_KEY), self.host, 0, "sandbox-provider").start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_ats(self) -> None:
        self.app = app_from_settings(self.settings, self._rate_limit)
        for endpoint in ENDPOINTS:  # load the world up front: the first page of a big world must not time out
            self.app.state.sim.table(endpoint)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self._ats_port))
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="sandbox-ats", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the ATS simulator failed to start")
            if self._server.started:
                try:
                    if httpx.get(f"{self.ats_root}/_sim/health", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("the ATS simulator did not answer within 20 s")

    def stop(self) -> None:
        if self.provider is not None:
            self.provider.stop()
            self.provider = None
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=5)
                if self._thread.is_alive():  # a client holding a connection open: stop waiting for it
                    self._server.force_exit = True
                    self._thread.join(timeout=5)
            self._server = None
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "SandboxServices":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> str:
        return (f"ATS API simulator: {self.ats_url} (Basic auth: the API key as user name)\n"
                f"SMTP sink:         {self.smtp_host}:{self.smtp_port} -> {self.mailbox_dir}\n"
                f"Provider lists:    {self.provider_url} (SendGrid Marketing Contacts shape)")


def serve_forever(settings=None) -> None:
    """`warmpool sandbox serve`: run both services on their configured ports until Ctrl-C."""
    settings = (settings or get_settings()).ensure_dirs()
    if not (settings.sandbox_dir / "ats" / "candidates.json").exists():
        print("No sandbox world yet: run `warmpool sandbox generate` first (the API serves empty lists).")
    with SandboxServices(settings) as svc:
        print(svc.describe(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping ...")
