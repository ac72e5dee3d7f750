"""The candidate-facing web service under load, two measurements, each beside a baseline of the same run.

1. Sustained talent-network submissions per second with 0 lost, beside the same server's static-page
   rate. `web.loadgen.measure` starts the app in its own uvicorn process (one worker) on a loopback
   port with a private WARMPOOL_HOME, drives it from client threads, and counts the rows that reached
   the SQLite store afterwards: "lost" is acknowledged-but-not-stored plus any failed request. A run
   with a loss fails rather than report a figure.
2. Hostile resume uploads (issue 11): three client threads keep uploading expensive files (a DOCX that
   unpacks into ~29 MB of XML, a PDF with 300,000 text operators) while a load generator fetches form
   pages; the pages' p95 latency and the peak extra memory of the server and its resume-reading
   children, beside the same pages with no uploads. Bounded in time; the server is the benchmark's own.
"""
from __future__ import annotations

import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil

from benchmarks.common import BenchResult
from sandbox import hostile_resumes as hostile


def run(quick: bool) -> list[BenchResult]:
    return _submissions(quick) + _hostile_uploads(quick)


def _submissions(quick: bool) -> list[BenchResult]:
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


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a resume reader that just ended
            pass
    return total


def _pages_phase(base: str, server: psutil.Process, seconds: float, uploads: list[bytes]) -> dict:
    """Fetch form pages from 2 client threads for ``seconds`` while ``uploads`` are posted over and over
    from one thread each; page latencies, peak extra memory of the server tree, upload answers."""
    stop = threading.Event()
    latencies: list[float] = []
    answers: list[int] = []
    idle_rss = _tree_rss(server)
    peak = {"rss": idle_rss}

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], _tree_rss(server))
            time.sleep(0.05)

    def fetch_pages() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                for path in ("/talent-network", "/referral", "/"):
                    started = time.perf_counter()
                    ok = client.get(path).status_code == 200
                    latencies.append(time.perf_counter() - started if ok else float("inf"))

    def upload(data: bytes) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            while not stop.is_set():
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/talent-network").text).group(1)
                r = client.post("/talent-network", files={"resume": ("cv", data, "application/octet-stream")}, data={
                    "csrf_token": token, "first_name": "Mallory", "last_name": "Upload", "email": "m@example.com",
                    "country": "US", "job_families": "engineering", "consent": "yes"})
                answers.append(r.status_code)

    threads = [threading.Thread(target=sample)] + [threading.Thread(target=upload, args=(d,)) for d in uploads]
    for t in threads:
        t.start()
    if uploads:
        time.sleep(1.0)  # the uploads are being read before the pages are timed
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(fetch_pages) for _ in range(2)]
        time.sleep(seconds)
        stop.set()
        for f in futures:
            f.result()
    for t in threads:
        t.join()
    return {"p95_ms": statistics.quantiles(latencies, n=20)[18] * 1000, "pages": len(latencies),
            "failed_pages": sum(1 for x in latencies if x == float("inf")),
            "extra_mb": (peak["rss"] - idle_rss) / 2**20, "answers": answers}


def _hostile_uploads(quick: bool) -> list[BenchResult]:
    from web.loadgen import bench_server

    seconds = 15.0 if quick else 45.0
    files = [hostile.docx_xml_flood(), hostile.pdf_operator_flood(), hostile.docx_xml_flood()]
    with bench_server() as (base, proc, _home):
        server = psutil.Process(proc.pid)
        quiet = _pages_phase(base, server, seconds, [])
        loaded = _pages_phase(base, server, seconds, files)
    if loaded["failed_pages"] or quiet["failed_pages"] or any(code >= 500 for code in loaded["answers"]):
        raise RuntimeError(f"web hostile uploads: pages or uploads failed: {loaded}")
    refused = sum(1 for code in loaded["answers"] if code == 400)
    note = (f"3 client threads uploading {', '.join(f'{len(f) // 1024} KB' for f in files)} files over and over "
            f"({len(loaded['answers'])} uploads answered, {refused} refused with a message, 0 errors) while 2 threads "
            f"fetch 3 form pages for {seconds:.0f} s ({loaded['pages']:,} pages; {quiet['pages']:,} without uploads); "
            "resumes read by one child process at a time (5 s CPU, 256 MB, 20 s wall), 4 waiting at most; "
            "goals: p95 < 200 ms, < 500 MB extra")
    return [
        BenchResult(what="form page p95 latency during 3 concurrent hostile resume uploads",
                    size=f"{loaded['pages']:,} pages", figure=loaded["p95_ms"], unit="ms",
                    baseline_what="the same pages, no uploads", baseline_figure=quiet["p95_ms"], note=note),
        BenchResult(what="peak extra memory (server + resume readers) during the uploads",
                    size=f"{len(loaded['answers'])} uploads", figure=loaded["extra_mb"], unit="MB",
                    baseline_what="the same pages, no uploads", baseline_figure=quiet["extra_mb"],
                    note="resident memory of the uvicorn process and its children, sampled every 50 ms, "
                         "above the idle server"),
    ]
