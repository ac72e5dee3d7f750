"""Erasure requests (GDPR Art. 17) beyond the web pages: the campaign sender blocks an address with
a request at send time, and the web store's `erasure_requests` lands in `raw_forms.erasure_requests`
incrementally (merged on `request_seq`, nothing twice) with the columns the dbt staging model reads.

The pages themselves are in tests/test_web.py (HTTP) and tests/test_web_browser.py (Chromium); the
whole way through identity, the marts and the audiences in tests/test_web_pipeline.py."""
from __future__ import annotations


from test_campaigns_send import T0, audience, clock_at, smtp, settings, campaigns, nurture  # noqa: F401 (fixtures)
from tests.ingestion_fixtures import home, query  # noqa: F401 (fixture)
from warmpool import tables
from warmpool.campaigns.sender import send_campaign
from warmpool import web_store as store


def _request(email: str, n: int, source: str = "preference_centre") -> dict:
    return {"email": email, "person_id": f"p-{n}", "campaign_id": "c1", "requested_at": f"2026-03-0{n}T10:00:00.000Z",
            "ip": "192.0.2.1", "user_agent": "Chrome", "source": source}


def test_sender_refuses_an_address_with_an_erasure_request(smtp, settings, nurture):  # noqa: F811
    sink, _ = smtp
    with store.store(settings.web_store_path) as con:
        assert store.record_erasure_request(con, _request("Person1@Example.com", 1))[0] == "recorded"
        assert store.record_erasure_request(con, _request("person1@example.com", 2))[0] == "exists"
        assert store.record_erasure_request(con, _request("person3+jobs@example.com", 3))[0] == "recorded"
    report = send_campaign(nurture, audience(4), settings, clock=clock_at(T0))
    assert report.suppressed == 2 and report.sent == 2, report.describe()
    assert sink.to("person1@example.com") == [] and sink.to("person3@example.com") == []
    assert sorted(str(m["To"]) for m in sink.parsed()) == ["person0@example.com", "person2@example.com"]


def test_erasure_requests_load_incrementally_into_raw_forms(home):  # noqa: F811
    from pipelines.web_store import run_web_store

    assert run_web_store()["erasure_requests"] == 0  # no store yet
    with store.store(home.web_store_path) as con:
        for n, email in enumerate(("a@example.com", "b@example.com"), start=1):
            store.record_erasure_request(con, _request(email, n))
    assert run_web_store()["erasure_requests"] == 2
    assert run_web_store()["erasure_requests"] == 0  # a re-run loads nothing
    with store.store(home.web_store_path) as con:
        store.record_erasure_request(con, _request("A@example.com", 3))  # a repeat: nothing new
        store.record_erasure_request(con, _request("c@example.com", 4, "privacy_page"))
    assert run_web_store()["erasure_requests"] == 1
    rows = query(f"select request_seq, email, person_id, campaign_id, requested_at, ip, user_agent, source "
                 f"from {tables.RAW_FORMS}.erasure_requests order by request_seq")
    assert [(r[0], r[1], r[7]) for r in rows] == [(1, "a@example.com", "preference_centre"),
                                                  (2, "b@example.com", "preference_centre"),
                                                  (3, "c@example.com", "privacy_page")]
    assert rows[0][2:4] == ("p-1", "c1") and rows[0][5:7] == ("192.0.2.1", "Chrome")
    assert rows[0][4].year == 2026  # an ISO text `*_at` column lands as a timestamp
    types = dict(query("select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = 'erasure_requests'", tables.RAW_FORMS))
    assert types["request_seq"] == "BIGINT" and types["requested_at"].startswith("TIMESTAMP")
