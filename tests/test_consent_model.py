"""One consent model: the same table of cases through the warehouse and through the send-time check.

tests/fixtures/consent_cases.csv lists, per person, what happened on each of their addresses
(sign-ups, double opt-in confirmations, unsubscribes, complaints, bounces, deliveries, preference-
centre choices, erasure requests); consent_cases_expected.csv says what state that must leave the
person in. The events are written into a real web store through `warmpool.web_store` exactly as the
web service and the provider webhooks write them, then:

- warehouse: the real dlt source loads the store, dbt builds the source records (phase 1), a
  stand-in for identity resolution assigns each record to the fixture's person, and dbt builds the
  consent models with their tests (`int_candidate_consent_events` -> `int_candidate_consent`);
- send time: the campaign sender's `WebStoreSuppression` reads the same store, and
  `warmpool.consent.consent_state` gives the person's state from the same events.

Every person must get the expected state, reason included, on both sides.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from dbt_fixtures import PHASE_1, dbt
from pipelines.web_store import run_web_store
from warmpool import web_store
from warmpool.campaigns.sender import WebStoreSuppression
from warmpool.config import get_settings
from warmpool.consent import consent_state, events_from_store, load_rules
from warmpool.emails import canonical_email

FIXTURES = Path(__file__).parent / "fixtures"
RECORD_EVENTS = ("sign_up", "record")  # events that give the person a record (and so an address)
EMAIL_EVENTS = {"unsubscribe": ("unsubscribe", None), "complaint": ("complaint", None),
                "hard_bounce": ("bounce", "hard"), "soft_bounce": ("bounce", "soft"), "bounce": ("bounce", None),
                "delivered": ("delivered", None), "open": ("open", None), "click": ("click", None)}


def _csv(name: str) -> list[dict]:
    with open(FIXTURES / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


CASES = _csv("consent_cases.csv")
EXPECTED = {row["person"]: (row["consent_state"], row["suppression_reason"] or None)
            for row in _csv("consent_cases_expected.csv")}


def _write_store(path: Path) -> dict[tuple[str, str], str]:
    """Write every fixture event into the web store; returns (source, source_record_id) -> person."""
    records: dict[tuple[str, str], str] = {}
    sign_ups: dict[tuple[str, str], int] = {}
    with web_store.store(path) as con:
        for n, case in enumerate(CASES):
            person, address, event, at = case["person"], case["address"], case["event"], case["at"]
            if event in RECORD_EVENTS:
                form = "talent_network" if event == "sign_up" else "referral"
                sid = web_store.insert_submission(con, {
                    "form": form, "submitted_at": at, "first_name": person.split("_")[0].title(),
                    "last_name": "Case", "email": address, "consent_marketing": int(event == "sign_up"),
                    "consent_wording_version": "v1" if event == "sign_up" else None})
                records[(form, str(sid))] = person
                if event == "sign_up":
                    sign_ups[(person, address)] = sid
            elif event == "confirm":
                assert web_store.confirm_submission(con, sign_ups[(person, address)], address, f"nonce-{n}",
                                                    at) == "confirmed"
            elif event in EMAIL_EVENTS:
                kind, bounce_type = EMAIL_EVENTS[event]
                web_store.insert_email_events(con, [{
                    "provider_event_id": f"case-{n}", "provider": "mailgun", "event": kind, "email": address,
                    "occurred_at": at, "bounce_type": bounce_type}])
            elif event in ("opt_out", "choose_topics"):
                opt_out = event == "opt_out"
                web_store.record_preferences(con, {
                    "email": address, "topics": None if opt_out else "nurture", "frequency": None if opt_out else "monthly",
                    "unsubscribed_all": opt_out, "changed_at": at, "source": "page"},
                    {"provider_event_id": f"warmpool-web:unsubscribe:case-{n}", "provider": "warmpool-web",
                     "event": "unsubscribe", "email": address, "occurred_at": at} if opt_out else None)
            elif event == "erasure_request":
                assert web_store.record_erasure_request(con, {"email": address, "requested_at": at,
                                                              "source": "privacy_page"})[0] == "recorded"
            else:
                raise ValueError(f"consent_cases.csv row {n + 2}: unknown event {event!r}")
    return records


def _addresses_by_person() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for case in CASES:
        if case["event"] in RECORD_EVENTS:
            out[case["person"]].add(case["address"])
    return out


@pytest.fixture(scope="module")
def store_and_warehouse(tmp_path_factory):
    """The fixture's web store, loaded and built into a warehouse by the real pipeline pieces."""
    home = tmp_path_factory.mktemp("consent-home")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("WARMPOOL_HOME", str(home))
        mp.delenv("WARMPOOL_WEB_STORE", raising=False)
        mp.setenv("DO_NOT_TRACK", "1")
        settings = get_settings()
        mp.setenv("WARMPOOL_WAREHOUSE", str(settings.warehouse_path))
        records = _write_store(settings.web_store_path)
        run_web_store(settings)
        dbt(home, *PHASE_1)
        with duckdb.connect(str(settings.warehouse_path)) as con:
            built = set(con.execute("select source, source_record_id from intermediate.int_source_records").fetchall())
            assert built == set(records)  # every fixture record reached the pool
            con.execute("create schema if not exists identity")
            con.execute("create table identity.source_record_person (source varchar, source_record_id varchar, "
                        "person_id varchar, cluster_size bigint, resolved_at timestamptz)")
            con.executemany("insert into identity.source_record_person values (?, ?, ?, 1, now())",
                            [(s, r, person) for (s, r), person in records.items()])
        dbt(home, "--select", "+int_candidate_consent", "--exclude", "+int_source_records")
        with duckdb.connect(str(settings.warehouse_path)) as con:
            warehouse = {person: (state, reason) for person, state, reason in con.execute(
                "select person_id, consent_state, suppression_reason from intermediate.int_candidate_consent").fetchall()}
        yield settings, warehouse
    finally:
        mp.undo()


