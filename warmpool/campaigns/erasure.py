"""Removing a person from everything campaigns keep: the one entry point erasure calls.

- the send ledger: rows keep their state and counts under keyed hashes (``SendLedger.forget``), so a
  forgotten person is still never mailed a version twice;
- the audience files under ``audiences/``: their rows are removed at once (the next run rewrites the
  files from the marts, where an erased person no longer appears);
- the email provider's contact lists (when configured): removed from every campaign's list at once.

Every later audience, sequence step and provider list is built from the marts and re-checked against
the web store's suppressions at send time, where the erasure request itself suppresses the address.
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from warmpool.campaigns.audience import AUDIENCE_PRESETS
from warmpool.campaigns.provider_lists import ProviderListConfig, remove_from_lists
from warmpool.campaigns.sender import open_ledger
from warmpool.config import Settings
from warmpool.emails import canonical_email


@dataclass
class Forgotten:
    ledger_rows: int = 0
    audience_rows: dict[str, int] = field(default_factory=dict)  # file name -> rows removed
    provider_list_rows: int = 0

    def describe(self) -> str:
        files = sum(self.audience_rows.values())
        return (f"send ledger rows pseudonymised: {self.ledger_rows}; audience file rows removed: {files}; "
                f"provider list memberships removed: {self.provider_list_rows}")


def forget_people(settings: Settings, person_ids: Iterable[str] = (), emails: Iterable[str] = (),
                  provider_config: ProviderListConfig | None = None) -> Forgotten:
    """Remove these people (any of their person ids and addresses) from every campaign store. Safe to repeat.
    Give their addresses: the provider lists and the audience files know people by address."""
    ids = {str(p) for p in person_ids if p}
    keys = {k for k in (canonical_email(e) for e in emails if e) if k}
    out = Forgotten()
    out.provider_list_rows = remove_from_lists(settings, keys, provider_config)
    with open_ledger(settings) as ledger:
        out.ledger_rows = ledger.forget(ids, keys)
    for path in sorted(Path(settings.audiences_dir).glob("*.csv")):
        removed = _drop_rows(path, ids, keys)
        if removed:
            out.audience_rows[path.name] = removed
    return out


# Per preset: which header holds the address and which the person id.
_EMAIL_HEADERS = {p.headers[[c.field for c in p.columns].index("email")] for p in AUDIENCE_PRESETS.values()}
_PERSON_HEADERS = {p.headers[[c.field for c in p.columns].index("person_id")] for p in AUDIENCE_PRESETS.values()}


def _drop_rows(path: Path, ids: set[str], keys: set[str]) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return 0
    header = rows[0]
    email_at = [i for i, h in enumerate(header) if h in _EMAIL_HEADERS]
    person_at = [i for i, h in enumerate(header) if h in _PERSON_HEADERS]

    def forgotten(row: list[str]) -> bool:
        return (any(i < len(row) and row[i] in ids for i in person_at)
                or any(i < len(row) and canonical_email(row[i].lstrip("'")) in keys for i in email_at))
    kept = [header] + [r for r in rows[1:] if not forgotten(r)]
    removed = len(rows) - len(kept)
    if removed:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".csv.tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(kept)
        os.replace(tmp, path)
    return removed
