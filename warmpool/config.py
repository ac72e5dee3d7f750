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

**Demo mode and secrets.** The signing secrets (``SANDBOX_SECRETS``) have sandbox values in this
source, which anyone can read. They are used only in demo mode, switched on explicitly
(``WARMPOOL_DEMO=1``; ``make demo``, ``make web``, ``warmpool web --demo`` and the tests set it), and
demo mode serves this machine only: a public base URL, a non-loopback SMTP relay or bind address is
refused (``deployment_problems``). Outside demo mode every secret must be set, and not to a sandbox
value (``Settings.secret`` refuses otherwise).
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

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


log = logging.getLogger("warmpool.config")

DEMO_ENV = "WARMPOOL_DEMO"
# Secrets whose sandbox value ships in this source: public, so only demo mode may use them.
SANDBOX_SECRETS = {
    "WARMPOOL_SECRET_KEY": "warmpool-sandbox-secret-not-for-production",     # signs every link and CSRF field
    "WARMPOOL_MAILGUN_SIGNING_KEY": "warmpool-sandbox-mailgun-signing-key",  # Mailgun's webhook signatures
    # keys the do-not-reingest list and the erasure log (HMAC): a bare hash of an email is reversible
    "WARMPOOL_PRIVACY_KEY": "warmpool-sandbox-privacy-key-not-for-production",
}
# The secrets the candidate-facing web service signs with, and the privacy key its access-export
# requests are logged under (warmpool.privacy.access).
WEB_SECRETS = ("WARMPOOL_SECRET_KEY", "WARMPOOL_MAILGUN_SIGNING_KEY", "WARMPOOL_PRIVACY_KEY")
MIN_SECRET_CHARS = 16


class UnsafeDeployment(RuntimeError):
    """The configuration would run on public secrets (the message names the variables and the fix)."""


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1): this machine only."""
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    # From the brand (every mail's footer names the company and links its privacy notice).
    company_name: str = "Warmpool"
    privacy_notice_url: str = "http://127.0.0.1:8300/privacy-notice"


# The sources Warmpool loads on its own timetable, and what people read downstream of them: the keys of
# `operations.schedules` and `operations.freshness_hours` in warmpool.yaml (docs/operations.md).
OPERATED_SOURCES = ("ats", "vendors", "web_forms")
FRESHNESS_TARGETS = (*OPERATED_SOURCES, "marts", "audiences")


class OperationsError(ValueError):
    """The ``operations:`` section of the configuration is not usable (the message names the field)."""


@dataclass(frozen=True)
class OperationsSettings:
    """Unattended running (``operations:`` in warmpool.yaml): each source's schedule (cron, UTC; the vendor
    drop folder is watched by a sensor instead), how stale each source and the read marts may get, and
    where a failed run is reported (a webhook URL, an email address, both or neither)."""
    schedules: Mapping[str, str] = field(default_factory=lambda: {"ats": "0 * * * *", "web_forms": "*/15 * * * *"})
    freshness_hours: Mapping[str, float] = field(default_factory=lambda: {
        "ats": 2, "vendors": 48, "web_forms": 1, "marts": 26, "audiences": 26})
    alert_webhook_url: str | None = None
    alert_email: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping | None, config_file: str | Path = "warmpool.yaml") -> "OperationsSettings":
        raw, default = raw or {}, cls()
        schedules = {**default.schedules, **(raw.get("schedules") or {})}
        freshness = {**default.freshness_hours, **(raw.get("freshness_hours") or {})}
        for name in schedules:
            if name not in OPERATED_SOURCES or name == "vendors":
                raise OperationsError(f"{config_file}: operations.schedules.{name}: not a scheduled source "
                                      f"(one of ats, web_forms; vendor files are loaded when they land)")
        for name, hours in freshness.items():
            if name not in FRESHNESS_TARGETS or not isinstance(hours, (int, float)) or hours <= 0:
                raise OperationsError(f"{config_file}: operations.freshness_hours.{name}: expected one of "
                                      f"{', '.join(FRESHNESS_TARGETS)} with a positive number of hours")
        alerts = raw.get("alerts") or {}
        return cls(schedules=schedules, freshness_hours={k: float(v) for k, v in freshness.items()},
                   alert_webhook_url=_env("WARMPOOL_ALERT_WEBHOOK_URL", alerts.get("webhook_url")) or None,
                   alert_email=_env("WARMPOOL_ALERT_EMAIL", alerts.get("email")) or None)


class CampaignSettingsError(ValueError):
    """A ``campaigns:`` setting of the configuration is not usable (the message names the setting)."""


class BrandError(ValueError):
    """The ``brand:`` section of the configuration is not usable (the message names the field)."""


_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_CONSENT_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}
MAX_LOGO_BYTES = 512 * 1024
MIN_CONTRAST = 4.5  # WCAG AA for body text: white text on the brand colours (buttons, the header)


def contrast_with_white(color: str) -> float:
    """WCAG contrast ratio of white on ``#rrggbb``."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


