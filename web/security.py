"""Request hardening for the public web service: CSRF, fill-time, rate limits, body-size cap,
security headers and Mailgun webhook signatures. No FastAPI imports except the ASGI shapes."""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import deque
from typing import Any, Callable

from itsdangerous import BadSignature, URLSafeSerializer

from warmpool.tokens import secret_key

CSRF_COOKIE = "wp_csrf"
CSRF_FIELD = "csrf_token"
HONEYPOT_FIELD = "website"  # bots fill fields called like this; people never see it

# --- CSRF (signed double submit) + form start time ---------------------------------------------
# The cookie holds a random value; the hidden field holds that value *signed* together with the
# time the form was rendered. A cross-site attacker can neither read the cookie nor forge the
# signature, and the signed time gives a minimum-fill-time check bots cannot fake.

def _csrf_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(), salt="warmpool:csrf")


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


def make_csrf_field(cookie_value: str, rendered_at: float) -> str:
    return _csrf_serializer().dumps({"c": cookie_value, "t": round(rendered_at, 3)})


def check_csrf(cookie_value: str | None, field_value: str | None) -> float | None:
    """The form's render time if the pair is valid, else None."""
    if not cookie_value or not field_value:
        return None
    try:
        data = _csrf_serializer().loads(field_value)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not _same(str(data.get("c", "")), cookie_value):
        return None
    try:
        return float(data["t"])
    except (KeyError, TypeError, ValueError):
        return None


def _same(expected: str, given: str) -> bool:
    # Constant-time, on bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))


# --- rate limiting -----------------------------------------------------------------------------

class RateLimiter:
    """Sliding-window counter per key, in memory (one process; run one worker or put a shared
    limiter in front). ``hit`` returns False once ``limit`` hits happened within ``window``."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self._hits) > 100_000:  # bound memory under a spray of addresses
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]
            return True


# --- ASGI middlewares ---------------------------------------------------------------------------

class BodySizeLimit:
    """Reject bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    return await _plain(send, 413, b"Request too large")
        seen = 0
        started = False

        async def send_wrapper(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        class TooLarge(Exception):
            pass

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except TooLarge:
            if not started:
                await _plain(send, 413, b"Request too large")


async def _plain(send: Callable, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = {
    # No inline script or style anywhere, so the policy can be strict; the forms post to ourselves.
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Links carry tokens in their paths: never leak them to the next site in a Referer header.
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    def __init__(self, app: Any, hsts: bool = False):
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in self.headers if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_wrapper)


# --- Mailgun webhook signatures ----------------------------------------------------------------

def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (str(timestamp) + str(token)).encode(), hashlib.sha256).hexdigest()


def verify_mailgun(key: str, signature: dict[str, Any], now: float, max_age: float = 300.0) -> str | None:
    """None if the signature block is valid and fresh, else the reason it is not."""
    if not isinstance(signature, dict):
        return "missing signature"
    ts, token, sig = signature.get("timestamp"), signature.get("token"), signature.get("signature")
    if not (isinstance(ts, (str, int)) and not isinstance(ts, bool) and isinstance(token, str)
            and isinstance(sig, str)) or not token or len(token) > 200 or len(sig) > 200:
        return "malformed signature"
    if not _same(mailgun_signature(key, str(ts), token), sig.lower()):
        return "bad signature"
    try:
        sent_at = float(ts)
    except ValueError:
        return "bad timestamp"
    if not math.isfinite(sent_at) or sent_at < 0:  # "NaN" compares false with everything: no freshness check
        return "bad timestamp"
    if abs(now - sent_at) > max_age:  # old (or from the future): a captured request being replayed later
        return "stale timestamp"
    return None


# A JSON string (skipped whole; an unterminated one runs to the end) or one bracket.
_JSON_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def json_too_deep(body: bytes, limit: int) -> bool:
    """True if the JSON text nests arrays or objects deeper than ``limit``. Checked before parsing:
    Python's json parser recurses, and a deep enough body raises RecursionError (a 500)."""
    depth = 0
    for match in _JSON_STRING_OR_BRACKET.finditer(body):
        first = match.group()[0]
        if first in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif first in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def token_digest(token: str) -> str:
    """A stable id derived from a link token (for event dedupe) that does not reveal the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
