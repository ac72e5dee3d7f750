"""The sandbox world generator: deterministic, realistically shaped, and its truth covers every record."""
from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import phonenumbers
import pytest

from sandbox import world as W


def _files(home: Path) -> dict[str, bytes]:
    out = {}
    for sub in ("sandbox", "landing"):
        for p in sorted((home / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(home))] = p.read_bytes()
    return out


def _store_rows(home: Path) -> tuple[list, list]:
    con = sqlite3.connect(home / "web" / "web.sqlite")
    try:
        return (con.execute("select * from form_submissions order by submission_id").fetchall(),
                con.execute("select * from email_events order by received_seq").fetchall())
    finally:
        con.close()


def test_same_seed_same_world_and_another_seed_another(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    W.generate_world(300, seed=5, home=a)
    W.generate_world(300, seed=5, home=b)
    W.generate_world(300, seed=6, home=c)
    files_a, files_b = _files(a), _files(b)
    assert files_a.keys() == files_b.keys()
    assert [k for k in files_a if files_a[k] != files_b[k]] == []  # byte for byte, xlsx included
    assert _store_rows(a) == _store_rows(b)
    assert files_a["sandbox/truth/source_record_person.csv"] != _files(c)["sandbox/truth/source_record_person.csv"]


def test_regenerating_replaces_the_previous_world(tmp_path):
    W.generate_world(200, seed=1, home=tmp_path)
    W.generate_world(120, seed=2, home=tmp_path)
    truth = json.loads((tmp_path / "sandbox" / "truth" / "world.json").read_text())
    with open(tmp_path / "sandbox" / "truth" / "source_record_person.csv") as fh:
        assert len({r["true_person_id"] for r in csv.DictReader(fh)}) == truth["people"] == 120
    subs, _ = _store_rows(tmp_path)
    assert len(subs) == truth["talent_network"]["submissions"] + truth["referrals"]


def test_funnel_matches_published_candidates_per_hire():
    import random

    rng = random.Random(3)
    for channel, target in W.HIRE_RATE.items():
        n = 200_000
        hires = sum(W._simulate_funnel(rng, channel) == 5 for _ in range(n))
        assert abs(hires / n - target) / target < 0.12, (channel, hires / n, target)


def test_world_shape(small_world):
    t = small_world.truth
    sr = t["source_records"]
    assert 1.5 <= sr["per_person"] <= 2.1
    assert 0.25 <= sr["people_in_2plus_sources"] / t["people"] <= 0.45
    assert sr["ats_people_with_duplicate_profiles"] > 0
    assert all(sr["by_source"][s] > 0 for s in W.SOURCES)
    apps, hires = t["applications"], t["hires"]
    assert hires["total"] > 0 and 50 <= apps["total"] / hires["total"] <= 220
    assert sum(apps["by_status"].values()) == apps["total"]
    assert sum(apps["by_furthest_stage"].values()) == apps["total"]
    assert hires["total"] == apps["by_status"]["hired"] == sum(hires["by_source"].values())
    assert t["offers"]["by_status"].get("accepted", 0) == hires["total"]
    assert t["silver_medalists"]["count"] > 0
    assert t["hard_negatives"]["namesakes"] > 0 and t["hard_negatives"]["relatives"] > 0
    for vendor in W.VENDORS:
        v = t["vendors"][vendor]
        assert len(v["files"]) >= 3 and v["rows"] == sum(f["rows"] for f in v["files"])
        assert 0 < v["already_in_pool"] < v["rows"]
    tn = t["talent_network"]
    assert tn["pending"] > 0 and tn["confirmed"] > tn["pending"]
    ev = t["email_events"]["by_type"]
    assert {"delivered", "open", "click", "bounce"} <= set(ev) and t["email_events"]["machine_opens"] > 0


def _truth_rows(home: Path) -> list[dict]:
    with open(home / "sandbox" / "truth" / "source_record_person.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _export_rows(home: Path) -> list[dict]:
    with open(home / "sandbox" / "exports" / "source_records.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _vendor_ids(home: Path, cfgs: dict) -> dict[str, list[str]]:
    from openpyxl import load_workbook

    ids: dict[str, list[str]] = defaultdict(list)
    for vendor in W.VENDORS:
        cfg = cfgs[vendor]
        id_col = next(c for c, canon in cfg["columns"].items() if canon == "vendor_record_id")
        for path in sorted((home / "landing" / "vendors" / vendor).glob(cfg["pattern"])):
            if cfg["format"] == "csv":
                with open(path, newline="", encoding=cfg["encoding"]) as fh:
                    ids[vendor] += [r[id_col] for r in csv.DictReader(fh, delimiter=cfg["delimiter"])]
            elif cfg["format"] == "jsonl":
                ids[vendor] += [json.loads(line)[id_col] for line in path.read_text(encoding="utf-8").splitlines()]
            else:
                rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
                ids[vendor] += [str(r[rows[0].index(id_col)]) for r in rows[1:]]
    return ids


def test_truth_and_export_cover_every_source_record(small_world):
    home = small_world.home
    truth = _truth_rows(home)
    keys = [(r["source"], r["source_record_id"]) for r in truth]
    assert len(keys) == len(set(keys))
    assert [(r["source"], r["source_record_id"]) for r in _export_rows(home)] == keys
    assert list(_export_rows(home)[0]) == list(W.RESOLVE_COLUMNS)

    served = {("ats", str(c["id"])) for c in json.loads((home / "sandbox" / "ats" / "candidates.json").read_text())}
    for vendor, ids in _vendor_ids(home, W._vendor_configs()).items():
        assert len(ids) == len(set(ids))
        served |= {(vendor, i) for i in ids}
    subs, _ = _store_rows(home)
    served |= {(s[1], str(s[0])) for s in subs}
    assert served == set(keys)
    assert len({r["true_person_id"] for r in truth}) == small_world.truth["people"]


def test_vendor_files_read_with_their_declared_formats(small_world):
    from openpyxl import load_workbook

    cfgs = W._vendor_configs()
    defects = {d["source_record_id"] for v in W.VENDORS for d in small_world.truth["vendors"][v]["defective_rows"]}
    tdb = cfgs["talentdb"]
    path = sorted((small_world.home / "landing" / "vendors" / "talentdb").glob("*.csv"))[1]
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(tdb["columns"])
    for r in rows:
        if r["CandidateID"] not in defects:
            datetime.strptime(r["LastUpdated"], tdb["date_format"])
    line = sorted((small_world.home / "landing" / "vendors" / "hirewire").glob("*.jsonl"))[1].read_text().splitlines()[0]
    hw = json.loads(line)
    assert set(hw) == {c.split(".")[0] for c in cfgs["hirewire"]["columns"]} and isinstance(hw["contact"], dict)
    assert isinstance(hw["skills"], list) and hw["location"].count(",") >= 1
    datetime.fromisoformat(hw["modified"].replace("Z", "+00:00"))
    path = sorted((small_world.home / "landing" / "vendors" / "eurocv").glob("*.xlsx"))[0]
    rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert list(rows[0]) == list(cfgs["eurocv"]["columns"])
    updated = rows[0].index("Updated")
    assert all(datetime.strptime(r[updated], "%d.%m.%Y") for r in rows[1:] if r[0] not in defects)


def test_records_vary_like_real_duplicates_and_hard_negatives_exist(small_world):
    rows = _export_rows(small_world.home)
    truth = {(r["source"], r["source_record_id"]): r["true_person_id"] for r in _truth_rows(small_world.home)}
    by_person = defaultdict(list)
    for r in rows:
        by_person[truth[(r["source"], r["source_record_id"])]].append(r)
    multi = [rs for rs in by_person.values() if len(rs) > 1]
    firsts = sum(len({r["first_name"] for r in rs}) > 1 for rs in multi)
    emails = sum(len({r["email"] for r in rs if r["email"]}) > 1 for rs in multi)
    assert firsts > 0.05 * len(multi) and emails > 0.15 * len(multi)
    assert any("+" in r["email"] for r in rows) and any(not r["phone"] for r in rows)
    assert len({len("".join(ch for ch in r["phone"] if ch.isdigit())) for r in rows if r["phone"]}) > 3
    # the same name in the same city, belonging to different people
    owners = defaultdict(set)
    for r in rows:
        owners[(r["first_name"], r["last_name"], r["city"])].add(truth[(r["source"], r["source_record_id"])])
    assert any(len(o) > 1 for o in owners.values())
    pairs = small_world.truth["hard_negatives"]["pairs"]
    assert {k for _, _, k in pairs} == {"namesake", "relative"}


def test_phones_parse_and_emails_look_real(small_world):
    rows = _export_rows(small_world.home)
    region = {"United States": "US", "US": "US", "USA": "US", "Canada": "CA", "CA": "CA", "United Kingdom": "GB",
              "UK": "GB", "GB": "GB", "Germany": "DE", "Deutschland": "DE", "DE": "DE", "France": "FR", "FR": "FR",
              "India": "IN", "IN": "IN"}
    phones = [(r["phone"], region.get(r["country"], "US")) for r in rows if r["phone"]]
    valid = sum(phonenumbers.is_valid_number(phonenumbers.parse(p, reg)) for p, reg in phones)
    assert valid / len(phones) > 0.97
    domains = Counter(r["email"].strip().lower().rsplit("@", 1)[-1] for r in rows if "@" in r["email"])
    assert domains.most_common(1)[0][0] == "gmail.com"


def test_web_store_holds_forms_and_events_as_the_web_service_writes_them(small_world):
    subs, events = _store_rows(small_world.home)
    con = sqlite3.connect(small_world.home / "web" / "web.sqlite")
    con.row_factory = sqlite3.Row
    tn = con.execute("select * from form_submissions where form='talent_network'").fetchall()
    refs = con.execute("select * from form_submissions where form='referral'").fetchall()
    ev = con.execute("select * from email_events").fetchall()
    con.close()
    t = small_world.truth
    assert sum(r["confirmed_at"] is None for r in tn) == t["talent_network"]["pending"]
    assert all(r["consent_marketing"] == 1 and r["consent_wording_hash"] for r in tn)
    assert all(r["referrer_email"].endswith("@warmpool.example") and r["relationship"] for r in refs)
    times = [s[2] for s in subs]  # (submission_id, form, submitted_at, ...) in id order
    assert times == sorted(times)  # ids increase with time, as a live service would assign them
    assert len({e["provider_event_id"] for e in ev}) == len(ev) == t["email_events"]["total"]
    assert all(e["campaign_id"].startswith("cmp-") for e in ev)
    assert {e["bounce_type"] for e in ev if e["event"] == "bounce"} <= {"hard", "soft"}


def test_ats_files_are_harvest_shaped(small_world):
    ats = small_world.sandbox_dir / "ats"
    data = {e: json.loads((ats / f"{e}.json").read_text()) for e in
            ("candidates", "applications", "jobs", "users", "sources", "offers", "rejection_reasons")}
    for rows in data.values():
        ids = [r["id"] for r in rows]
        assert ids == sorted(ids) and len(ids) == len(set(ids))
    cand_ids = {c["id"] for c in data["candidates"]}
    job_ids = {j["id"] for j in data["jobs"]}
    assert {a["candidate_id"] for a in data["applications"]} <= cand_ids
    assert {j["id"] for a in data["applications"] for j in a["jobs"]} <= job_ids
    assert sum(len(c["application_ids"]) for c in data["candidates"]) == len(data["applications"])
    assert {s["type"]["name"] for s in data["sources"]} == {"Job Boards", "Referrals", "Agencies", "Prospecting",
                                                             "Company Marketing", "Other"}
    for a in data["applications"]:
        assert a["status"] in ("active", "rejected", "hired")
        assert a["applied_at"] <= a["last_activity_at"] <= "2026-11-01T00:00:00Z"
        hist = a["stage_history"]
        assert [h["stage_name"] for h in hist] == W.V.STAGES[:len(hist)]
        assert all(h["exited_at"] is not None for h in hist[:-1])
        if a["status"] == "rejected":
            assert a["rejection_reason"] and a["rejected_at"]
        if a["status"] == "hired":
            assert hist[-1]["stage_name"] == "Hired"
    assert len(data["users"]) >= 5 and len(data["jobs"]) >= 20


def test_one_mailbox_never_belongs_to_two_people(small_world):
    """Gmail ignores dots, and a company numbers a second john.smith@: two different people never
    reach the same mailbox, whatever spelling a record uses (otherwise the truth itself would be
    wrong and matching scores would be meaningless)."""
    import random

    import numpy as np

    from sandbox.world import _PeopleFactory
    from warmpool.identity.normalize import email_value

    # Many namesakes, as in a 1M-people pool: each gets a mailbox of their own.
    factory = _PeopleFactory(random.Random(5), np.random.default_rng(5), 5, 1000)
    personal = [factory.personal_email("Julie", "Cross", "US") for _ in range(3000)]
    work = [factory.work_email("julie.cross", "acme.example") for _ in range(50)]
    assert len({email_value(e) for e in personal + work}) == len(personal) + len(work)

    # ... and in the generated world, whatever spelling a record uses.
    truth = {(r["source"], r["source_record_id"]): r["true_person_id"] for r in _truth_rows(small_world.home)}
    owners = defaultdict(set)
    for r in _export_rows(small_world.home):
        if key := email_value(r["email"]):
            owners[key].add(truth[(r["source"], r["source_record_id"])])
    shared = {k: o for k, o in owners.items() if len(o) > 1}
    assert len(owners) > 1000 and not shared, list(shared.items())[:5]