@dataclass(frozen=True)
class Brand:
    """What a company puts its name on: the candidate site's name, logo and colours, its privacy
    notice (linked from every form page and every mail footer) and the consent wording the
    talent-network form shows, whose version and SHA-256 are stored with each consent."""
    company_name: str = "Warmpool"
    logo_file: Path | None = None  # served at /brand/logo; None: the company name alone
    primary_color: str = "#0b6e4f"   # header, buttons (white text on it)
    primary_dark_color: str = "#08523b"  # buttons on hover
    accent_color: str = "#9ee6c7"    # the header's decorations
    privacy_notice_url: str = "/privacy-notice"  # a URL, or a path on the candidate site
    consent_version: str = "tn-2026-01"
    consent_text: str = ("I agree that Warmpool may keep my details in its talent network and email me about jobs, "
                         "hiring events and news that match my interests. I can withdraw at any time with the "
                         "unsubscribe link in every email or in the preference centre.")

    @property
    def consent_hash(self) -> str:
        """SHA-256 of the exact wording shown: stored with every consent to prove what was agreed to."""
        return hashlib.sha256(self.consent_text.encode("utf-8")).hexdigest()

    @property
    def logo_type(self) -> str | None:
        return LOGO_TYPES.get(self.logo_file.suffix.lower()) if self.logo_file else None

    def privacy_notice_for(self, public_base_url: str) -> str:
        """The privacy notice as an absolute URL (a path is on the candidate site)."""
        url = self.privacy_notice_url
        return public_base_url.rstrip("/") + url if url.startswith("/") else url


