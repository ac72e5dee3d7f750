"""The systems a run talks to, as Dagster resources: the warehouse, the ATS, the SMTP relay, the web store
and dbt. Which values they hold depends on the deployment (`WARMPOOL_DEPLOYMENT`):

    local       (default) the sandbox: every field left unset, so the run takes what the one
                configuration loader (`warmpool.config`: config/warmpool.yaml, then the environment)
                says at run time
    production  a real ATS and SMTP relay: every endpoint and credential is a `dg.EnvVar`, resolved
                at run time and shown in the Dagster UI by name only; a missing variable fails the run
                instead of falling back to the sandbox

A run, a test or the demo swaps a resource (or sets its fields in the run config) to point a run at
other files or services; nothing patches the environment.
"""
from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import dagster as dg

from assets.dbt_project import dbt_resource
from warmpool.campaigns.provider_lists import ProviderListConfig
from warmpool.config import AtsSettings, Settings, SmtpSettings, get_settings
from warmpool.dbt_cli import dbt_target_path, dbt_vars, set_run_clock, target_arg, vars_arg
from warmpool.warehouse import WarehouseConnection, open_warehouse

DEPLOYMENT_ENV = "WARMPOOL_DEPLOYMENT"
DEPLOYMENTS = ("local", "production")

# One writer per DuckDB file: every asset and check that opens the warehouse runs in this pool
# (limit 1 in the instance's dagster.yaml), so two runs never write it at once.
WAREHOUSE_POOL = "warehouse"

