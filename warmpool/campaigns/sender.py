"""Send a campaign to its audience over SMTP, exactly once per (campaign, person, content version).

The order of operations is what makes a crash safe (see ``ledger.py``)::

    plan every member (insert-or-ignore) → recover expired leases → for each batch of planned rows:
      claim (lease) → re-check suppression → build the mail → [rate limit] → in one ledger transaction
      (several rows at once with several connections): duplicate check, frequency cap, the day's limit of
      mails, mark submitted with the Message-ID → SMTP MAIL/RCPT/DATA → mark accepted (with the next
      transaction)

A failure after ``submitted`` is never retried blindly: the row becomes ``ambiguous`` (at once when
the process survives, after the lease expires when it does not) and is reported.

SMTP goes through ``warmpool.mail.SmtpClient`` against ``settings.smtp`` (any provider's relay, or the
sandbox server); its outcome classes (refused / not sent / delivery unknown) decide the ledger state.
"""
from __future__ import annotations

import datetime as dt
import inspect
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from warmpool import web_store
from warmpool.campaigns.config import Campaign
from warmpool.campaigns.guard import check_reputation
from warmpool.campaigns.ledger import SendIntent, SendLedger
from warmpool.campaigns.message import build_message
from warmpool.config import Settings, get_settings
from warmpool.consent import ConsentRules, Suppression, events_from_store, load_rules, suppressions_by_address
from warmpool.emails import InvalidEmail, canonical_email, normalize_email
from warmpool.mail import DeliveryUnknown, NotSent, Refused, SmtpClient, SmtpUnreachable, check_header
from warmpool.mail.dkim import dkim_signer
from warmpool.tokens import secret_key

DEFAULT_RATE_PER_SECOND = 10.0
DEFAULT_LEASE_SECONDS = 900
DEFAULT_BATCH_SIZE = 50
# SMTP connections used at once (``campaigns.connections``). More than one keeps the server busy while
# the next mails are built and marked submitted, several per disk sync; a crash then leaves up to this
# many rows ambiguous instead of one. The rate limit holds across all of them.
DEFAULT_CONNECTIONS = 1
# Stop the run after this many permanent refusals in a row: a relay rejecting everything (content
# blocked, account paused) must not burn through the whole audience and the sender's reputation.
DEFAULT_MAX_CONSECUTIVE_FAILURES = 10

FaultHook = Callable[[str, dict], None]


class _WebStore:
    """Marker type of the default ``suppressed`` argument."""

    def __repr__(self) -> str:
        return "WEB_STORE_SUPPRESSION"


WEB_STORE_SUPPRESSION: Any = _WebStore()


def open_ledger(settings: Settings) -> SendLedger:
    """The deployment's send ledger, hashing forgotten people with its secret."""
    return SendLedger(settings.campaign_ledger_path, pseudonym_key=secret_key())


class SendAborted(RuntimeError):
    """The run stopped early (relay unreachable or refusing everything); nothing unsent was lost."""


@dataclass
class SendReport:
    """What the audience's ledger rows look like after this run, plus what this run did.

    ``sent``, ``deferred_by_cap``, ``deferred_by_daily_limit`` and ``retry_later`` count this run's
    actions; the other counts are the campaign version's state for this audience after the run (so a
    re-run reports what earlier runs did as ``skipped_already_sent``, and unresolved ``ambiguous`` rows
    stay visible).
    """
    campaign_id: str
    content_version: str
    planned: int = 0               # audience members with a ledger row for this version
    sent: int = 0                  # accepted by the SMTP server in this run
    skipped_already_sent: int = 0  # accepted in an earlier run, or the address got it under another person id
    suppressed: int = 0            # suppressed when their turn came (unsubscribed, bounced, ...)
    deferred_by_cap: int = 0       # left planned: mailed by some campaign within the cap window
    deferred_by_daily_limit: int = 0  # left planned: the day's limit (campaigns.daily_limit) was reached
    ambiguous: int = 0             # may or may not have been delivered: reconcile, never resend blindly
    reconciled: int = 0            # ambiguous rows settled in this run by the provider's events for them
    failed: int = 0                # invalid address or permanent (5xx) refusal
    retry_later: int = 0           # temporary (4xx) refusal or connection lost before data: still planned
    in_flight: int = 0             # leased by another run that is still going
    note: str = ""
    message_ids: list[str] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        parts = [f"{self.campaign_id} v{self.content_version}: planned {self.planned}", f"sent {self.sent}",
                 f"already sent {self.skipped_already_sent}", f"suppressed {self.suppressed}",
                 f"deferred by cap {self.deferred_by_cap}", f"deferred by daily limit {self.deferred_by_daily_limit}",
                 f"ambiguous {self.ambiguous}", f"failed {self.failed}"]
        if self.reconciled:
            parts.append(f"reconciled {self.reconciled}")
        if self.retry_later:
            parts.append(f"retry later {self.retry_later}")
        if self.in_flight:
            parts.append(f"in flight elsewhere {self.in_flight}")
        return ", ".join(parts) + (f" ({self.note})" if self.note else "")

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("message_ids")
        return out