def test_the_fixture_covers_every_rule():
    events = {case["event"] for case in CASES}
    assert {"sign_up", "confirm", "record", "unsubscribe", "complaint", "hard_bounce", "bounce", "soft_bounce",
            "delivered", "open", "opt_out", "choose_topics", "erasure_request"} <= events
    assert {state for state, _ in EXPECTED.values()} == {"opted_in", "pending_double_opt_in", "no_consent",
                                                         "suppressed"}
    assert {reason for _, reason in EXPECTED.values()} == {None, "unsubscribe", "complaint", "hard_bounce",
                                                           "soft_bounce", "erasure"}
    assert set(EXPECTED) == {case["person"] for case in CASES}


@pytest.mark.parametrize("person", sorted(EXPECTED))
def test_warehouse_and_send_time_agree_case_by_case(store_and_warehouse, person):
    settings, warehouse = store_and_warehouse
    expected = EXPECTED[person]
    addresses = _addresses_by_person()[person]
    keys = {canonical_email(a) for a in addresses}

    # the warehouse (dbt): int_candidate_consent, derived from int_candidate_consent_events
    assert warehouse[person] == expected, f"dbt: {person}"

    # Python: the consent model's functions over the same store's events ...
    with web_store.reader(settings.web_store_path) as con:
        events = events_from_store(web_store.consent_rows(con))
    state = consent_state([e for e in events if canonical_email(e.email) in keys], load_rules())
    assert (state.state, state.suppression_reason) == expected, f"python: {person}"

    # ... and the sender's send-time check, asked about each of the person's addresses in turn
    check = WebStoreSuppression(settings.web_store_path)
    for address in sorted(addresses):
        suppression = check.suppression(address, sorted(addresses - {address}))
        assert (suppression.reason if suppression else None) == expected[1], f"send time: {person} at {address}"
        assert check(address, other_addresses=sorted(addresses)) == (expected[0] == "suppressed")
