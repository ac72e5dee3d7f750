"""A person's rows in the warehouse outside ``identity`` (which its own store forgets): the raw
datasets dlt loads, their ``_staging`` copies, the quarantine, and the dbt tables (intermediate, marts;
staging models are views over raw and need nothing).

No single module writes these rows (dlt loads raw, dbt builds the rest), so the rules that find a
person's rows live here, by column, the same for every table, and a test searches every table
afterwards for anything they miss:

- a person id column (``person_id``, ``link_person_id``)           -> the person's ids, current and retired
- ``source`` + ``source_record_id``                                 -> the person's source records
- ``candidate_id`` (and ``raw_ats.candidates.id``)                  -> their ATS candidate ids
- ``vendor`` + ``vendor_record_id``                                 -> their purchased resumes
- ``submission_id``, ``consent_submission_id``                      -> their web sign-ups and referrals
- an address column (``email``, ``email_normalized``, ``address``, ...) -> any spelling of their addresses
- dlt's nested tables (``<table>__<list>``)                          -> by ``_dlt_root_id`` of a deleted row
- ``quarantine.rejected_rows``: the raw record mentions an address or phone, or its file row / ATS id is theirs
- ``referrer_*`` of a referral they made for someone else are blanked, not deleted.

Erasing deletes the rows in one transaction; ``warmpool.warehouse.compact`` then rewrites the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from warmpool import tables
from warmpool.config import Settings
from warmpool.identity.keys import record_key
from warmpool.identity.normalize import email_value
from warmpool.identity.store import IdentityStore

PERSON_COLUMNS = ("person_id", "link_person_id")
EMAIL_COLUMNS = ("email", "email_normalized", "address", "opt_in_email", "marketing_email", "ats_email")
SUBMISSION_COLUMNS = ("submission_id", "consent_submission_id")
REFERRER_COLUMNS = ("referrer_name", "referrer_email", "relationship")
FORM_SOURCES = (tables.SOURCE_TALENT_NETWORK, tables.SOURCE_REFERRAL)
# schemas whose tables hold rows about people (staging is views and seeds; identity has its own store)
LAYERS = (tables.RAW_ATS, tables.RAW_EEO, tables.RAW_VENDORS, tables.RAW_FORMS, tables.RAW_EMAIL, tables.RAW_SOURCING,
          tables.QUARANTINE, tables.INTERMEDIATE, tables.MARTS)


@dataclass
class Subject:
    """Everything that identifies one person across Warmpool's stores."""
    asked_as: str
    person_ids: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)        # every spelling seen, lower-cased, and the canonical key
    phones: set[str] = field(default_factory=set)        # as written
    profile_urls: set[str] = field(default_factory=set)  # as written
    names: set[str] = field(default_factory=set)         # "First Last" as written
    submission_ids: set[int] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.person_ids or self.records or self.submission_ids or self.emails)

    def source_ids(self, *sources: str) -> list[str]:
        return sorted(r for s, r in self.records if s in sources)

    @property
    def email_keys(self) -> set[str]:
        return {k for k in (email_value(e) for e in self.emails) if k}

    def add_emails(self, values: Iterable[Any]) -> None:
        for v in values:
            if v and str(v).strip():
                self.emails.add(str(v).strip().lower())
                key = email_value(v)
                if key:
                    self.emails.add(key)