def send_campaign(campaign: Campaign, members: Iterable[dict], settings: Settings | None = None,
                  suppressed: set[str] | Callable[..., bool] | None = WEB_STORE_SUPPRESSION, *,
                  rate_per_second: float | None = None, lease_seconds: float | None = None,
                  batch_size: int = DEFAULT_BATCH_SIZE, clock: Callable[[], dt.datetime] | None = None,
                  fault_hook: FaultHook | None = None, smtp_timeout: float = 30.0,
                  max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
                  person_id_map: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                  sequence_step: int | None = None, variants: Mapping[str, str] | None = None,
                  guard: bool = True, connections: int | None = None) -> SendReport:
    """Send ``campaign`` to ``members`` (rows of ``marts.audience_members``); returns a SendReport.

    ``suppressed``: addresses (or person ids) never to mail, or a callable ``(email)`` /
    ``(email, person_id)`` returning True to suppress; it is consulted for each member right before
    sending. By default the web store is read (``WebStoreSuppression``, refreshed every 30 s during a
    run; pass one instance to several sends to read the store once for all of them) and the consent model's suppression rules (``warmpool.consent``) applied to the member's
    address and the person's other addresses (``person_email_keys``). Pass ``None`` for no send-time
    suppression.

    ``fault_hook(step, info)`` is called at ``"claimed"``, ``"submitted"`` (ledger written, before
    SMTP) and ``"accepted"`` (SMTP accepted, before the ledger records it): tests raise there, or
    exit the process, to prove that a crash at any step sends nobody a second mail.
    ``clock`` returns the current aware UTC time (tests move time forward for leases and caps).
    ``person_id_map``: retired person id -> current person id (``identity.person_id_map``); the ledger
    keeps it, so what was sent under a retired id counts for the person it merged into (no second
    mail of a version, caps included). ``None`` keeps the map the ledger already has.
    ``sequence_step`` / ``variants`` (person_id -> A/B variant) are recorded on the ledger rows.
    ``connections``: SMTP connections used at once (default ``campaigns.connections``, else 1); with
    more than one, rows are sent concurrently and a crash may leave one ambiguous row per connection.
    A paused campaign sends nothing; with ``guard`` the reputation guard (``guard.py``) measures the
    campaign's bounce and complaint rates before sending and before every batch, and pauses it at
    its thresholds. ``settings.campaign_daily_limit`` (``campaigns.daily_limit``) caps the mails of every
    campaign per UTC day of ``clock``; members beyond it stay planned (``deferred_by_daily_limit``).
    """
    settings = settings or get_settings()
    options = (settings.raw or {}).get("campaigns") or {}
    clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    rate = float(options.get("rate_per_second", DEFAULT_RATE_PER_SECOND) if rate_per_second is None else rate_per_second)
    lease = dt.timedelta(seconds=float(options.get("lease_seconds", DEFAULT_LEASE_SECONDS)
                                       if lease_seconds is None else lease_seconds))
    hook = fault_hook or (lambda step, info: None)
    n_connections = max(1, int(options.get("connections", DEFAULT_CONNECTIONS) if connections is None else connections))
    daily_limit = settings.campaign_daily_limit  # validated here: a bad value stops the send before any planning
    version = campaign.content_version
    report = SendReport(campaign.campaign_id, version)

    # Refuse unsafe headers before anything is planned or sent.
    check_header("Subject", campaign.subject)
    check_header("From", settings.smtp.sender)

    audience = _audience(campaign, members)
    person_ids = list(audience)
    ledger = open_ledger(settings)
    try:
        if person_id_map is not None:
            ledger.set_person_ids(person_id_map.items() if isinstance(person_id_map, Mapping) else person_id_map)
        now = clock()
        plan_rows = []
        addresses: dict[str, tuple[str, str] | str] = {}  # person_id -> (address, canonical) or why invalid
        # Members whose row for this version is settled (sent, failed, suppressed, ...) are done: a daily
        # run checks and plans only the members new to the version or still open, not the whole audience.
        settled = ledger.settled(campaign.campaign_id, version)
        for pid, member in audience.items():
            if pid in settled:
                continue
            try:
                address = normalize_email(member.get("email"))
                addresses[pid] = (address, canonical_email(address))
                plan_rows.append((pid, *addresses[pid], None))
            except InvalidEmail as exc:
                addresses[pid] = f"invalid address: {exc}"
                plan_rows.append((pid, None, None, addresses[pid]))
        ledger.plan(campaign.campaign_id, version, plan_rows, now, sequence_step=sequence_step, variants=variants)
        ledger.recover_stale(campaign.campaign_id, version, now)
        report.reconciled = _reconcile(ledger, campaign.campaign_id, version, settings, now)

        def paused() -> bool:  # checked before sending and before every batch: a pause stops the run
            ledger.flush()  # the sent marks held for the next transaction count too
            if guard:
                check_reputation(ledger, campaign.campaign_id, settings, clock())
            pause = ledger.paused(campaign.campaign_id)
            if pause:
                report.note = (f"paused since {pause['paused_at']} by {pause['paused_by']}: {pause['paused_reason']} "
                               f"(resume with `warmpool campaign resume {campaign.campaign_id}`)")
            return bool(pause)

        if paused():
            pass
        elif now < campaign.starts_at:
            report.note = f"not started: starts at {campaign.starts_at.isoformat()}"
        else:
            _send_planned(campaign, audience, addresses, person_ids, settings, ledger, report,
                          suppression=_suppression(suppressed, settings, campaign.kind), rate=rate, lease=lease,
                          batch_size=max(1, int(batch_size)), clock=clock, hook=hook, smtp_timeout=smtp_timeout,
                          helo=str(options.get("helo_name") or socket.gethostname()),
                          max_failures=max_consecutive_failures, paused=paused, connections=n_connections,
                          daily_limit=daily_limit)

        ledger.flush()
        states = ledger.states(campaign.campaign_id, version, person_ids)
    finally:
        ledger.close()
    report.planned = len(states)
    for state in states.values():
        if state in ("accepted", "duplicate"):
            report.skipped_already_sent += 1
        elif state == "suppressed":
            report.suppressed += 1
        elif state == "ambiguous":
            report.ambiguous += 1
        elif state == "failed":
            report.failed += 1
        elif state in ("claimed", "submitted"):
            report.in_flight += 1
    report.skipped_already_sent -= report.sent  # this run's accepted rows are `sent`, not skipped
    return report


