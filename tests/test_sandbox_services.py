"""The ATS API simulator and the SMTP sink over real sockets."""
from __future__ import annotations

import json
import re
import smtplib
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import httpx
import pytest

KEY = "sandbox-harvest-key"


@pytest.fixture
def api(sandbox_services):
    client = httpx.Client(base_url=sandbox_services.ats_url, auth=(KEY, ""), timeout=10)
    yield client
    httpx.delete(f"{sandbox_services.ats_root}/_sim/faults")  # never leak faults into the next test
    client.close()


def _next(link: str | None) -> str | None:
    m = re.search(r'<([^>]+)>;\s*rel="next"', link or "")
    return m.group(1) if m else None


def _served(small_world, endpoint):
    return json.loads((small_world.sandbox_dir / "ats" / f"{endpoint}.json").read_text())


def test_requires_basic_auth_with_the_key(sandbox_services):
    assert httpx.get(f"{sandbox_services.ats_url}/candidates").status_code == 401
    r = httpx.get(f"{sandbox_services.ats_url}/candidates", auth=("wrong-key", ""))
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize("endpoint", ["candidates", "applications", "jobs", "users", "offers", "sources",
                                      "rejection_reasons"])
def test_link_pagination_returns_every_row_once(api, small_world, endpoint):
    url, ids, pages = f"/{endpoint}?per_page=97", [], 0
    while url:
        r = api.get(url)
        assert r.status_code == 200 and int(r.headers["X-RateLimit-Remaining"]) >= 0
        ids += [row["id"] for row in r.json()]
        url = _next(r.headers.get("Link"))
        pages += 1
        if url:
            assert 'rel="last"' in r.headers["Link"]
    expected = [row["id"] for row in _served(small_world, endpoint)]
    assert ids == expected and pages == max(1, -(-len(expected) // 97))


def test_updated_after_and_created_after_filter(api, small_world):
    cands = _served(small_world, "candidates")
    cut = sorted(c["updated_at"] for c in cands)[len(cands) // 2]
    got = api.get("/candidates", params={"per_page": 500, "updated_after": cut}).json()
    got += api.get("/candidates", params={"per_page": 500, "page": 2, "updated_after": cut}).json()
    assert {c["id"] for c in got} == {c["id"] for c in cands if c["updated_at"] >= cut}
    apps = _served(small_world, "applications")
    cut = sorted(a["last_activity_at"] for a in apps)[-50]
    for param in ("updated_after", "last_activity_after"):
        got = api.get("/applications", params={"per_page": 500, param: cut.replace("Z", "+00:00")}).json()
        assert {a["id"] for a in got} == {a["id"] for a in apps if a["last_activity_at"] >= cut}
    cut = sorted(c["created_at"] for c in cands)[-10]
    assert len(api.get("/candidates", params={"created_after": cut}).json()) >= 10
    assert api.get("/candidates", params={"per_page": 501}).status_code == 422


def test_rate_limit_answers_429_with_retry_after(api, sandbox_services):
    httpx.post(f"{sandbox_services.ats_root}/_sim/faults", json={"rate_limit": 3, "rate_window_seconds": 30})
    codes = [api.get("/jobs") for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[0].headers["X-RateLimit-Limit"] == "3" and codes[2].headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(codes[3].headers["Retry-After"]) <= 30


def test_faults_on_demand(api, sandbox_services):
    sim = f"{sandbox_services.ats_root}/_sim/faults"
    httpx.post(sim, json={"status_500_every": 2}).raise_for_status()
    assert [api.get("/users").status_code for _ in range(4)] == [200, 500, 200, 500]
    httpx.post(sim, json={"rate_limit_every": 3, "retry_after": 2})
    r = [api.get("/users") for _ in range(3)][-1]
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    httpx.post(sim, json={"drop_every": 1})
    with pytest.raises(httpx.TransportError):
        api.get("/users")
    httpx.post(sim, json={"delay_seconds": 0.3})
    t0 = time.perf_counter()
    assert api.get("/users").status_code == 200 and time.perf_counter() - t0 >= 0.3
    assert httpx.post(sim, json={"no_such_fault": 1}).status_code == 422
    httpx.delete(sim)
    assert all(api.get("/users").status_code == 200 for _ in range(5))


def test_smtp_sink_stores_real_mime_messages(sandbox_services):
    msg = EmailMessage()
    msg["From"] = "Warmpool Talent <talent@warmpool.example>"
    msg["To"] = "José Müller <jose.mueller@example.com>"
    msg["Subject"] = "Nouveaux postes à Paris"
    msg["Message-ID"] = "<sandbox-test-1@warmpool.example>"
    msg["List-Unsubscribe"] = "<https://warmpool.example/u/abc>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content("Bonjour José")
    msg.add_alternative("<p>Bonjour José</p>", subtype="html")
    with smtplib.SMTP(sandbox_services.smtp_host, sandbox_services.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    parser = BytesParser(policy=policy.default)
    found = [parser.parsebytes(p.read_bytes()) for p in sandbox_services.mailbox_dir.glob("*.eml")]
    mail = next(m for m in found if m["Message-ID"] == "<sandbox-test-1@warmpool.example>")
    assert mail["Subject"] == "Nouveaux postes à Paris" and mail.is_multipart()
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bonjour José" in mail.get_body(("plain",)).get_content()


def test_concurrent_mail_gets_unique_files(tmp_path):
    from sandbox.smtp_sink import SmtpSink

    with SmtpSink(tmp_path / "mailbox", port=0) as sink:
        def send(i):
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "a@warmpool.example", f"r{i}@example.com", f"m{i}"
            m.set_content(str(i))
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
                s.send_message(m)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    files = sorted((tmp_path / "mailbox").glob("*.eml"))
    assert len(files) == 12 and not list((tmp_path / "mailbox").glob(".*"))
    assert {BytesParser().parsebytes(f.read_bytes())["Subject"] for f in files} == {f"m{i}" for i in range(12)}


def test_services_start_on_free_ports_and_stop(small_world):
    from sandbox.services import SandboxServices

    settings = small_world.settings()
    with SandboxServices(settings, ats_port=0, smtp_port=0) as a, SandboxServices(settings, ats_port=0, smtp_port=0) as b:
        assert a.ats_port != b.ats_port and a.smtp_port != b.smtp_port
        assert httpx.get(f"{b.ats_url}/jobs", auth=(KEY, "")).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{a.ats_url}/jobs", auth=(KEY, ""), timeout=2)
