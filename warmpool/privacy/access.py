"""The access export a person asks for themselves (GDPR Art. 15, from the web privacy page).

The page takes an address and mails it a single-use link that expires (the web service signs and
spends it); opening the link proves the person controls the mailbox, and only then is the export
made: the same ``export_person`` the CLI runs, over the same stores, as one zip (JSON + HTML).
Every request, refusal and fulfilment is a row of the privacy access log, keyed (HMAC) rather than
named, like every other row there.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import duckdb

from warmpool.config import Settings
from warmpool.privacy.erasure import export_person
from warmpool.privacy.keys import EMAIL, Keyer
from warmpool.privacy.registry import Store
from warmpool.privacy.render import access_export_archive
from warmpool.privacy.store import now_iso, privacy_store

ACTOR = "web"


class ExportUnavailable(RuntimeError):
    """The warehouse is held by a pipeline run; the person's link stays unspent and works later."""


def log_event(settings: Settings, action: str, email: str | None, detail: dict[str, Any],
              at: dt.datetime | None = None) -> None:
    """One row of the privacy access log: ``access_request`` (what happened to the mail),
    ``access_refused`` (why a link was refused) or ``access_export`` (written by ``export_person``)."""
    keyer = Keyer.from_settings(settings)
    with privacy_store(settings) as privacy:
        privacy.log_access(ACTOR, action, keyer.key(EMAIL, email) if email else None, detail, now_iso(at))


def export_archive(email: str, stores: Sequence[Store], settings: Settings,
                   at: dt.datetime | None = None) -> bytes:
    """Everything held on the owner of ``email`` as a zip (``render.access_export_archive``); the
    export is logged as ``export`` by ``web``. ExportUnavailable while a pipeline run writes the
    warehouse (DuckDB allows no reader beside another process's writer)."""
    try:
        data = export_person(email, stores, settings, at=at, actor=ACTOR)
    except duckdb.IOException as exc:
        raise ExportUnavailable(str(exc)) from exc
    return access_export_archive(data, settings.brand.company_name)