def _layer_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every base table of the personal layers (and dlt's ``_staging`` copies) -> its columns."""
    schemas = [*LAYERS, *(f"{s}_staging" for s in LAYERS if s.startswith("raw_") or s == tables.QUARANTINE)]
    rows = con.execute("""select c.table_schema || '.' || c.table_name, list(c.column_name order by c.ordinal_position)
        from information_schema.columns c join information_schema.tables t
          on t.table_schema = c.table_schema and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE' and c.table_schema in (select unnest(?::VARCHAR[]))
          and c.table_name not like '\\_dlt\\_%' escape '\\'
        group by 1 order by 1""", [schemas]).fetchall()
    return {name: cols for name, cols in rows}


def _frame(**columns: list) -> pa.Table:
    return pa.table({k: pa.array([str(v) for v in vals], pa.string()) for k, vals in columns.items()})


class WarehouseRows:
    """Finds and deletes one subject's rows on an open warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings):
        self.con = con
        self.vendors = tuple(settings.vendors)
        self.tables = _layer_tables(con)

    def _has(self, name: str) -> bool:
        return name in self.tables

    def _rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    # --- locating --------------------------------------------------------------------------------
    def locate(self, subject: Subject) -> Subject:
        """Fill ``subject`` from the warehouse: from an address to the records carrying it, to their
        persons (identity's answer: every id they ever had), to all their records and every
        identifier those records hold."""
        src = tables.SOURCE_RECORDS
        if subject.emails and self._has(src):
            for s, r, e in self._rows(f"select source, source_record_id, email from {src} where email is not null "
                                      "and split_part(lower(email), '@', 2) in (select unnest(?::VARCHAR[]))",
                                      [sorted({e.split('@')[-1] for e in subject.emails} | {"gmail.com", "googlemail.com"})]):
                if email_value(e) in subject.email_keys:
                    subject.records.add((s, r))
        emails_table = f"{tables.RAW_ATS}.candidates__email_addresses"
        if subject.emails and self._has(emails_table):
            for (cid,) in self._rows(f"""select distinct c.id from {emails_table} e
                    join {tables.RAW_ATS}.candidates c on c._dlt_id = e._dlt_root_id
                    where lower(trim(e.value)) in (select unnest(?::VARCHAR[]))""", [sorted(subject.emails)]):
                subject.records.add((tables.SOURCE_ATS, str(cid)))
        for sid in subject.submission_ids:
            subject.records.add((self._form_source(sid), str(sid)))
        identity = IdentityStore(self.con)
        if identity.has(tables.PERSON_ASSIGNMENTS):
            current = {identity.canonical_person_id(p) for p in subject.person_ids} - {None}
            current |= identity.persons_of_keys({record_key(s, r) for s, r in subject.records})
            subject.person_ids |= identity.every_id_of(current)
            subject.records |= {(s, r) for s, r, _ in identity.person_records(current).iter_rows()}
        self._identifiers(subject)
        return subject

    def _form_source(self, submission_id: int) -> str:
        table = f"{tables.RAW_FORMS}.form_submissions"
        if self._has(table):
            row = self._rows(f"select form from {table} where submission_id = ?", [int(submission_id)])
            if row:
                return row[0][0]
        return tables.SOURCE_TALENT_NETWORK

    def _identifiers(self, subject: Subject) -> None:
        if not subject.records:
            return
        keys = _frame(source=[s for s, _ in subject.records], source_record_id=[r for _, r in subject.records])
        self.con.register("_privacy_records", keys)
        try:
            for table in (tables.SOURCE_RECORDS, "intermediate.int_candidate_records_resolved"):
                if self._has(table):
                    for first, last, email, phone, url in self._rows(
                            f"select first_name, last_name, email, phone, linkedin_url from {table} t "
                            "join _privacy_records k using (source, source_record_id)"):
                        subject.add_emails([email])
                        subject.phones |= {phone} if phone else set()
                        subject.profile_urls |= {url} if url else set()
                        if first or last:
                            subject.names.add(" ".join(p for p in (first, last) if p))
        finally:
            self.con.unregister("_privacy_records")
        ats = subject.source_ids(tables.SOURCE_ATS)
        for child, target in (("email_addresses", "emails"), ("phone_numbers", "phones"),
                              ("social_media_addresses", "profile_urls"), ("website_addresses", "profile_urls")):
            table = f"{tables.RAW_ATS}.candidates__{child}"
            if ats and self._has(table):
                values = [v for (v,) in self._rows(f"""select e.value from {table} e join {tables.RAW_ATS}.candidates c
                    on c._dlt_id = e._dlt_root_id where cast(c.id as varchar) in (select unnest(?::VARCHAR[]))""", [ats])]
                if target == "emails":
                    subject.add_emails(values)
                else:
                    getattr(subject, target).update(v for v in values if v)
        forms = [int(r) for r in subject.source_ids(*FORM_SOURCES) if r.isdigit()]
        subject.submission_ids |= set(forms)
        for table in (f"{tables.RAW_VENDORS}.resumes", f"{tables.RAW_FORMS}.form_submissions"):
            if self._has(table):
                where, params = self._where(table, subject)
                for email, phone, url in self._rows(f"select email, phone, linkedin_url from {table} where {where}",
                                                    params):
                    subject.add_emails([email])
                    subject.phones |= {phone} if phone else set()
                    subject.profile_urls |= {url} if url else set()

    # --- the rule ----------------------------------------------------------------------------------
    def _where(self, table: str, subject: Subject) -> tuple[str, list]:
        """SQL matching ``table``'s rows about ``subject`` (see the module's rules); ``0`` if none can."""
        cols = set(self.tables.get(table, ()))
        parts: list[str] = []
        params: list = []

        def is_in(expr: str, values: Iterable[Any]) -> None:
            values = sorted({str(v) for v in values if v is not None and str(v) != ""})
            if values:
                parts.append(f"cast({expr} as varchar) in (select unnest(?::VARCHAR[]))")
                params.append(values)

        for c in PERSON_COLUMNS:
            if c in cols:
                is_in(c, subject.person_ids)
        if {"source", "source_record_id"} <= cols:
            is_in("source || chr(31) || source_record_id", [f"{s}\x1f{r}" for s, r in subject.records])
        if "candidate_id" in cols:
            is_in("candidate_id", subject.source_ids(tables.SOURCE_ATS))
        if table.split(".")[1] == "candidates" and table.split(".")[0].startswith(tables.RAW_ATS) and "id" in cols:
            is_in("id", subject.source_ids(tables.SOURCE_ATS))
        if {"vendor", "vendor_record_id"} <= cols:
            is_in("vendor || chr(31) || vendor_record_id",
                  [f"{s}\x1f{r}" for s, r in subject.records if s in self.vendors])
        for c in SUBMISSION_COLUMNS:
            if c in cols:
                is_in(c, subject.submission_ids)
        for c in EMAIL_COLUMNS:
            if c in cols:
                is_in(f"lower(trim({c}))", subject.emails)
        return (" or ".join(parts) or "false"), params

    def _quarantine_where(self, table: str, subject: Subject) -> tuple[str, list]:
        needles = sorted({n.lower() for n in (*subject.emails, *subject.phones, *subject.profile_urls) if n})
        file_rows = []
        resumes = f"{tables.RAW_VENDORS}.resumes"
        if self._has(resumes):
            where, params = self._where(resumes, subject)
            file_rows = [f"{v}\x1f{f}\x1f{n}" for v, f, n in
                         self._rows(f"select vendor, file_name, file_row from {resumes} where {where}", params)]
        parts = ["exists (select 1 from (select unnest(?::VARCHAR[]) as n) where contains(lower(raw_record), n))",
                 "(source = 'ats' and cast(row_number as varchar) in (select unnest(?::VARCHAR[])))",
                 "(source || chr(31) || file_name || chr(31) || row_number) in (select unnest(?::VARCHAR[]))"]
        return " or ".join(parts), [needles or [""], subject.source_ids(tables.SOURCE_ATS) or [""], file_rows or [""]]

    def _table_where(self, table: str, subject: Subject) -> tuple[str, list]:
        if table.split(".")[1] == "rejected_rows":
            return self._quarantine_where(table, subject)
        return self._where(table, subject)

    # --- access and erasure --------------------------------------------------------------------
    def person_rows(self, subject: Subject) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for table in self.tables:
            if table.split(".")[0].endswith("_staging"):
                continue
            where, params = self._table_where(table, subject)
            if where == "false":
                continue
            cur = self.con.execute(f"select * from {table} where {where}", params)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
            if rows:
                out[table] = rows
        return out

    def forget(self, subject: Subject) -> dict[str, int]:
        """Delete the subject's rows from every table (nested dlt tables by their root row) and blank
        the referrer of referrals they made; rows per table. Call inside a transaction."""
        removed: dict[str, int] = {}
        for table in self.tables:
            if "__" in table.split(".")[1]:
                continue  # nested tables go with their root row, below
            where, params = self._table_where(table, subject)
            if where == "false":
                continue
            children = [t for t in self.tables if t.startswith(f"{table}__")]
            if children and "_dlt_id" in self.tables[table]:
                roots = [r for (r,) in self._rows(f"select _dlt_id from {table} where {where}", params)]
                for child in children:
                    if roots:
                        n = self._count_delete(child, "_dlt_root_id in (select unnest(?::VARCHAR[]))", [roots])
                        if n:
                            removed[child] = n
            n = self._count_delete(table, where, params)
            if n:
                removed[table] = n
            referrer = [c for c in REFERRER_COLUMNS if c in self.tables[table]]
            if "referrer_email" in referrer and subject.emails:
                cond = "lower(trim(referrer_email)) in (select unnest(?::VARCHAR[]))"
                n = self._rows(f"select count(*) from {table} where {cond}", [sorted(subject.emails)])[0][0]
                if n:
                    self.con.execute(f"update {table} set {', '.join(c + ' = null' for c in referrer)} where {cond}",
                                     [sorted(subject.emails)])
                    removed[f"{table}.referrer"] = n
        return removed

    def _count_delete(self, table: str, where: str, params: list) -> int:
        n = self._rows(f"select count(*) from {table} where {where}", params)[0][0]
        if n:
            self.con.execute(f"delete from {table} where {where}", params)
        return n