# For the steps that talk to a service over the network (the ATS, the SMTP relay, the provider's list
# API): a timeout or a 5xx is retried after 30 s, 60 s, 120 s (±jitter, so retries of several runs do
# not arrive together). Safe because each such step is idempotent (dlt merges, the send ledger); the
# deterministic steps (dbt, identity, exports) get no retry: the same input would fail the same way.
NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def _set_fields(resource: dg.ConfigurableResource) -> dict[str, Any]:
    return {name: getattr(resource, name) for name in resource.model_fields_set
            if getattr(resource, name) is not None}


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse (raw, identity, staging, intermediate, marts): the DuckDB file, or PostgreSQL when
    `WARMPOOL_WAREHOUSE=postgresql://...` (warmpool.warehouse)."""

    path: Optional[str] = None  # default: warehouse.duckdb in the data folder (WARMPOOL_HOME)
    as_of: Optional[str] = None  # "today" for the dbt models (YYYY-MM-DD); default: the warehouse clock

    def file(self) -> Path:
        return Path(self.path) if self.path else get_settings().warehouse_path

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[WarehouseConnection]:
        """The configured warehouse (this resource's file, or PostgreSQL when a URL is configured)."""
        with open_warehouse(dataclasses.replace(get_settings(), warehouse_file=self.file()), read_only=read_only) as con:
            yield con

    def dbt_vars(self) -> dict[str, str]:
        return dbt_vars(self.file())

    def set_clock(self) -> None:
        """Write "today" (this resource's ``as_of``, else the configured one, else the warehouse clock) where
        the dbt models read it (``warmpool.dbt_cli.set_run_clock``); before each dbt call."""
        with self.connect() as con:
            set_run_clock(con, self.as_of)

    def dbt_args(self) -> list[str]:
        """`--target` and `--vars` of every dbt call: the configured warehouse (`warmpool.warehouse`)."""
        return [*target_arg(self.file()), *vars_arg(self.dbt_vars())]

    def dbt_target_path(self) -> Path:
        """The target folder every dbt call on this warehouse shares (its parse is re-used)."""
        return dbt_target_path(self.file())


class AtsResource(dg.ConfigurableResource):
    """The ATS REST API (Harvest shape). Unset fields come from the configuration loader."""

    base_url: Optional[str] = None
    api_key: Optional[str] = None  # a secret: only ever a dg.EnvVar here
    per_page: Optional[int] = None

    def settings(self, configured: AtsSettings) -> AtsSettings:
        return dataclasses.replace(configured, **_set_fields(self))


class SmtpResource(dg.ConfigurableResource):
    """The SMTP relay campaigns are sent through. Unset fields come from the configuration loader."""

    host: Optional[str] = None
    port: Optional[int] = None
    username: Optional[str] = None  # secrets: only ever dg.EnvVar here
    password: Optional[str] = None
    starttls: Optional[bool] = None

    def settings(self, configured: SmtpSettings) -> SmtpSettings:
        return dataclasses.replace(configured, **_set_fields(self))


class WebStoreResource(dg.ConfigurableResource):
    """The candidate-facing web service's SQLite store (forms, consent, email events)."""

    path: Optional[str] = None  # default: web/web.sqlite in the data folder (or WARMPOOL_WEB_STORE)


class ProviderListResource(dg.ConfigurableResource):
    """The email provider's contact-list API (SendGrid Marketing Contacts shape). Unset: as configured
    under campaigns.provider_list (not configured: no provider lists)."""

    base_url: Optional[str] = None
    api_key: Optional[str] = None  # a secret: only ever a dg.EnvVar here (or the sandbox simulator's key)

    def config(self, settings: Settings) -> ProviderListConfig | None:
        if self.base_url and self.api_key:
            return ProviderListConfig(self.base_url.rstrip("/"), self.api_key)
        return ProviderListConfig.from_settings(settings)


def run_settings(warehouse: WarehouseResource, *, ats: AtsResource | None = None,
                 smtp: SmtpResource | None = None, web_store: WebStoreResource | None = None) -> Settings:
    """The configured settings with this run's resources applied: what the domain functions take."""
    configured = get_settings()
    return dataclasses.replace(
        configured,
        warehouse_file=warehouse.file(),
        web_store_file=Path(web_store.path) if web_store and web_store.path else configured.web_store_file,
        ats=ats.settings(configured.ats) if ats else configured.ats,
        smtp=smtp.settings(configured.smtp) if smtp else configured.smtp,
    )


def deployment() -> str:
    name = os.environ.get(DEPLOYMENT_ENV, "local")
    if name not in DEPLOYMENTS:
        raise ValueError(f"{DEPLOYMENT_ENV}={name!r}: expected one of {', '.join(DEPLOYMENTS)}")
    return name


def resources_for(name: str) -> dict[str, dg.ConfigurableResource]:
    """The resources of one deployment (see the module docstring)."""
    if name == "local":
        ats, smtp = AtsResource(), SmtpResource()
    elif name == "production":
        ats = AtsResource(base_url=dg.EnvVar("WARMPOOL_ATS_URL"), api_key=dg.EnvVar("WARMPOOL_ATS_API_KEY"))
        smtp = SmtpResource(host=dg.EnvVar("WARMPOOL_SMTP_HOST"), port=dg.EnvVar.int("WARMPOOL_SMTP_PORT"),
                            username=dg.EnvVar("WARMPOOL_SMTP_USERNAME"),
                            password=dg.EnvVar("WARMPOOL_SMTP_PASSWORD"))
    else:
        raise ValueError(f"unknown deployment {name!r}")
    return {"warehouse": WarehouseResource(), "ats": ats, "smtp": smtp, "web_store": WebStoreResource(),
            "provider_list": ProviderListResource(), "dbt": dbt_resource()}


def run_config_for(resources: Mapping[str, dg.ConfigurableResource]) -> dict:
    """Run config that gives these resources the fields set on them (an env var stays a reference).

    How a launched run (the demo, `warmpool run`) gets other resources than its code location's:
    the run's config is kept with the run, so the UI shows what the run talked to.
    """
    def value(v: Any) -> Any:
        name = getattr(v, "env_var_name", None)  # dg.EnvVar / dg.EnvVar.int
        return {"env": name} if name else v
    return {"resources": {key: {"config": {k: value(v) for k, v in _set_fields(res).items()}}
                          for key, res in resources.items()}}