def load_brand(section: Any, config_dir: Path, where: str) -> Brand:
    """The ``brand:`` section (``where`` names the file), checked: BrandError names every bad field."""
    section = section or {}
    if not isinstance(section, dict):
        raise BrandError(f"{where}: brand must be a mapping")
    default = Brand()
    problems: list[str] = []

    def text(key: str, fallback: str, limit: int) -> str:
        value = section.get(key, fallback)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"brand.{key} must be non-empty text")
            return fallback
        value = " ".join(value.split())
        if len(value) > limit or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
            problems.append(f"brand.{key} must be at most {limit} characters, without control characters")
            return fallback
        return value

    colors = section.get("colors") or {}
    picked = {}
    for key, fallback in (("primary", default.primary_color), ("primary_dark", default.primary_dark_color),
                          ("accent", default.accent_color)):
        value = str(colors.get(key, fallback)) if isinstance(colors, dict) else fallback
        if not _HEX_COLOR.fullmatch(value):
            problems.append(f"brand.colors.{key} must be a colour like #0b6e4f, not {value!r}")
            value = fallback
        elif key != "accent" and contrast_with_white(value) < MIN_CONTRAST:
            problems.append(f"brand.colors.{key} {value} gives white text a contrast of "
                            f"{contrast_with_white(value):.1f}:1; at least {MIN_CONTRAST}:1 is needed")
        picked[key] = value.lower()

    # A logo that cannot be used is left out with a warning, not an error: the site shows the name
    # alone, and nothing else (a pipeline run with a copied yaml) fails for want of a picture.
    logo = section.get("logo")
    logo_file = None
    if logo:
        logo_file = (config_dir / str(logo)).resolve()
        logo_problem = None
        if logo_file.suffix.lower() not in LOGO_TYPES:
            logo_problem = f"brand.logo must be one of {', '.join(LOGO_TYPES)} files, not {logo!r}"
        elif not logo_file.is_file():
            logo_problem = f"brand.logo {logo!r} is not a file (paths are relative to {config_dir})"
        elif logo_file.stat().st_size > MAX_LOGO_BYTES:
            logo_problem = f"brand.logo is larger than {MAX_LOGO_BYTES // 1024} KB"
        if logo_problem:
            log.warning("%s: %s; the site shows the company name without a logo", where, logo_problem)
            logo_file = None

    privacy = text("privacy_notice_url", default.privacy_notice_url, 500)
    is_path = privacy.startswith("/") and not privacy.startswith("//")
    is_url = urlsplit(privacy).scheme in ("http", "https") and bool(urlsplit(privacy).hostname)
    if " " in privacy or not (is_path or is_url):
        problems.append("brand.privacy_notice_url must be an http(s) URL or a path on the site such as /privacy-notice")
    version = text("consent_version", default.consent_version, 40)
    if not _CONSENT_VERSION.fullmatch(version):
        problems.append("brand.consent_version must be letters, digits, '.', '_' or '-' (e.g. tn-2026-01)")
    brand = Brand(company_name=text("company_name", default.company_name, 80), logo_file=logo_file,
                  primary_color=picked["primary"], primary_dark_color=picked["primary_dark"],
                  accent_color=picked["accent"], privacy_notice_url=privacy, consent_version=version,
                  consent_text=text("consent_text", default.consent_text, 1000))
    if problems:
        raise BrandError(f"{where}: " + "; ".join(problems))
    return brand


