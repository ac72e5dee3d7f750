"""Campaign sending and planning, each beside a baseline of the same run.

1. Messages per second with everything on (rendering the personalised templates, the send ledger's
   exactly-once transactions, the send-time suppression check against a web store holding 5,000
   suppressed addresses, frequency cap) through `send_campaign` over `campaigns.connections` SMTP
   connections (BENCH_CONNECTIONS, default 4), beside plain `smtplib` sending the same number of
   pre-built messages over one connection, both to the sandbox's loopback SMTP server (aiosmtpd,
   which fsyncs every message it stores) run in a child process: a real relay never shares the
   sender's interpreter lock, and in one process the server's turn waited on the sender's threads.
2. The time to plan a 1M-person audience (segment compiled to SQL over a 1M-row dim_candidates in
   DuckDB, then the ledger's plan of every member), beside reading those 1M rows alone.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.common import BenchResult
from sandbox.smtp_sink import SmtpSink
from warmpool import web_store
from warmpool.campaigns.config import load_campaigns
from warmpool.campaigns.ledger import SendLedger
from warmpool.campaigns.message import build_message
from warmpool.campaigns.sender import send_campaign
from warmpool.config import AtsSettings, Settings, SmtpSettings
from warmpool.segments import compile_segment, parse_segment

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))


def run(quick: bool) -> list[BenchResult]:
    # links in the mails are signed: a throwaway secret for this process (the sandbox's needs demo mode)
    os.environ.setdefault("WARMPOOL_SECRET_KEY", secrets.token_urlsafe(32))
    return [_sending(400 if quick else 3000), _planning(50_000 if quick else 1_000_000)]


def _members(n: int, campaign_id: str) -> list[dict]:
    return [{"campaign_id": campaign_id, "person_id": f"p-{i:07d}", "email": f"person{i}@example.com",
             "first_name": f"Name{i}", "last_name": "Lovelace", "city": "London", "country": "UK",
             "job_family": "Engineering", "person_email_keys": f"person{i}@example.com"} for i in range(n)]


def _sending(n: int) -> BenchResult:
    campaign = next(c for c in load_campaigns() if c.campaign_id == "tn-engineering-nurture")
    with tempfile.TemporaryDirectory() as tmp, _sink_process(Path(tmp) / "mailbox") as port:
        home = Path(tmp)
        settings = Settings(home=home, ats=AtsSettings(base_url="http://unused", api_key="unused"),
                            smtp=SmtpSettings(host="127.0.0.1", port=port,
                                              public_base_url="https://talent.warmpool.example"),
                            raw={"campaigns": {"rate_per_second": 0, "connections": CONNECTIONS}})
        with web_store.store(settings.web_store_path) as con:  # a realistic suppression list to check against
            web_store.insert_email_events(con, [
                {"provider_event_id": f"u{i}", "provider": "bench", "event": "unsubscribe",
                 "email": f"gone{i}@example.com", "occurred_at": "2026-01-01T00:00:00Z"} for i in range(5000)])
        members = _members(n, campaign.campaign_id)

        # baseline: the same number of pre-built messages over one plain smtplib connection
        built = [build_message(campaign, m, settings.smtp, to_addr=m["email"], now=NOW).data
                 for m in _members(n, "baseline")]
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for m, data in zip(members, built):
                smtp.sendmail("talent@warmpool.example", [m["email"]], data)
        baseline = n / (time.perf_counter() - started)

        started = time.perf_counter()
        report = send_campaign(campaign, members, settings, clock=lambda: NOW)
        figure = n / (time.perf_counter() - started)
        if report.sent != n:
            raise RuntimeError(f"campaign bench: sent {report.sent} of {n}: {report.describe()}")
    return BenchResult(
        what="campaign send, everything on (render, ledger, send-time suppression, cap)",
        size=f"{n:,} messages", figure=figure, unit="msg/s",
        baseline_what="plain smtplib, pre-built messages, one connection, same server", baseline_figure=baseline,
        note=f"{CONNECTIONS} SMTP connections; loopback aiosmtpd sink in a child process (fsync per stored "
             "message); goal: ratio >= 0.9")


# The child: start the sink on a free port, say which, serve until our stdin closes.
_SINK_CHILD = """
import sys
from pathlib import Path
from sandbox.smtp_sink import SmtpSink
with SmtpSink(Path(sys.argv[1]), port=0) as sink:
    print(sink.port, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _sink_process(mailbox: Path):
    """The sandbox's SMTP sink in a child process; yields its port."""
    proc = subprocess.Popen([sys.executable, "-c", _SINK_CHILD, str(mailbox)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"campaign bench: the SMTP sink did not start (said {line!r})")
        yield int(line)
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _planning(n: int) -> BenchResult:
    segment = parse_segment({"segment": "bench", "version": 1, "where": {"all": [
        {"job_family": ["engineering", "data"]}, {"heat_band": ["hot", "warm", "cold"]},
        {"not": {"talent_type": ["alumni"]}}, {"last_activity": {"within_days": 3650}}]}})
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        con.execute("create schema marts")
        con.execute(f"""create table marts.dim_candidates as select
            'p-' || lpad(cast(i as varchar), 7, '0') as person_id,
            case i % 4 when 0 then 'Engineering' when 1 then 'Data' when 2 then 'Sales' else 'Design' end as job_family,
            case i % 3 when 0 then 'hot' when 1 then 'warm' else 'cold' end as heat_band,
            'person' || i || '@example.com' as marketing_email, i % 50 = 0 as is_hired,
            cast(0 as bigint) as application_count, 'ats' as sources, false as is_silver_medalist,
            timestamp '2026-01-01' - to_days(cast(i % 400 as integer)) as last_activity_at
            from range({n}) t(i)""")
        started = time.perf_counter()
        rows = con.execute("select person_id, marketing_email from marts.dim_candidates").fetchall()
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        compiled = compile_segment(segment, NOW)
        members = con.execute(f"select c.person_id, c.marketing_email from marts.dim_candidates c "
                              f"where {compiled.predicate}", compiled.params).fetchall()
        with SendLedger(Path(tmp) / "ledger.sqlite") as ledger:
            ledger.plan("bench", "v1", ((pid, email, email, None) for pid, email in members), NOW)
        figure = time.perf_counter() - started
        con.close()
    return BenchResult(
        what="plan an audience: segment SQL over dim_candidates + ledger plan of every member",
        size=f"{n:,} people ({len(members):,} selected)", figure=figure, unit="s",
        baseline_what=f"read the {len(rows):,} rows alone", baseline_figure=baseline)
