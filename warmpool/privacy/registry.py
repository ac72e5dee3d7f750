"""Where a person's data lives: one entry per store, naming the module that owns it.

Erasure and the access export walk this list and ask each owner, through its own function, for the
person's rows or to forget them; nothing here runs SQL against another module's store. A new store
is one more entry (ingestion's two, the landing files and dlt's folder, are in
``pipelines.erasure.STORES``, which ``pipelines.erasure.stores()`` adds to these).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb

from warmpool import exports, web_store
from warmpool.campaigns.erasure import forget_people
from warmpool.campaigns.ledger import SendLedger
from warmpool.campaigns.sender import open_ledger
from warmpool.config import Settings
from warmpool.identity.keys import record_key
from warmpool.identity.store import IdentityStore
from warmpool.mail.mailbox import forget_recipient, messages_mentioning
from warmpool.privacy.keys import Keyer
from warmpool.privacy.store import PrivacyStore
from warmpool.search import audit_log, sourcing_store
from warmpool.search.refresh import refresh_after_erasure
from warmpool.privacy.warehouse import Subject, WarehouseRows


@dataclass
class Context:
    """What every store's function may use: the settings, the warehouse connection of this erasure
    or export (one transaction for every warehouse store), the keyer and the privacy store."""
    settings: Settings
    con: duckdb.DuckDBPyConnection | None
    keyer: Keyer
    privacy: PrivacyStore
    at: str
    removed: dict[str, dict[str, int]] = field(default_factory=dict)  # what the stores before this one removed


@dataclass(frozen=True)
class Store:
    name: str
    owner: str                                                   # the module that owns the store
    holds: str                                                   # what of a person it may hold
    forget: Callable[[Subject, Context], dict[str, int]]         # rows or files removed, by place
    export: Callable[[Subject, Context], Any] | None = None      # the person's rows (None: copies of another store's)
    warehouse: bool = False                                      # needs the warehouse connection


def _record_keys(subject: Subject) -> set[str]:
    return {record_key(s, r) for s, r in subject.records}


def _web_store(settings: Settings, fn: Callable, subject: Subject) -> Any:
    if not settings.web_store_path.exists():
        return {}
    with web_store.store(settings.web_store_path) as con:
        return fn(con, subject.emails, subject.submission_ids)


def _ledger(settings: Settings, fn: Callable[[SendLedger], Any], nothing: Any) -> Any:
    if not settings.campaign_ledger_path.exists():
        return nothing
    with open_ledger(settings) as ledger:  # the sender's: forgotten people hashed with its key
        return fn(ledger)


def _forget_campaigns(settings: Settings, subject: Subject) -> dict[str, int]:
    """Campaigns' own entry point, then the ledger file compacted (the replaced bytes gone)."""
    done = forget_people(settings, subject.person_ids, subject.emails)
    _ledger(settings, lambda led: led.compact(), None)
    return {"ledger_rows": done.ledger_rows, "provider_list_rows": done.provider_list_rows,
            **{f"audiences/{name}": n for name, n in done.audience_rows.items()}}


def _sourcing(settings: Settings, fn: Callable, subject: Subject) -> Any:
    if not settings.sourcing_store_path.exists() or not subject.person_ids:
        return {}
    with sourcing_store.sourcing_store(settings.sourcing_store_path) as con:
        return fn(con, subject.person_ids)


def _searches_returning(settings: Settings, subject: Subject) -> list[dict]:
    """Audited searches whose results named one of the person's ids (the legal-hold record)."""
    if not settings.search_audit_path.exists() or not subject.person_ids:
        return []
    with audit_log.audit_log(settings.search_audit_path) as con:
        return [r for r in audit_log.rows(con) if subject.person_ids & set(json.loads(r["result_person_ids"]))]


def _needles(subject: Subject) -> set[str]:
    return {*subject.emails, *subject.phones}


STORES: tuple[Store, ...] = (
    Store("warehouse", "warmpool.privacy.warehouse",
          "raw_* datasets, their _staging copies, quarantine, intermediate and marts tables",
          lambda s, c: WarehouseRows(c.con, c.settings).forget(s),
          lambda s, c: WarehouseRows(c.con, c.settings).person_rows(s), warehouse=True),
    Store("identity", "warmpool.identity.store",
          "record-to-person assignments, scored pairs, hashes, merge history, id map, review queue and decisions, "
          "feature cache",
          lambda s, c: IdentityStore(c.con).forget(_record_keys(s), s.person_ids),
          lambda s, c: IdentityStore(c.con).person_rows(_record_keys(s), s.person_ids), warehouse=True),
    Store("search_index", "warmpool.search.refresh",
          "search index snapshots (profiles, look-up pool, keyword and vector indexes) and profile embeddings",
          lambda s, c: refresh_after_erasure(c.con, c.settings, s.person_ids), warehouse=True),
    Store("sourcing_store", "warmpool.search.sourcing_store",
          "pipeline memberships and their events, saved-search matches, pushes to the ATS",
          lambda s, c: _sourcing(c.settings, sourcing_store.forget_person, s),
          lambda s, c: _sourcing(c.settings, sourcing_store.person_rows, s)),
    Store("search_audit", "warmpool.search.audit_log",
          "every search and the person ids it returned: kept under legal hold (41 CFR 60-1.12), ids only",
          lambda s, c: {"kept_under_legal_hold": len(_searches_returning(c.settings, s))},
          lambda s, c: _searches_returning(c.settings, s)),
    Store("web_store", "warmpool.web_store",
          "sign-ups, referrals, consent confirmations, preference changes, provider events, mail log, erasure requests",
          lambda s, c: _web_store(c.settings, web_store.forget_person, s),
          lambda s, c: _web_store(c.settings, web_store.person_rows, s)),
    Store("campaigns", "warmpool.campaigns.erasure",
          "send ledger (kept under keyed hashes: exactly-once), audience files, the provider's contact lists",
          lambda s, c: _forget_campaigns(c.settings, s),
          lambda s, c: _ledger(c.settings, lambda led: led.person_rows(s.person_ids, s.email_keys), [])),
    Store("mart_exports", "warmpool.exports", "parquet copies of the marts for dashboards and notebooks",
          lambda s, c: exports.forget_rows(s.person_ids, s.emails, c.settings)),
    Store("mailbox", "warmpool.mail.mailbox", "the sent mail kept on disk (mailbox/*.eml)",
          lambda s, c: {"messages": forget_recipient(c.settings.mailbox_dir, _needles(s))},
          lambda s, c: messages_mentioning(c.settings.mailbox_dir, _needles(s))),
)
