"""Sourcing: saved searches that keep sourcing, and pushing a pipeline's people to the ATS as prospects.

Saved searches ("always be sourcing"): a saved search keeps its best ``top_n`` people; each run
(the Dagster schedule ``saved_searches_schedule``, or ``warmpool pipeline run-saved``) searches
again, and the people in its top who were never matched by it before join its pipeline at stage
``identified``, once each, however often it runs. Every run is an audited search (channel
``saved_search``, on behalf of the saved search's owner, for its pipeline's requisition).

ATS write-back: ``push_pipeline`` sends a pipeline's members to the ATS in the Harvest API's shape,
exactly once each (the ledger in the sourcing store): a person the ATS does not know yet becomes a
prospect (``POST /v1/prospects`` with the pipeline's tags and its job); a person with an ATS
candidate record gets a prospect application on the job (``POST /v1/candidates/{id}/applications``
with ``prospect: true``) and the tags (``PUT /v1/candidates/{id}/tags/{tag_id}``, tags created via
``POST /v1/tags/candidate`` when missing). A push claimed but not confirmed (a crash between the
ATS's answer and the ledger) is first looked up at the ATS by email before anything is written again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pandas as pd

from warmpool.config import Settings
from warmpool.search import sourcing_store as store
from warmpool.search.filters import FilterError
from warmpool.search.service import engine, search

ON_BEHALF_OF = "On-Behalf-Of"   # Harvest: the ATS user a write is made for (audited in the ATS)


@dataclass(frozen=True)
class SavedSearchRun:
    saved_search_id: int
    name: str
    results: int
    added: list[str]
    error: str | None = None     # a filter the index can no longer apply (e.g. its segment was removed)

    def describe(self) -> str:
        if self.error:
            return f"{self.name}: not run: {self.error}"
        return f"{self.name}: {self.results} results, {len(self.added)} new added to its pipeline"


def run_saved_searches(settings: Settings, *, actor: str = "saved-search schedule") -> list[SavedSearchRun]:
    runs = []
    with store.sourcing_store(settings.sourcing_store_path) as con:
        for saved in store.saved_searches(con):
            pipe = store.pipeline(con, int(saved["pipeline_id"]))
            try:
                response = search(saved["query"], saved["filters"], int(saved["top_n"]), user=saved["owner"],
                                  requisition_id=pipe["job_id"] if pipe else None, channel="saved_search",
                                  settings=settings)
            except FilterError as exc:  # one saved search gone stale must not stop the others
                runs.append(SavedSearchRun(int(saved["saved_search_id"]), saved["name"], 0, [], str(exc)))
                continue
            added = store.record_matches(con, saved, response.person_ids, len(response.results), actor)
            runs.append(SavedSearchRun(int(saved["saved_search_id"]), saved["name"], len(response.results), added))
    return runs


# --- ATS write-back ---------------------------------------------------------------------------
@dataclass
class PushReport:
    pipeline: str
    pushed: int = 0
    already: int = 0            # pushed by an earlier run: nothing sent
    recovered: int = 0          # an unconfirmed claim found at the ATS: ledger completed, nothing sent
    failed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{self.pipeline}: {self.pushed} pushed to the ATS, {self.already} pushed before, "
                f"{self.recovered} recovered, {len(self.failed)} failed")


class AtsClient:
    """The few Harvest writes the push needs (Basic auth with the API key as user name)."""

    def __init__(self, base_url: str, api_key: str, on_behalf_of: int | str, *, timeout: float = 30):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), auth=(api_key, ""), timeout=timeout,
                                 headers={ON_BEHALF_OF: str(on_behalf_of)})
        self._tag_ids: dict[str, int] | None = None

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> dict | list:
        response.raise_for_status()
        return response.json()

    def candidate_by_email(self, email: str) -> dict | None:
        found = self._ok(self.http.get("/candidates", params={"email": email}))
        return found[0] if found else None

    def create_prospect(self, body: dict) -> dict:
        return self._ok(self.http.post("/prospects", json=body))

    def add_prospect_application(self, candidate_id: int, job_id: int) -> dict:
        return self._ok(self.http.post(f"/candidates/{candidate_id}/applications",
                                       json={"job_id": job_id, "prospect": True}))

    def tag(self, candidate_id: int, names: list[str]) -> None:
        if self._tag_ids is None:
            self._tag_ids = {t["name"]: t["id"] for t in self._ok(self.http.get("/tags/candidate"))}
        for name in names:
            if name not in self._tag_ids:
                self._tag_ids[name] = self._ok(self.http.post("/tags/candidate", json={"name": name}))["id"]
            self._ok(self.http.put(f"/candidates/{candidate_id}/tags/{self._tag_ids[name]}"))


def prospect_body(profile: dict, job_id: int | None, tags: list[str]) -> dict:
    """A Harvest "Add Prospect" body from a golden profile."""
    def text(key):
        value = profile.get(key)
        return value if isinstance(value, str) and value.strip() else None

    body = {"first_name": text("first_name") or "", "last_name": text("last_name") or "",
            "company": text("current_company"), "title": text("current_title"),
            "email_addresses": [{"value": text("email"), "type": "personal"}] if text("email") else [],
            "phone_numbers": [{"value": text("phone"), "type": "mobile"}] if text("phone") else [],
            "social_media_addresses": [{"value": text("linkedin_url")}] if text("linkedin_url") else [],
            "addresses": [{"value": ", ".join(x for x in (text("city"), text("region"), text("country")) if x),
                           "type": "home"}] if text("city") else [],
            "tags": list(tags)}
    if job_id is not None:
        body["applications"] = [{"job_id": int(job_id)}]
    return body


def _ats_candidate_id(records: pd.DataFrame) -> int | None:
    ats = records[records["source"] == "ats"] if len(records) else records
    if not len(ats):
        return None
    return int(sorted(ats["source_record_id"].astype(str).tolist(), key=lambda s: (len(s), s))[0])


def push_pipeline(settings: Settings, pipeline_name: str, *, on_behalf_of: int | str,
                  client: AtsClient | None = None) -> PushReport:
    index = engine(settings).index
    own_client = client is None
    client = client or AtsClient(settings.ats.base_url, settings.ats.api_key, on_behalf_of)
    try:
        with store.sourcing_store(settings.sourcing_store_path) as con:
            pipe = store.pipeline(con, pipeline_name)
            if pipe is None:
                raise KeyError(f"no pipeline named {pipeline_name!r}")
            report = PushReport(pipeline_name)
            profiles = index.profiles.set_index("person_id", drop=False)
            for member in store.members(con, pipe["pipeline_id"]):
                pid = member["person_id"]
                claim = store.claim_push(con, pipe["pipeline_id"], pid, pipe["job_id"])
                if claim is None:
                    report.already += 1
                    continue
                profile = profiles.loc[pid].to_dict() if pid in profiles.index else {"person_id": pid}
                try:
                    candidate_id = _ats_candidate_id(index.records_of(pid))
                    request: dict
                    if candidate_id is not None:
                        if pipe["job_id"] is not None:
                            client.add_prospect_application(candidate_id, int(pipe["job_id"]))
                        if pipe["tags"]:
                            client.tag(candidate_id, pipe["tags"])
                        request = {"candidate_id": candidate_id, "job_id": pipe["job_id"], "tags": pipe["tags"]}
                    else:
                        body = prospect_body(profile, pipe["job_id"], pipe["tags"])
                        existing = None
                        if not claim.get("fresh") and body["email_addresses"]:
                            existing = client.candidate_by_email(body["email_addresses"][0]["value"])
                        if existing is not None:
                            candidate_id, request = int(existing["id"]), body
                            report.recovered += 1
                            store.confirm_push(con, pipe["pipeline_id"], pid, candidate_id, request)
                            continue
                        candidate_id, request = int(client.create_prospect(body)["id"]), body
                    store.confirm_push(con, pipe["pipeline_id"], pid, candidate_id, request)
                    report.pushed += 1
                except httpx.HTTPError as exc:
                    report.failed.append(f"{pid}: {exc}")
            return report
    finally:
        if own_client:
            client.close()
