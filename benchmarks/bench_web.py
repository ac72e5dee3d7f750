"""The candidate-facing web service under load: sustained talent-network submissions per second with
0 lost, beside the same server's static-page rate (measured in the same run).

`web.loadgen.measure` starts the app in its own uvicorn process (one worker) on a loopback port with
a private WARMPOOL_HOME, drives it from client threads, and counts the rows that reached the SQLite
store afterwards: "lost" is acknowledged-but-not-stored plus any failed request. Bounded in count
and in time (each phase stops at its time limit). A run with a loss fails rather than report a
figure: the figure is only meaningful at 0 lost.
"""
from __future__ import annotations

from benchmarks.common import BenchResult


def run(quick: bool) -> list[BenchResult]:
    from web.loadgen import measure

    submissions, static, limit = (300, 1000, 30.0) if quick else (2000, 4000, 120.0)
    concurrency = 8
    m = measure(submissions=submissions, concurrency=concurrency, static_requests=static, time_limit=limit)
    if m["lost"]:
        raise RuntimeError(f"web load: {m['lost']} submissions lost: {m}")
    note = (f"{m['submissions_acknowledged']:,} acknowledged, {m['submissions_stored']:,} stored, 0 lost; "
            f"{concurrency} client threads, 1 uvicorn worker, SQLite WAL, CSRF on, mail to a null mailer")
    return [BenchResult(
        what="talent-network form submissions (CSRF, validation, durable write)",
        size=f"{m['submissions_sent']:,} submissions",
        figure=m["submissions_per_second"], unit="req/s",
        baseline_what=f"static page, same server ({m['static_requests']:,} requests)",
        baseline_figure=m["static_per_second"],
        note=note,
    )]