def _send_planned(campaign: Campaign, audience: dict[str, dict], addresses: dict[str, tuple[str, str] | str],
                  person_ids: list[str], settings: Settings, ledger: SendLedger, report: SendReport, *,
                  suppression: tuple, rate: float, lease: dt.timedelta, batch_size: int, clock, hook: FaultHook,
                  smtp_timeout: float, helo: str, max_failures: int, paused: Callable[[], bool],
                  connections: int, daily_limit: int = 0) -> None:
    """Claim planned rows batch by batch and send them over ``connections`` SMTP connections.

    This thread does all the ledger work: it builds the next mails while the connections (one
    thread each) talk to the server, and marks them ``submitted`` a group at a time, in one
    transaction and one disk sync (group commit), before handing them over; the ``accepted`` marks
    of the mails that came back ride along in that transaction. At most ``connections`` rows are
    ever between ``submitted`` and their outcome, so a crash leaves at most that many ``ambiguous``
    rows, never resent. With one connection the rows go strictly in order, on this thread.

    ``daily_limit`` (``campaigns.daily_limit``; 0: none): the ledger refuses to mark a row submitted
    once the UTC day's mailed rows of every campaign reach it (``SendLedger.begin_sends``, under its
    write lock); each batch claims no more rows than the day has room for, so nothing is built for
    nothing, and once the day is full the run stops claiming. What it did not send stays planned and
    is counted in ``deferred_by_daily_limit``; a later day's run sends it, in the same order.
    """
    cid, version = campaign.campaign_id, campaign.content_version
    planned = ledger.planned(cid, version)
    todo = [pid for pid in person_ids if pid in planned]
    if not todo:  # nothing planned (a daily run without newcomers): no connection, no thread
        return
    if daily_limit and ledger.mailed_on(clock()) >= daily_limit:
        # the day is full already (an earlier campaign or run today): nothing claimed, no connection
        report.deferred_by_daily_limit += len(todo)
        _note_daily_limit(report, daily_limit, clock())
        return
    run = _Run(campaign, audience, addresses, settings, report, suppression=suppression, lease=lease, clock=clock,
               hook=hook, max_failures=max_failures, limiter=_RateLimiter(rate))
    clients = [SmtpClient(settings.smtp, timeout=smtp_timeout, helo=helo) for _ in range(max(1, connections))]
    # Half the connections' rows per group: while a group is built and synced, the other half's mails
    # keep the server busy.
    group_size = max(1, len(clients) // 2)
    handed: queue.Queue = queue.Queue()   # submitted rows for the connections (None: end)
    done: queue.Queue = queue.Queue()     # what each connection made of a row
    threads = [threading.Thread(target=_serve, args=(run, client, handed, done), name=f"campaign-send-{i}",
                                daemon=True) for i, client in enumerate(clients)] if len(clients) > 1 else []
    out = 0  # rows handed to the connections whose outcome has not been settled yet
    ready: list[_Mail] = []

    def settle(mail: "_Mail", outcome: str, detail: Any) -> None:
        nonlocal out
        out -= 1
        _settle(run, ledger, mail, outcome, detail)

    def submit() -> None:
        """Mark the ready rows submitted (room for them first) and hand them to the connections."""
        nonlocal out
        while out + len(ready) > len(clients):
            settle(*done.get())
        while not done.empty():  # their `accepted` marks join this transaction
            settle(*done.get_nowait())
        if run.stop.is_set():
            return
        now = clock()
        outcomes = ledger.begin_sends(cid, version, run.owner, [m.intent for m in ready], now, now + lease,
                                      daily_limit=daily_limit)
        for mail, outcome in zip(ready, outcomes):
            if outcome == "deferred":
                run.count("deferred_by_cap")
            elif outcome == "limited":  # another sender (connection, process, campaign) filled the day first
                run.count("deferred_by_daily_limit")
                run.limited = True
            elif outcome == "ok":
                out += 1
                if threads:
                    handed.put(mail)
                else:
                    settle(*_transmit(run, clients[0], mail))
            # else: duplicate (counted from the ledger) or lease lost to another run
        ready.clear()

    for t in threads:
        t.start()
    try:
        for client in clients:  # before anything is marked: an unreachable relay marks nothing
            try:
                client.connect()
            except SmtpUnreachable as exc:
                raise SendAborted(str(exc)) from exc
        start = 0  # todo[:start] has been claimed (or tried) by this run
        while start < len(todo):
            if run.stop.is_set() or run.limited or (start and paused()):
                break
            take = batch_size
            if daily_limit:  # claim no more than the day has room for (the ledger's check decides, though)
                take = min(take, daily_limit - ledger.mailed_on(clock()))
                if take <= 0:
                    run.limited = True
                    break
            batch, start = todo[start:start + take], start + take
            claimed = set(ledger.claim(cid, version, batch, run.owner, clock() + lease))
            for pid in (p for p in batch if p in claimed):
                if run.stop.is_set() or run.limited:
                    break
                mail = _prepare(run, ledger, pid)
                if mail is not None:
                    ready.append(mail)
                if len(ready) >= group_size:
                    submit()
            if ready and not run.stop.is_set():
                submit()
        if run.limited and not run.stop.is_set():
            # The day is full: the rows this run claimed but did not mark go back to planned, and with the
            # rows it never claimed they wait for a later day's run.
            report.deferred_by_daily_limit += ledger.release_all(cid, version, run.owner) + len(todo) - start
            _note_daily_limit(report, daily_limit, clock())
        while out and not run.stop.is_set():
            settle(*done.get())
    except BaseException as exc:
        run.fail(exc)
    finally:
        for _ in threads:
            handed.put(None)  # each connection ends after what it holds (skipped once the run stopped)
        for t in threads:
            t.join()
        try:
            while out and not done.empty():
                settle(*done.get_nowait())
            ledger.flush()
        except BaseException as exc:  # the ledger itself failing: leases settle these rows later
            run.fail(exc)
        for client in clients:
            client.close()
        if run.error is not None:
            try:
                ledger.release_all(cid, version, run.owner)  # claimed and never submitted: planned again
            except Exception:  # the ledger itself failing: the lease expiry settles these rows later
                pass
    if run.error is not None:
        raise run.error


class _Run:
    """What one send shares: the campaign, the report, the lease owner, the rate limiter, the count
    of refusals in a row, and the first error (which stops every connection)."""

    def __init__(self, campaign: Campaign, audience: dict[str, dict], addresses: dict[str, tuple[str, str] | str],
                 settings: Settings, report: SendReport, *, suppression: tuple, lease: dt.timedelta, clock,
                 hook: FaultHook, max_failures: int, limiter: "_RateLimiter"):
        self.campaign, self.audience, self.addresses, self.report = campaign, audience, addresses, report
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.env = campaign.template_env()
        self.signing_key = secret_key()  # links in every mail are signed with it
        self.signer = dkim_signer(settings.raw)  # None unless smtp.dkim is configured
        self.smtp = settings.smtp
        self.is_suppressed, self.person_gap_days = suppression
        self.lease, self.clock, self.hook, self.max_failures, self.limiter = lease, clock, hook, max_failures, limiter
        self.stop = threading.Event()
        self.limited = False  # the day's limit of mails is reached: claim nothing more
        self.error: BaseException | None = None
        self.consecutive_failures = 0

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.stop.set()

    def count(self, name: str, message_id: str | None = None) -> None:
        setattr(self.report, name, getattr(self.report, name) + 1)
        if message_id is not None:
            self.report.message_ids.append(message_id)

    def refused(self, permanent: bool) -> int:
        """Refusals in a row, after this one (a permanent refusal adds one; an acceptance resets)."""
        self.consecutive_failures = self.consecutive_failures + 1 if permanent else 0
        return self.consecutive_failures


@dataclass
class _Mail:
    """A claimed row ready to go: the intent the ledger records and the bytes SMTP carries."""
    intent: SendIntent
    from_addr: str
    to_addr: str
    data: bytes
    utf8: bool

    @property
    def info(self) -> dict:  # what the fault hook is told
        return {"person_id": self.intent.person_id, "message_id": self.intent.message_id, "email": self.to_addr}


def _prepare(run: _Run, ledger: SendLedger, pid: str) -> _Mail | None:
    """The mail for a claimed row, or None when the row ends here (invalid address, suppressed)."""
    campaign, cid, version = run.campaign, run.campaign.campaign_id, run.campaign.content_version
    member = run.audience[pid]
    run.hook("claimed", {"campaign_id": cid, "person_id": pid})
    checked = run.addresses[pid]  # this run's address (an earlier run may have planned another)
    if isinstance(checked, str):
        ledger.finish_later(cid, pid, version, "failed", run.clock(), error=checked[:500])
        return None
    address, key = checked
    if run.is_suppressed(address, key, pid, member):
        ledger.finish_later(cid, pid, version, "suppressed", run.clock(), error="suppressed at send time")
        return None
    built = build_message(campaign, member, run.smtp, to_addr=address, now=run.clock(), env=run.env,
                          signing_key=run.signing_key)
    data = built.data if run.signer is None else run.signer.sign(built.data)  # serialised before anything is marked
    run.limiter.wait()
    cap_days = max(campaign.frequency_cap_days, run.person_gap_days(address))
    cap_since = run.clock() - dt.timedelta(days=cap_days) if cap_days else None
    return _Mail(SendIntent(pid, address, key, built.message_id, cap_since), built.from_addr, built.to_addr, data,
                 built.utf8)


def _serve(run: _Run, client: SmtpClient, handed: queue.Queue, done: queue.Queue) -> None:
    """A connection's thread: SMTP for each row handed over, until told to end; the outcomes go back
    to the sending thread, which records them."""
    while (mail := handed.get()) is not None:
        done.put((mail, "skipped", None) if run.stop.is_set() else _transmit(run, client, mail))


def _transmit(run: _Run, client: SmtpClient, mail: _Mail) -> tuple[_Mail, str, Any]:
    """One SMTP transaction for a submitted row: ``(mail, outcome, detail)``, never raising."""
    info = {"campaign_id": run.campaign.campaign_id, **mail.info}
    stage = "submitted"
    try:
        run.hook("submitted", info)
        try:
            client.connect()
        except SmtpUnreachable as exc:  # nothing went over the wire
            return mail, "unreachable", exc
        stage = "smtp"
        try:
            response = client.transmit(mail.from_addr, mail.to_addr, mail.data, mail.utf8)
        except Refused as exc:
            return mail, "refused", exc
        except NotSent as exc:
            return mail, "not_sent", exc
        except DeliveryUnknown as exc:
            return mail, "unknown", exc
        stage = "accepted"
        run.hook("accepted", info)
        return mail, "accepted", response
    except BaseException as exc:
        return mail, "error", (stage, exc)


def _settle(run: _Run, ledger: SendLedger, mail: _Mail, outcome: str, detail: Any) -> None:
    """Record what SMTP made of a submitted row; stops the run when the relay refuses everything."""
    cid, version, owner, pid = run.campaign.campaign_id, run.campaign.content_version, run.owner, mail.intent.person_id
    message_id = mail.intent.message_id
    if outcome == "accepted":
        # written with the next group's `submitted` rows (one transaction, one disk sync for both)
        ledger.finish_later(cid, pid, version, "accepted", run.clock(), message_id=message_id, smtp_response=detail)
        run.refused(permanent=False)
        run.count("sent", message_id)
    elif outcome == "skipped":  # the run stopped before this row's turn: nothing was transmitted
        ledger.release(cid, pid, version, owner, error="run stopped before SMTP")
    elif outcome == "unreachable":
        ledger.release(cid, pid, version, owner, error=str(detail)[:500])
        run.fail(SendAborted(str(detail)))
    elif outcome == "refused":
        exc: Refused = detail
        if exc.sender_refused:  # not this recipient's fault: keep the row, stop the run
            ledger.release(cid, pid, version, owner, error=f"{exc.code} {exc.text}"[:500])
            run.fail(SendAborted(f"the relay refused the sender: {exc.code} {exc.text}"))
            return
        if exc.code >= 500:
            ledger.finish(cid, pid, version, "failed", run.clock(), message_id=message_id,
                          error=f"{exc.code} {exc.text}"[:500])
            in_a_row = run.refused(permanent=True)
        else:  # 4xx: the server said "not now"; nothing was accepted
            ledger.release(cid, pid, version, owner, error=f"{exc.code} {exc.text}"[:500])
            run.count("retry_later")
            in_a_row = run.consecutive_failures
        if in_a_row >= run.max_failures:
            run.fail(SendAborted(f"{in_a_row} permanent refusals in a row; last: {exc.code} {exc.text}"))
    elif outcome == "not_sent":
        ledger.release(cid, pid, version, owner, error=str(detail)[:500])
        run.count("retry_later")
    elif outcome == "unknown":  # lost during DATA: the server may have the message. Never resend blindly.
        ledger.finish(cid, pid, version, "ambiguous", run.clock(), message_id=message_id, error=str(detail)[:500])
    else:  # "error": the run stops; the row is settled now rather than by lease expiry
        stage, exc = detail
        if stage == "submitted":  # nothing went over the wire yet
            ledger.release(cid, pid, version, owner, error=f"run stopped before SMTP: {exc!r}"[:500])
        else:
            ledger.finish(cid, pid, version, "ambiguous", run.clock(), message_id=message_id,
                          error=f"run stopped after submission: {exc!r}"[:500])
        run.fail(exc)


def _note_daily_limit(report: SendReport, daily_limit: int, now: dt.datetime) -> None:
    note = (f"daily limit of {daily_limit:,} mails reached for {now.astimezone(dt.timezone.utc):%Y-%m-%d} (UTC): "
            f"{report.deferred_by_daily_limit:,} left planned for a later day")
    report.note = f"{report.note}; {note}" if report.note else note


def _reconcile(ledger: SendLedger, campaign_id: str, version: str, settings: Settings, now: dt.datetime) -> int:
    """Settle ambiguous sends the provider has since reported (webhook or tracking events in the web
    store carry the Message-ID): those were delivered, so they count as sent. Unreported ones stay
    ambiguous for a person to look at; they are never resent."""
    pending = ledger.ambiguous_message_ids(campaign_id, version)
    path = Path(settings.web_store_path)
    if not pending or not path.exists():
        return 0
    # Stored as sent (``<id@host>``) or as a provider reports it (often without brackets).
    bare = sorted({m.strip().strip("<>").strip() for m in pending})
    with web_store.reader(path) as con:
        seen = web_store.message_ids_with_events(con, bare + [f"<{m}>" for m in bare])
    return ledger.reconcile(campaign_id, version, seen, now)


def _audience(campaign: Campaign, members: Iterable[dict]) -> dict[str, dict]:
    """Members by person_id, in order; other campaigns' rows and repeated person ids are dropped."""
    if hasattr(members, "to_dict"):  # pandas
        members = members.to_dict(orient="records")
    elif hasattr(members, "to_dicts"):  # polars
        members = members.to_dicts()
    out: dict[str, dict] = {}
    for m in members:
        if m.get("campaign_id") not in (None, campaign.campaign_id):
            continue
        pid = m.get("person_id")
        if pid is None or str(pid).strip() == "":
            continue  # no ledger key: cannot be sent exactly once
        out.setdefault(str(pid), m)
    return out


# --- suppression ---------------------------------------------------------------------------------

def _no_gap(address: str) -> int:
    return 0


def _other_addresses(member: Mapping) -> list[str]:
    """The person's other addresses (``person_email_keys`` of ``marts.audience_members``, ';'-separated)."""
    keys = member.get("person_email_keys")
    return [k for k in keys.split(";") if k] if isinstance(keys, str) else []


def _suppression(suppressed, settings: Settings, kind: str) -> tuple[Callable[[str, str | None, str, Mapping], bool],
                                                                    Callable[[str], int]]:
    """``(address, canonical address, person_id, member) -> suppress?`` from any accepted form, and
    the person's own minimum gap between mails in days (preference centre; 0 when unknown)."""
    if suppressed is None:
        return (lambda address, key, pid, member: False), _no_gap
    if isinstance(suppressed, (_WebStore, WebStoreSuppression)):
        # One store read serves every send of a run that passes its own WebStoreSuppression
        # (it still reloads every refresh_seconds); the default reads the store for this send.
        store = suppressed if isinstance(suppressed, WebStoreSuppression) else WebStoreSuppression(settings.web_store_path)
        return (lambda address, key, pid, member: store(address, kind, _other_addresses(member))), store.min_gap_days
    if callable(suppressed):
        try:
            two = len(inspect.signature(suppressed).parameters) >= 2
        except (TypeError, ValueError):
            two = False
        return ((lambda address, key, pid, member: bool(suppressed(address, pid))) if two else
                (lambda address, key, pid, member: bool(suppressed(address)))), _no_gap
    values = {str(v) for v in suppressed}
    keys = {canonical_email(v) for v in values if "@" in v}
    return (lambda address, key, pid, member: key in keys or pid in values), _no_gap


class WebStoreSuppression:
    """What the web store says about an address, by the consent model's rules (``warmpool.consent``,
    the same the warehouse applies): never mail it (suppressed: unsubscribed, complained, bounced
    hard, soft-bounced repeatedly, opted out, asked for erasure — on this address or, given the
    person's other addresses, on any of them), or not this kind of campaign (preference-centre
    topics are campaign kinds), or not this often (preference-centre frequency: monthly / quarterly).

    Reloaded every ``refresh_seconds`` so an unsubscribe that arrives during a long send is honoured.
    A store that cannot be read stops the send (failing open would mail people who opted out).
    """

    FREQUENCY_DAYS = {"monthly": 30, "quarterly": 90}

    def __init__(self, path: Path, refresh_seconds: float = 30.0, rules: ConsentRules | None = None):
        self.path, self.refresh_seconds = Path(path), refresh_seconds
        self.rules = rules or load_rules()
        self._suppressed: dict[str, Suppression] = {}
        self._prefs: dict[str, tuple[set[str] | None, str | None]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self, address: str, kind: str | None = None, other_addresses: Iterable[str] = ()) -> bool:
        if self.suppression(address, other_addresses) is not None:
            return True
        topics = self._prefs.get(canonical_email(address), (None, None))[0]
        return kind is not None and topics is not None and kind not in topics

    def suppression(self, address: str, other_addresses: Iterable[str] = ()) -> Suppression | None:
        """The earliest suppression of the address and the person's other addresses, if any."""
        self._refresh()
        keys = {canonical_email(a) for a in (address, *other_addresses)}
        return min((self._suppressed[k] for k in keys if k in self._suppressed), key=Suppression.sort_key,
                   default=None)

    def min_gap_days(self, address: str) -> int:
        """The person's own frequency choice as a cap in days (0: no preference)."""
        self._refresh()
        return self.FREQUENCY_DAYS.get(self._prefs.get(canonical_email(address), (None, None))[1] or "", 0)

    def _refresh(self) -> None:
        if self._loaded_at is not None and time.monotonic() - self._loaded_at <= self.refresh_seconds:
            return
        with self._lock:  # several connections ask at once: one reads the store, the others wait for it
            if self._loaded_at is not None and time.monotonic() - self._loaded_at <= self.refresh_seconds:
                return
            with web_store.reader(self.path) as con:
                rows = web_store.consent_rows(con)
            self._suppressed = suppressions_by_address(events_from_store(rows), self.rules)
            self._prefs = _current_preferences(rows["preference_changes"])
            self._loaded_at = time.monotonic()


def _current_preferences(changes: list[dict]) -> dict[str, tuple[set[str] | None, str | None]]:
    """Each address's latest preference-centre choice of topics and frequency (an opt-out of
    everything is a suppression, not a choice)."""
    latest: dict[str, dict] = {}
    for change in sorted(changes, key=lambda c: c["change_seq"]):
        key = canonical_email(change.get("email"))
        if key is not None:
            latest[key] = change
    return {key: (None if c["topics"] is None else {t for t in c["topics"].split(";") if t}, c["frequency"])
            for key, c in latest.items() if not c["unsubscribed_all"]}


class _RateLimiter:
    """At most ``rate`` sends per second (0 or less: no limit), spaced evenly across every connection."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:  # take the next slot, then sleep until it outside the lock
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)
