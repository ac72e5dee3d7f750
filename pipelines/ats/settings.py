"""The ATS endpoints Warmpool loads (Greenhouse Harvest v1 shape, see docs/data-contracts.md §1-2).

`cursor` is the record field that moves when a record changes and `cursor_param` the query parameter
that filters on it; endpoints without a cursor are small reference lists, fetched whole and passed on
only when a record's content changed (so a re-run loads nothing twice).

`columns` / `nested_columns` declare fields that may be null in every record of a load: dlt creates
no column for an all-null field, and the dbt staging models must find every documented column.
"""
from __future__ import annotations

from typing import NamedTuple



# Functions, not constants: dlt writes the column name into a hint dict, so none may be shared.
def TEXT() -> dict:
    return {"data_type": "text", "nullable": True}


def BIGINT() -> dict:
    return {"data_type": "bigint", "nullable": True}


def TIMESTAMP() -> dict:
    return {"data_type": "timestamp", "nullable": True}


def BOOL() -> dict:
    return {"data_type": "bool", "nullable": True}


def _person(prefix: str) -> dict:
    """Columns of a flattened Harvest user reference (recruiter, credited_to)."""
    return {f"{prefix}__id": BIGINT(), **{f"{prefix}__{f}": TEXT() for f in ("first_name", "last_name", "name", "employee_id")}}


class Endpoint(NamedTuple):
    name: str
    cursor: str | None = "updated_at"
    cursor_param: str | None = "updated_after"
    columns: dict = {}
    nested_columns: dict = {}  # child table path (e.g. "employments") -> columns


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("candidates",
             columns={"company": TEXT(), "title": TEXT(), **_person("recruiter")},
             nested_columns={"employments": {"start_date": TEXT(), "end_date": TEXT(), "title": TEXT()},
                             # added by the loader: email-validator's verdict on each address
                             "email_addresses": {"is_valid": BOOL()}}),
    # Harvest moves `last_activity_at` (not `updated_at`) when an application advances a stage.
    Endpoint("applications", "last_activity_at", "last_activity_after",
             columns={"rejected_at": TIMESTAMP(), **_person("credited_to"),
                      "rejection_reason__id": BIGINT(), "rejection_reason__name": TEXT(),
                      "rejection_reason__type__id": BIGINT(), "rejection_reason__type__name": TEXT(),
                      "current_stage__id": BIGINT(), "current_stage__name": TEXT()},
             nested_columns={"stage_history": {"exited_at": TIMESTAMP()}}),
    Endpoint("jobs", columns={"closed_at": TIMESTAMP(), "notes": TEXT()}),
    Endpoint("users"),
    Endpoint("offers", columns={"resolved_at": TIMESTAMP()}),
    Endpoint("sources", None, None),
    Endpoint("rejection_reasons", None, None),
)

# Before the first run every record is "new"; the API takes ISO-8601 timestamps.
INITIAL_CURSOR = "1970-01-01T00:00:00Z"
PRIMARY_KEY = "id"

# What a change in the API's shape does (pipelines/README.md, "Schema contracts"): new endpoints'
# tables and new fields evolve (Harvest adds fields; dbt staging selects its columns by name, so a
# new column changes nothing downstream); a field whose type drifts (text where a number was) fails
# the run with dlt's DataValidationError instead of silently creating a `<col>__v_text` variant.
SCHEMA_CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
