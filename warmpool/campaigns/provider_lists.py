"""Hand-off of each campaign's audience to an email provider's contact list: SendGrid's Marketing
Contacts API (one list per campaign, named after the campaign id).

``sync_audience`` makes the provider's list hold exactly the audience minus suppressed people:
upserts whoever is new in it or changed since the last push (``PUT /v3/marketing/contacts``, by email,
in batches; a digest of each contact as pushed is kept), then removes from the
list whoever it held from an earlier sync and should no longer (left the segment, unsubscribed,
bounced, complained, erased): ``POST /v3/marketing/contacts/search/emails`` for their contact ids,
then ``DELETE /v3/marketing/lists/{id}/contacts``. What was pushed is remembered in the send ledger
(``provider_list_members``), so a re-run changes nothing and removals need no export of the list.

Configured under ``campaigns.provider_list`` in config/warmpool.yaml::

    provider_list:
      kind: sendgrid
      base_url: https://api.sendgrid.com            # the sandbox's simulator in the demo
      api_key_env: SENDGRID_API_KEY                 # the key is read from this environment variable
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import httpx

from warmpool.campaigns.sender import WebStoreSuppression, open_ledger
from warmpool.config import Settings
from warmpool.emails import canonical_email

BATCH = 1000  # SendGrid accepts up to 30,000 contacts per upsert; smaller requests fail smaller


class ProviderListError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProviderListConfig:
    base_url: str
    api_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProviderListConfig | None":
        cfg = ((settings.raw or {}).get("campaigns") or {}).get("provider_list")
        if not cfg:
            return None
        if cfg.get("kind", "sendgrid") != "sendgrid":
            raise ProviderListError(f"campaigns.provider_list.kind: only 'sendgrid' is supported, not {cfg['kind']!r}")
        key = os.environ.get(cfg.get("api_key_env") or "SENDGRID_API_KEY") or cfg.get("sandbox_api_key")
        if not key or not cfg.get("base_url"):
            raise ProviderListError("campaigns.provider_list needs base_url and the API key's environment variable")
        return cls(str(cfg["base_url"]).rstrip("/"), str(key))


@dataclass
class ListSync:
    campaign_id: str
    list_id: str
    upserted: int = 0
    removed: int = 0

    def describe(self) -> str:
        return f"{self.campaign_id}: provider list {self.list_id}: upserted {self.upserted}, removed {self.removed}"


def _contact(member: Mapping[str, Any]) -> dict:
    out = {"email": member["email"], "first_name": member.get("first_name"), "last_name": member.get("last_name"),
           "city": member.get("city"), "country": member.get("country"),
           "custom_fields": {"person_id": str(member["person_id"]), "job_family": member.get("job_family")}}
    return {k: v for k, v in out.items() if v is not None}


def _digest(list_id: str, contact: Mapping[str, Any]) -> str:
    """The contact as pushed to this list, in a few bytes: a later sync compares it to see what changed
    (a list made anew, with another id, gets everyone again)."""
    pushed = json.dumps([list_id, contact], sort_keys=True, default=str)
    return hashlib.sha256(pushed.encode("utf-8")).hexdigest()[:32]


def sync_audience(campaign_id: str, members: Iterable[Mapping[str, Any]], settings: Settings,
                  is_suppressed=lambda member: False, config: ProviderListConfig | None = None,
                  client: httpx.Client | None = None) -> ListSync | None:
    """Make the campaign's provider list hold exactly ``members`` not suppressed; None if not configured."""
    config = config or ProviderListConfig.from_settings(settings)
    if config is None:
        return None
    own = client is None
    client = client or httpx.Client(base_url=config.base_url, timeout=30,
                                    headers={"Authorization": f"Bearer {config.api_key}"})
    try:
        list_id = _list_id(client, campaign_id)
        wanted = {}
        for m in members:
            key = canonical_email(m.get("email"))
            if key and not is_suppressed(m):
                wanted.setdefault(key, m)
        with open_ledger(settings) as ledger:
            before = ledger.provider_list_members(campaign_id)
            pushed = ledger.provider_list_digests(campaign_id)
        report = ListSync(campaign_id, list_id)
        contacts = {k: _contact(m) for k, m in wanted.items()}
        digests = {k: _digest(list_id, c) for k, c in contacts.items()}
        # Only contacts new on the list or changed since they were pushed: a daily sync sends the day's change.
        changed = [c for k, c in contacts.items() if pushed.get(k) != digests[k]]
        for start in range(0, len(changed), BATCH):
            _ok(client.put("/v3/marketing/contacts", json={"list_ids": [list_id], "contacts": changed[start:start + BATCH]}))
        report.upserted = len(changed)
        gone = {k: email for k, email in before.items() if k not in wanted}
        if gone:
            _remove(client, list_id, gone.values())
            report.removed = len(gone)
        with open_ledger(settings) as ledger:
            ledger.set_provider_list_members(campaign_id, {k: m["email"] for k, m in wanted.items()}, digests)
        return report
    finally:
        if own:
            client.close()


def remove_from_lists(settings: Settings, email_keys: Iterable[str], config: ProviderListConfig | None = None) -> int:
    """Erasure: take these canonical addresses off every campaign's provider list now and forget that
    they were pushed; returns the memberships removed (0 when no provider list is configured)."""
    keys = set(email_keys)
    config = config or ProviderListConfig.from_settings(settings)
    if not keys or config is None or not settings.campaign_ledger_path.exists():
        return 0
    with open_ledger(settings) as ledger:
        pushed = {cid: members for cid in ledger.provider_list_campaigns()
                  if (members := {k: e for k, e in ledger.provider_list_members(cid).items() if k in keys})}
    removed = 0
    with httpx.Client(base_url=config.base_url, timeout=30, headers={"Authorization": f"Bearer {config.api_key}"}) as client:
        for campaign_id, members in pushed.items():
            _remove(client, _list_id(client, campaign_id), members.values())
            with open_ledger(settings) as ledger:
                ledger.drop_provider_list_members(campaign_id, members)
            removed += len(members)
    return removed


def _remove(client: httpx.Client, list_id: str, emails: Iterable[str]) -> None:
    """Take these addresses off the list (their contact ids first; 404: none of them is there)."""
    found = client.post("/v3/marketing/contacts/search/emails", json={"emails": sorted(emails)})
    ids = [] if found.status_code == 404 else [r["contact"]["id"] for r in _ok(found).json()["result"].values()]
    for start in range(0, len(ids), 100):
        _ok(client.delete(f"/v3/marketing/lists/{list_id}/contacts",
                          params={"contact_ids": ",".join(ids[start:start + 100])}))


def provider_list_suppression(settings: Settings, campaign,
                              check: WebStoreSuppression | None = None) -> Callable[[Mapping[str, Any]], bool]:
    """Who must not be on the campaign's list: the send-time check (web store, consent rules, the
    person's other addresses, preference-centre topics). ``check``: one store read shared by every
    campaign of a run (default: a read for this campaign)."""
    if not settings.web_store_path.exists():
        return lambda member: False
    check = check or WebStoreSuppression(settings.web_store_path)
    return lambda m: check(m["email"], campaign.kind, [k for k in (m.get("person_email_keys") or "").split(";") if k])


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ProviderListError(f"{response.request.method} {response.request.url.path}: "
                                f"{response.status_code} {response.text[:300]}")
    return response


def _list_id(client: httpx.Client, name: str) -> str:
    for lst in _ok(client.get("/v3/marketing/lists")).json().get("result", []):
        if lst.get("name") == name:
            return lst["id"]
    return _ok(client.post("/v3/marketing/lists", json={"name": name})).json()["id"]
