"""The one configuration loader.

Everything that differs between the sandbox and a real deployment (paths, the ATS URL and key, the
SMTP relay, the sender's postal address) comes from here: ``warmpool.yaml`` in the configuration
folder (``CONFIG_DIR``), overridden by environment variables.

Where things are when nothing says otherwise: run from a source checkout, the configuration is the
checkout's ``config/`` and the data folder its ``data/``; installed from the wheel, the configuration
is the sandbox's copy shipped inside the package and the data folder is ``data/`` in the current
directory. ``WARMPOOL_CONFIG_DIR`` (or ``WARMPOOL_CONFIG`` for the one yaml file) and
``WARMPOOL_HOME`` move them. Secrets are only ever read from the environment or from
``.dlt/secrets.toml`` (git-ignored; see ``.dlt/example.secrets.toml``) and never printed.

ATS API key, first found wins: ``WARMPOOL_ATS_API_KEY``; ``SOURCES__ATS__API_KEY`` (dlt's own env
name); ``[sources.ats] api_key`` in ``.dlt/secrets.toml``; the sandbox key in ``config/warmpool.yaml``.
The ATS URL likewise: ``WARMPOOL_ATS_URL``, ``SOURCES__ATS__BASE_URL``, ``[sources.ats] base_url``, yaml.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml


def _env(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _source_checkout() -> Path | None:
    """The source checkout this package runs from, or None when it is installed from the wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "config").is_dir() else None


SOURCE_CHECKOUT = _source_checkout()
# The wheel ships the checkout's config/ as warmpool/default_config (pyproject.toml, force-include).
CONFIG_DIR = Path(_env("WARMPOOL_CONFIG_DIR", SOURCE_CHECKOUT / "config" if SOURCE_CHECKOUT
                       else Path(__file__).resolve().parent / "default_config"))
# The dbt project: the checkout's; an installed wheel runs it from the current directory's dbt_project/.
# Besides dbt, the campaign sender reads it (the consent thresholds, seeds/consent_rules.csv).
DBT_PROJECT_DIR = (SOURCE_CHECKOUT or Path.cwd()) / "dbt_project"


@dataclass(frozen=True)
class AtsSettings:
    base_url: str
    api_key: str = field(repr=False)  # never shown in logs or reprs
    per_page: int = 500


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str = "Warmpool Talent <talent@warmpool.example>"
    physical_address: str = "Warmpool Inc., 1 Harbour Street, Springfield, OR 97477, USA"
    public_base_url: str = "http://127.0.0.1:8300"


