"""Erasure reaches every campaign store: the send ledger keeps its counts under keyed hashes (so a
forgotten person is still never mailed a version twice) and the audience files lose the person."""
from __future__ import annotations

import sqlite3

from tests.test_campaigns_send import T0, audience, member, send, settings, smtp, nurture, campaigns  # noqa: F401
from warmpool.campaigns.audience import write_audience_csv
from warmpool.campaigns.erasure import forget_people
from warmpool.campaigns.sender import open_ledger


def test_forget_leaves_nothing_readable_and_still_never_mails_twice(smtp, settings, nurture):
    sink, _ = smtp
    members = audience(3)
    assert send(nurture, members, settings).sent == 3
    write_audience_csv(members, nurture.campaign_id, settings.audiences_dir, "hubspot")

    out = forget_people(settings, person_ids=["p-1"], emails=["PERSON2@example.com"])
    assert out.ledger_rows == 2 and out.audience_rows == {f"{nurture.campaign_id}.csv": 2}
    with sqlite3.connect(settings.campaign_ledger_path) as con:
        dump = "\n".join(con.iterdump())
    for gone in ("person1@example.com", "person2@example.com", "'p-1'", "'p-2'"):
        assert gone not in dump
    with open_ledger(settings) as ledger:
        assert ledger.counts(nurture.campaign_id) == {"accepted": 3}  # the counts stay right

    # The same person reappearing (a re-import, a restored backup) is recognised by the keyed hash.
    again = send(nurture, members + [member("p-9", "person1@example.com")], settings)
    assert again.sent == 0 and len(sink.messages) == 3
    forget_people(settings, person_ids=["p-1", "p-9"])  # again: the rows this run added go too
    with sqlite3.connect(settings.campaign_ledger_path) as con:
        assert "person1@example.com" not in "\n".join(con.iterdump())


def test_audience_file_rows_of_the_person_are_removed(tmp_path, settings):
    members = [member("p-1", "a@example.com"), member("p-2", "b@example.com")]
    path = write_audience_csv(members, "tn-engineering-nurture", settings.audiences_dir)
    forget_people(settings, emails=["A@example.com"])
    text = path.read_text()
    assert "a@example.com" not in text and "b@example.com" in text
