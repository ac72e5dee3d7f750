"""The sandbox's loopback SMTP server: every message received is stored as ``mailbox/<n>.eml`` (raw MIME bytes).

A real SMTP conversation (aiosmtpd), so the campaign sender runs exactly the code it would run against a
provider's relay. Files are written to a temporary name and then linked into place, so a reader never sees half a message
and an existing message is never overwritten.
"""
from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MailboxHandler:
    def __init__(self, mailbox_dir: Path):
        self.mailbox_dir = Path(mailbox_dir)
        self.mailbox_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        existing = [int(p.stem) for p in self.mailbox_dir.glob("*.eml") if p.stem.isdigit()]
        self._seq = itertools.count(max(existing, default=0) + 1)
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.store(data)
        return "250 Message accepted for delivery"

    def store(self, data: bytes) -> Path:
        tmp = self.mailbox_dir / f".incoming-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            while True:
                with self._lock:
                    n = next(self._seq)
                final = self.mailbox_dir / f"{n:08d}.eml"  # zero-padded: name order is arrival order
                try:
                    os.link(tmp, final)  # atomic and never overwrites (another sink may share the folder)
                    break
                except FileExistsError:
                    continue
        finally:
            tmp.unlink(missing_ok=True)
        with self._lock:
            self.received += 1
        return final


class _BoundController(Controller):
    """aiosmtpd Controller on a socket bound up front, so port 0 yields a known free port."""

    def __init__(self, handler, hostname: str, port: int, **kwargs):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((hostname, port))
        super().__init__(handler, hostname=hostname, port=self._sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class SmtpSink:
    def __init__(self, mailbox_dir: Path, host: str = "127.0.0.1", port: int = 8025):
        self.handler = MailboxHandler(mailbox_dir)
        self.host = host
        self._requested_port = port
        self.controller: _BoundController | None = None

    @property
    def port(self) -> int:
        return self.controller.port if self.controller else self._requested_port

    @property
    def mailbox_dir(self) -> Path:
        return self.handler.mailbox_dir

    def start(self) -> "SmtpSink":
        # generous size limit: campaign mails with HTML parts are small, but the sink must not refuse them
        self.controller = _BoundController(self.handler, self.host, self._requested_port, data_size_limit=33_554_432)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
