"""Loopback load generator for ``make bench``: sustained talent-network submissions per second with
0 lost, beside the same server's static-page rate. Bounded in count and time.

The server runs in its own process (uvicorn, one worker) so the client threads do not share its
GIL. Bot defences that would refuse a load generator by design (minimum fill time, per-IP rate
limit, per-address mail cap) are relaxed for the run, and mail goes to a counting null mailer:
this measures the web service and its durable store, not an SMTP relay.

    python -m web.loadgen --submissions 1000 --concurrency 8
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from warmpool import web_store as store
from web.app import create_app
from web.context import WebOptions
from web.server import free_port


class _NullMailer:
    def send(self, message) -> None:  # counted by web_mail_log rows
        pass


def bench_app():
    """uvicorn --factory entry point for the benchmark server."""
    return create_app(mailer=_NullMailer(), options=WebOptions(min_fill_seconds=0, submissions_per_minute=10**9,
                                                               confirm_mails_per_day=10**9))


@contextmanager
def bench_server() -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """The benchmark server in its own uvicorn process (one worker) with a private WARMPOOL_HOME:
    yields (base URL, process, home); stopped and removed on exit."""
    home = Path(tempfile.mkdtemp(prefix="warmpool-bench-web-"))
    port = free_port()
    env = dict(os.environ, WARMPOOL_HOME=str(home), WARMPOOL_DEMO="1")  # a loopback sandbox server
    env.pop("WARMPOOL_WEB_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "web.loadgen:bench_app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("bench server did not start")
                time.sleep(0.1)
        yield base, proc, home
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)  # the run's private WARMPOOL_HOME


def measure(submissions: int = 1000, concurrency: int = 8, static_requests: int = 2000,
            time_limit: float = 60.0) -> dict:
    with bench_server() as (base, _proc, home):
        def run(n: int, job) -> tuple[float, int, int]:
            ok = failed = 0
            lock = threading.Lock()
            stop_at = time.monotonic() + time_limit
            per_worker = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]

            def worker(i: int) -> None:
                nonlocal ok, failed
                with httpx.Client(base_url=base, timeout=30) as client:
                    state = {}
                    for j in range(per_worker[i]):
                        if time.monotonic() > stop_at:
                            break
                        good = job(client, state, i, j)
                        with lock:
                            ok += good
                            failed += not good

            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(worker, range(concurrency)))
            return time.perf_counter() - start, ok, failed

        def static(client, state, i, j) -> bool:
            return client.get("/static/style.css").status_code == 200

        def submit(client, state, i, j) -> bool:
            if "token" not in state:
                page = client.get("/talent-network")
                state["token"] = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            r = client.post("/talent-network", data={
                "csrf_token": state["token"], "first_name": f"Load{i}", "last_name": f"Test{j}",
                "email": f"load-{i}-{j}@example.com", "country": "US", "job_families": "engineering",
                "skills": "python, sql", "consent": "yes"})
            return r.status_code == 200

        static_s, static_ok, _ = run(static_requests, static)
        form_s, form_ok, form_failed = run(submissions, submit)
        with store.store(home / "web" / "web.sqlite") as con:
            stored = store.count_rows(con, "form_submissions")
        return {
            "submissions_sent": form_ok + form_failed, "submissions_acknowledged": form_ok,
            "submissions_stored": stored, "lost": max(0, form_ok - stored) + form_failed,
            "submissions_per_second": round(form_ok / form_s, 1),
            "static_requests": static_ok, "static_per_second": round(static_ok / static_s, 1),
            "concurrency": concurrency,
        }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--submissions", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--static", type=int, default=2000)
    a = ap.parse_args()
    print(json.dumps(measure(a.submissions, a.concurrency, a.static), indent=2))