@dataclass(frozen=True)
class Settings:
    home: Path
    ats: AtsSettings
    smtp: SmtpSettings
    raw: dict = field(repr=False, default_factory=dict)
    brand: Brand = field(default_factory=Brand)
    demo: bool = False  # the sandbox's demo mode (WARMPOOL_DEMO): sandbox secrets allowed, loopback only
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)  # SANDBOX_SECRETS' names -> values set
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    # Set by a caller that was handed these files (a Dagster resource); else they live in `home`.
    warehouse_file: Path | None = None
    web_store_file: Path | None = None

    def secret(self, name: str) -> str:
        """The value of one of ``SANDBOX_SECRETS``: the one set in the environment, else (demo mode only)
        the sandbox's; UnsafeDeployment when it is missing, too short or the public sandbox value."""
        problem = _secret_problem(name, self.secrets.get(name))
        if problem is None:
            return self.secrets[name]
        if self.demo:
            return self.secrets.get(name) or SANDBOX_SECRETS[name]
        raise UnsafeDeployment(_refusal([problem]))

    @property
    def as_of(self) -> str | None:
        """"Today" pinned for the models and segments (``WARMPOOL_AS_OF``, an ISO date or timestamp). The
        sandbox world lives in a fixed time window, so its demo, tests and benchmarks pin it; production
        leaves it unset: the warehouse clock."""
        return _env("WARMPOOL_AS_OF", None) or None

    # --- where every file lives (one place knows each path) ---------------------------------
    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse: raw_*, identity, staging, intermediate and marts schemas."""
        return Path(self.warehouse_file or self.home / "warehouse.duckdb")

    @property
    def warehouse_url(self) -> str | None:
        """A server warehouse (``postgresql://user:password@host:port/database``) instead of the DuckDB
        file, or None (the default: ``warehouse_path``). From ``WARMPOOL_WAREHOUSE`` when it is such a URL
        (a path there is the DuckDB file dbt opens, as before), else ``warehouse.url`` in the yaml; the
        password belongs in the environment (``WARMPOOL_WAREHOUSE``), never in the yaml."""
        env = _env("WARMPOOL_WAREHOUSE", None)
        url = env if env and _is_server_url(env) else (self.raw.get("warehouse") or {}).get("url")
        if url and not _is_server_url(url):
            raise ValueError(f"warehouse.url must be a postgresql:// URL, not {url.split('://')[0]}://...")
        return url or None

    @property
    def warehouse_engine(self) -> str:
        """``duckdb`` (the warehouse file) or ``postgres`` (``warehouse_url``)."""
        return "postgres" if self.warehouse_url else "duckdb"

    @property
    def campaign_daily_limit(self) -> int:
        """Campaign mails per UTC day across every campaign (``campaigns.daily_limit`` in the yaml; 0 or
        absent: no limit). A relay contract or an IP warm-up schedule sets it; the sender counts the
        day's mails in the send ledger (``warmpool/campaigns/ledger.py``). No environment override, like
        the other ``campaigns`` settings: a deployment's yaml (``WARMPOOL_CONFIG``) says it.
        Read when a send starts, so a bad value stops the send before anything is planned."""
        value = (self.raw.get("campaigns") or {}).get("daily_limit")
        if value is None:
            return 0
        # bool is an int in Python, and a float such as 5000.0 or 5e3 is not a whole number as written:
        # both are refused rather than guessed at.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CampaignSettingsError(
                f"campaigns.daily_limit: expected a whole number of mails per UTC day, 0 or more "
                f"(0 or absent: no limit), not {value!r}")
        return value

    @property
    def identity_backend(self) -> str:
        """Where Splink scores pairs: ``duckdb`` (default: in-process scratch databases) or ``spark``
        (pyspark, the ``[spark]`` extra; ``WARMPOOL_SPARK_MASTER``, default ``local[2]``).
        ``WARMPOOL_IDENTITY_BACKEND`` or ``identity.backend`` in the yaml."""
        backend = str(_env("WARMPOOL_IDENTITY_BACKEND", (self.raw.get("identity") or {}).get("backend") or "duckdb"))
        if backend not in IDENTITY_BACKENDS:
            raise ValueError(f"identity backend {backend!r}: expected one of {', '.join(IDENTITY_BACKENDS)}")
        return backend

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
    def privacy_dir(self) -> Path:
        """The privacy store (erasure log, do-not-reingest keyed hashes, access log) and, in its own
        file, the legal-hold records (``warmpool.privacy``)."""
        return self.home / "privacy"

    @property
    def dlt_dir(self) -> Path:
        return self.home / "dlt"

    @property
    def scratch_dir(self) -> Path:
        """Working files of a run (e.g. vendor rows between reading and loading): removed when the
        run ends and at the start of the next one, never kept."""
        return self.home / "tmp"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def identity_dir(self) -> Path:
        return self.home / "identity"

    @property
    def search_dir(self) -> Path:
        """Search: index snapshots, the embedding cache, the sourcing store and the search audit log."""
        return self.home / "search"

    @property
    def search_index_dir(self) -> Path:
        """Snapshots of the search index (profiles, vectors, keyword index); `CURRENT` names the live one."""
        return self.search_dir / "index"

    @property
    def embeddings_dir(self) -> Path:
        """Profile embeddings keyed by document hash (an unchanged profile is never embedded twice)."""
        return self.search_dir / "embeddings"

    @property
    def sourcing_store_path(self) -> Path:
        """SQLite store written by recruiters: pipelines per requisition, saved searches, ATS pushes."""
        return self.search_dir / "sourcing.sqlite"

    @property
    def search_audit_path(self) -> Path:
        """The append-only search audit log (OFCCP record keeping); its own SQLite file."""
        return self.search_dir / "audit.sqlite"

    @property
    def logs_dir(self) -> Path:
        """Full logs (Dagster, dlt, dbt) of the demo and of `warmpool run`, one file per run."""
        return self.home / "logs"

    @property
    def vendors(self) -> dict:
        return load_yaml(CONFIG_DIR / "vendors.yaml")["vendors"]

    def ensure_dirs(self) -> "Settings":
        for d in (self.home, self.sandbox_dir, self.landing_dir, self.web_store_path.parent, self.mailbox_dir,
                  self.audiences_dir, self.exports_dir, self.campaign_ledger_path.parent, self.dlt_dir, self.privacy_dir,
                  self.dagster_home, self.identity_dir, self.logs_dir, self.search_dir):
            Path(d).mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        current = dagster_yaml_for(self.dagster_home)
        text = dagster_yaml.read_text() if dagster_yaml.exists() else None
        if text is None or (text != current and _written_by_warmpool(text)):
            dagster_yaml.write_text(current)
        return self


IDENTITY_BACKENDS = ("duckdb", "spark")


def _is_server_url(value: str) -> bool:
    return urlsplit(str(value)).scheme in ("postgresql", "postgres")


# The Dagster instance Warmpool writes into its DAGSTER_HOME (docs/operations.md explains each part):
# no usage statistics leave the machine; one step at a time in each pool (the `warehouse` pool holds
# every step that opens the DuckDB warehouse, and so every writer of the ledger and the stores next to
# it); freshness policies evaluated; the daemon's run monitoring marks a run whose process died as
# failed (and so frees its pool slot) instead of leaving it "started" for ever; the event log in
# Dagster's own SQLite layout, through a class that makes pool claims atomic across processes
# (`assets/instance_storage.py`: on SQLite two simultaneous claims could both get the one slot).
DAGSTER_YAML = """telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
freshness:
  enabled: true
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  poll_interval_seconds: 60
  max_resume_run_attempts: 0
event_log_storage:
  module: assets.instance_storage
  class: PoolSafeSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
"""
# What earlier versions wrote: replaced by the current file (a file someone edited is left alone).
_EARLIER_DAGSTER_YAML = (
    "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n",
    "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\nfreshness:\n  enabled: true\n"
    "run_monitoring:\n  enabled: true\n  start_timeout_seconds: 300\n  poll_interval_seconds: 60\n"
    "  max_resume_run_attempts: 0\n",
)


def dagster_yaml_for(dagster_home: Path) -> str:
    """The instance file for ``dagster_home`` (the event log stays where Dagster's default puts it)."""
    return DAGSTER_YAML.format(event_log_dir=json.dumps(str(Path(dagster_home).resolve() / "history" / "runs")))


def _written_by_warmpool(text: str) -> bool:
    # an earlier version, or the current one written for another folder (a copied or moved home)
    head, _, tail = DAGSTER_YAML.partition("{event_log_dir}")
    return text in _EARLIER_DAGSTER_YAML or re.fullmatch(re.escape(head) + r'"[^"\n]*"' + re.escape(tail), text) is not None


def _secret_problem(name: str, value: str | None) -> str | None:
    if not value:
        return f"{name} is not set"
    if value == SANDBOX_SECRETS.get(name):
        return f"{name} is the sandbox's public value"
    if len(value) < MIN_SECRET_CHARS:
        return f"{name} is shorter than {MIN_SECRET_CHARS} characters"
    return None


def deployment_problems(settings: Settings, secrets: Iterable[str] = tuple(SANDBOX_SECRETS),
                        bind_host: str | None = None) -> list[str]:
    """Why a service that needs ``secrets`` must not start with these settings (empty: it may).

    Demo mode is for this machine: its public sandbox secrets would let anyone forge links, CSRF fields
    and webhooks, so it refuses a public base URL, a non-loopback SMTP relay and a non-loopback bind
    address. Outside demo mode every secret must be set (not to a sandbox value)."""
    if settings.demo:
        reach = [("WARMPOOL_PUBLIC_URL", settings.smtp.public_base_url, urlsplit(settings.smtp.public_base_url).hostname),
                 ("WARMPOOL_SMTP_HOST", settings.smtp.host, settings.smtp.host)]
        if bind_host is not None:
            reach.append(("the address to listen on", bind_host, bind_host))
        return [f"demo mode ({DEMO_ENV}) serves this machine only, but {what} is {value}"
                for what, value, host in reach if not is_loopback(host)]
    return [p for p in (_secret_problem(name, settings.secrets.get(name)) for name in secrets) if p]


def check_deployment(settings: Settings, secrets: Iterable[str] = tuple(SANDBOX_SECRETS),
                     bind_host: str | None = None) -> None:
    """UnsafeDeployment (one message naming every variable and the fix) if ``deployment_problems``."""
    problems = deployment_problems(settings, secrets, bind_host)
    if problems:
        raise UnsafeDeployment(_refusal(problems))


def _refusal(problems: list[str]) -> str:
    return ("Warmpool refuses to run on public secrets: " + "; ".join(problems) + ". Set "
            + " and ".join(SANDBOX_SECRETS) + " to long random values (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'; the Mailgun key is the webhook signing key in Mailgun's "
            f"dashboard) and leave {DEMO_ENV} unset; or, for the sandbox on this machine only, set {DEMO_ENV}=1 "
            "(warmpool web --demo) with loopback addresses.")


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def load_yaml_mapping(path: Path, error) -> dict:
    """A config file that must hold one mapping (a campaign, a segment); ``error(path, key, problem)``
    builds the exception that names the file when it does not."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(path, None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(path, None, "must be a mapping of keys to values")
    return data


_ENV_KEYS = (
    "WARMPOOL_ATS_URL", "WARMPOOL_ATS_API_KEY", "WARMPOOL_ATS_PER_PAGE", "WARMPOOL_SMTP_HOST", "WARMPOOL_SMTP_PORT",
    "WARMPOOL_SMTP_USERNAME", "WARMPOOL_SMTP_PASSWORD", "WARMPOOL_SMTP_STARTTLS", "WARMPOOL_SENDER",
    "WARMPOOL_PUBLIC_URL", "WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_LANDING_URL",
    "SOURCES__ATS__API_KEY", "SOURCES__ATS__BASE_URL", "DLT_PROJECT_DIR", DEMO_ENV, *SANDBOX_SECRETS,
    "WARMPOOL_WAREHOUSE", "WARMPOOL_IDENTITY_BACKEND",
    "WARMPOOL_ALERT_WEBHOOK_URL", "WARMPOOL_ALERT_EMAIL",
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
    brand = load_brand(raw.get("brand"), Path(config_file).parent, config_file)
    public_base_url = _env("WARMPOOL_PUBLIC_URL", smtp.get("public_base_url", SmtpSettings.public_base_url))
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
            public_base_url=public_base_url,
            company_name=brand.company_name,
            privacy_notice_url=brand.privacy_notice_for(public_base_url),
        ),
        raw=raw,
        brand=brand,
        operations=OperationsSettings.from_mapping(raw.get("operations"), config_file),
        demo=_truthy(_env(DEMO_ENV, False)),
        secrets={name: os.environ[name] for name in SANDBOX_SECRETS if os.environ.get(name)},
    )


def get_settings() -> Settings:
    """Settings for the current environment (``WARMPOOL_HOME`` moves the data folder)."""
    home = Path(_env("WARMPOOL_HOME", (SOURCE_CHECKOUT or Path.cwd()) / "data")).resolve()
    config_file = _env("WARMPOOL_CONFIG", CONFIG_DIR / "warmpool.yaml")
    secrets = dlt_secrets_path()
    secrets_version = secrets.stat().st_mtime_ns if secrets.exists() else None  # an edited secrets file is seen
    return _settings_for(str(home), str(config_file), tuple(os.environ.get(k) for k in _ENV_KEYS) + (secrets_version,))