@dataclass(frozen=True)
class Settings:
    home: Path
    ats: AtsSettings
    smtp: SmtpSettings
    raw: dict = field(repr=False, default_factory=dict)
    # Set by a caller that was handed these files (a Dagster resource); else they live in `home`.
    warehouse_file: Path | None = None
    web_store_file: Path | None = None

    # --- where every file lives (one place knows each path) ---------------------------------
    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse: raw_*, identity, staging, intermediate and marts schemas."""
        return Path(self.warehouse_file or self.home / "warehouse.duckdb")

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandbox"

    @property
    def landing_dir(self) -> Path:
        """Vendor export drop folder (per-vendor sub-folders)."""
        return Path(_env("WARMPOOL_LANDING_DIR", self.home / "landing"))

    @property
    def landing_url(self) -> str:
        """The vendor landing folder as an fsspec URL or path (`s3://bucket/landing`, `memory://x`, ...);
        the local `landing_dir` unless `WARMPOOL_LANDING_URL` or `landing.url` in the yaml says otherwise."""
        return str(_env("WARMPOOL_LANDING_URL", (self.raw.get("landing") or {}).get("url") or self.landing_dir))

    @property
    def web_store_path(self) -> Path:
        """SQLite store written by the candidate-facing web service (forms, consent, email events)."""
        return Path(self.web_store_file or _env("WARMPOOL_WEB_STORE", self.home / "web" / "web.sqlite"))

    @property
    def mailbox_dir(self) -> Path:
        """Where the sandbox SMTP server stores received messages (.eml)."""
        return self.home / "mailbox"

    @property
    def audiences_dir(self) -> Path:
        return self.home / "audiences"

    @property
    def exports_dir(self) -> Path:
        """Read-only copies of the marts (parquet) for dashboards and notebooks."""
        return self.home / "exports"

    @property
    def campaign_ledger_path(self) -> Path:
        """Send ledger: one row per (campaign, recipient, content version); its own file."""
        return self.home / "campaigns" / "ledger.sqlite"

    @property
    def dlt_dir(self) -> Path:
        return self.home / "dlt"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def identity_dir(self) -> Path:
        return self.home / "identity"

    @property
    def logs_dir(self) -> Path:
        """Full logs (Dagster, dlt, dbt) of the demo and of `warmpool run`, one file per run."""
        return self.home / "logs"

    @property
    def vendors(self) -> dict:
        return load_yaml(CONFIG_DIR / "vendors.yaml")["vendors"]

    def ensure_dirs(self) -> "Settings":
        for d in (self.home, self.sandbox_dir, self.landing_dir, self.web_store_path.parent, self.mailbox_dir,
                  self.audiences_dir, self.exports_dir, self.campaign_ledger_path.parent, self.dlt_dir,
                  self.dagster_home, self.identity_dir, self.logs_dir):
            Path(d).mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            # No usage statistics leave the machine; one writer at a time in each pool (the
            # `warehouse` pool holds every asset and check that opens the DuckDB warehouse).
            dagster_yaml.write_text("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n")
        return self


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


_ENV_KEYS = (
    "WARMPOOL_ATS_URL", "WARMPOOL_ATS_API_KEY", "WARMPOOL_ATS_PER_PAGE", "WARMPOOL_SMTP_HOST", "WARMPOOL_SMTP_PORT",
    "WARMPOOL_SMTP_USERNAME", "WARMPOOL_SMTP_PASSWORD", "WARMPOOL_SMTP_STARTTLS", "WARMPOOL_SENDER",
    "WARMPOOL_PUBLIC_URL", "WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_LANDING_URL",
    "SOURCES__ATS__API_KEY", "SOURCES__ATS__BASE_URL", "DLT_PROJECT_DIR",
)


def dlt_secrets_path() -> Path:
    """`.dlt/secrets.toml` of the project (dlt's own convention: `DLT_PROJECT_DIR`, else the checkout,
    else the current directory)."""
    return Path(_env("DLT_PROJECT_DIR", SOURCE_CHECKOUT or Path.cwd())) / ".dlt" / "secrets.toml"


def _dlt_secret(section: str, key: str) -> Any:
    """`[sources.<section>] <key>` from `.dlt/secrets.toml`, or None (missing file, table or key)."""
    path = dlt_secrets_path()
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        return ((tomllib.load(fh).get("sources") or {}).get(section) or {}).get(key) or None


@lru_cache(maxsize=32)
def _settings_for(home: str, config_file: str, _env_snapshot: tuple = ()) -> Settings:
    # _env_snapshot is part of the cache key so that changed environment overrides are seen.
    raw = load_yaml(Path(config_file)) if Path(config_file).exists() else {}
    ats = raw.get("ats", {})
    smtp = raw.get("smtp", {})
    return Settings(
        home=Path(home),
        ats=AtsSettings(
            base_url=_env("WARMPOOL_ATS_URL", _env("SOURCES__ATS__BASE_URL", _dlt_secret("ats", "base_url")
                                                    or ats.get("base_url", "http://127.0.0.1:8200/v1"))),
            api_key=_env("WARMPOOL_ATS_API_KEY", _env("SOURCES__ATS__API_KEY", _dlt_secret("ats", "api_key")
                                                      or ats.get("sandbox_api_key", "sandbox-harvest-key"))),
            per_page=int(_env("WARMPOOL_ATS_PER_PAGE", ats.get("per_page", 500))),
        ),
        smtp=SmtpSettings(
            host=_env("WARMPOOL_SMTP_HOST", smtp.get("host", "127.0.0.1")),
            port=int(_env("WARMPOOL_SMTP_PORT", smtp.get("port", 8025))),
            username=_env("WARMPOOL_SMTP_USERNAME", None),
            password=_env("WARMPOOL_SMTP_PASSWORD", None),
            starttls=str(_env("WARMPOOL_SMTP_STARTTLS", smtp.get("starttls", False))).lower() in ("1", "true", "yes"),
            sender=_env("WARMPOOL_SENDER", smtp.get("sender", SmtpSettings.sender)),
            physical_address=smtp.get("physical_address", SmtpSettings.physical_address),
            public_base_url=_env("WARMPOOL_PUBLIC_URL", smtp.get("public_base_url", SmtpSettings.public_base_url)),
        ),
        raw=raw,
    )


def get_settings() -> Settings:
    """Settings for the current environment (``WARMPOOL_HOME`` moves the data folder)."""
    home = Path(_env("WARMPOOL_HOME", (SOURCE_CHECKOUT or Path.cwd()) / "data")).resolve()
    config_file = _env("WARMPOOL_CONFIG", CONFIG_DIR / "warmpool.yaml")
    secrets = dlt_secrets_path()
    secrets_version = secrets.stat().st_mtime_ns if secrets.exists() else None  # an edited secrets file is seen
    return _settings_for(str(home), str(config_file), tuple(os.environ.get(k) for k in _ENV_KEYS) + (secrets_version,))
