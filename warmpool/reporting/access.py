"""Dashboard roles from configuration (`config/dashboards.yaml`): which pages each role sees, whether it
may see personal data (names, contact details, rows about one person), and who has which role when
people sign in through OIDC.

Without an `[auth]` section in Streamlit's secrets the app runs in *local mode*: no sign-in, the role
is picked in the sidebar and every page says so (the sandbox demo). With it, a signed-in user's email
picks the role from `users` (else `default_role`; none = no access). `WARMPOOL_DASHBOARDS_ROLE`
picks the role local mode opens in.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from warmpool.config import CONFIG_DIR, load_yaml

LOCAL_ROLE_ENV = "WARMPOOL_DASHBOARDS_ROLE"
PAGES = ("leadership", "sourcing", "campaigns", "funnel", "eeo", "data_health", "search", "lookup")
# Pages that show only aggregates, whatever the role: they read the aggregate-only exports.
AGGREGATE_PAGES = frozenset({"leadership", "campaigns", "funnel", "eeo", "data_health"})


class AccessConfigError(ValueError):
    """config/dashboards.yaml is not usable (the message names the key)."""


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    pages: tuple[str, ...]
    personal_data: bool   # may see names / contact details and drill down to person rows


@dataclass(frozen=True)
class DashboardAccess:
    roles: Mapping[str, Role]
    users: Mapping[str, str]           # lower-cased email -> role name
    default_role: str | None           # for a signed-in user not listed; None = no access
    local_role: str                    # the role local mode starts in
    min_cell_size: int                 # breakdowns by person attributes hide counts below this
    campaign_thresholds: Mapping[str, float]

    def role_for(self, email: str | None) -> Role | None:
        name = self.users.get((email or "").strip().lower()) or self.default_role
        return self.roles.get(name) if name else None


def load_access(path=None) -> DashboardAccess:
    path = path or CONFIG_DIR / "dashboards.yaml"
    raw = load_yaml(path)
    where = str(path)
    roles = {}
    for name, spec in (raw.get("roles") or {}).items():
        pages = tuple(spec.get("pages") or ())
        unknown = [p for p in pages if p not in PAGES]
        if unknown:
            raise AccessConfigError(f"{where}: roles.{name}.pages: unknown page(s) {unknown}; pages are {list(PAGES)}")
        personal = bool(spec.get("personal_data", False))
        roles[name] = Role(name=name, label=spec.get("label") or name.replace("_", " ").capitalize(),
                           pages=pages, personal_data=personal)
    if not roles:
        raise AccessConfigError(f"{where}: no roles")
    users = {str(email).strip().lower(): role for email, role in (raw.get("users") or {}).items()}
    for email, role in users.items():
        if role not in roles:
            raise AccessConfigError(f"{where}: users.{email}: unknown role {role!r}")
    default_role = raw.get("default_role")
    # WARMPOOL_DASHBOARDS_ROLE picks the role local mode opens in (a demo or a browser test per role)
    local_role = os.environ.get(LOCAL_ROLE_ENV) or raw.get("local_role") or next(iter(roles))
    for key, value in (("default_role", default_role), ("local_role", local_role)):
        if value is not None and value not in roles:
            raise AccessConfigError(f"{where}: {key}: unknown role {value!r}")
    min_cell = int(raw.get("min_cell_size", 5))
    if min_cell < 1:
        raise AccessConfigError(f"{where}: min_cell_size must be at least 1")
    thresholds = {k: float(v) for k, v in (raw.get("campaign_thresholds") or {}).items()}
    return DashboardAccess(roles=roles, users=users, default_role=default_role, local_role=local_role,
                           min_cell_size=min_cell, campaign_thresholds=thresholds)
