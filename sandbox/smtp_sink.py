"""The sandbox's loopback SMTP server: every message received is stored as ``mailbox/<n>.eml`` (raw MIME bytes).

Like real recipients, a few people answer: for a stable share of the campaign mails received (those
with a List-Unsubscribe header, chosen by a hash of the Message-ID), the sink writes a reply to
``mailbox/replies/`` and hands its ``In-Reply-To`` / ``References`` to ``on_reply`` (the sandbox
services pass the inbound path the Mailgun-routes webhook uses, ``record_inbound_reply``).

A real SMTP conversation (aiosmtpd), so the campaign sender runs exactly the code it would run against a
provider's relay. Files are written to a temporary name and then linked into place, so a reader never sees half a message
and an existing message is never overwritten.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import socket
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from typing import Callable

from aiosmtpd.controller import Controller


REPLY_SHARE = 0.03  # of campaign mails, answered by their recipient


def _answers(message_id: str, share: float) -> bool:
    digest = hashlib.sha256(message_id.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


class MailboxHandler:
    def __init__(self, mailbox_dir: Path, on_reply: Callable[[str, str, dt.datetime], object] | None = None,
                 reply_share: float = REPLY_SHARE):
        self.on_reply, self.reply_share = on_reply, reply_share
        self.replies = 0
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
        if self.on_reply is not None:
            self._maybe_reply(data)
        return "250 Message accepted for delivery"

    def _maybe_reply(self, data: bytes) -> None:
        head = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        message_id = str(head.get("Message-ID") or "")
        if not message_id or not head.get("List-Unsubscribe") or not _answers(message_id, self.reply_share):
            return
        reply = EmailMessage()
        reply["From"], reply["To"] = str(head.get("To")), str(head.get("From"))
        reply["Subject"] = f"Re: {head.get('Subject')}"
        reply["In-Reply-To"], reply["References"] = message_id, message_id
        reply["Message-ID"] = make_msgid(domain="sandbox.invalid")
        reply.set_content("Thanks - I'd like to hear more. Could we talk next week?")
        folder = self.mailbox_dir / "replies"
        folder.mkdir(exist_ok=True)
        (folder / f"{hashlib.sha256(message_id.encode()).hexdigest()[:16]}.eml").write_bytes(bytes(reply))
        self.on_reply(message_id, message_id, dt.datetime.now(dt.timezone.utc))
        with self._lock:
            self.replies += 1

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
    def __init__(self, mailbox_dir: Path, host: str = "127.0.0.1", port: int = 8025,
                 on_reply: Callable[[str, str, dt.datetime], object] | None = None):
        self.handler = MailboxHandler(mailbox_dir, on_reply)
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
