"""The sandbox world: a seeded, realistic recruiting world and the truth of who is who.

``generate_world(people, seed)`` writes (paths per docs/data-contracts.md section 1):
  sandbox/ats/*.json                the ATS's data in Greenhouse Harvest v1 shape (served by the simulator)
  landing/vendors/<vendor>/*        vendor exports as the vendors deliver them (config/vendors.yaml)
  web/web.sqlite                    form submissions and past campaigns' provider events (via warmpool.web_store)
  sandbox/truth/*                   who is who, each person's real name and place, and what was generated
                                    (tests and benchmarks only)
  sandbox/exports/source_records.csv every source record in the resolve contract (section 4)

Everything is drawn from one ``random.Random(seed)`` (and a numpy Generator for bulk draws) in a fixed
order, and time is measured against the fixed ``WORLD_NOW``: the same (people, seed) gives the same world.
Faker is only used to build name and company pools once; per-row work is plain Python on those pools.
"""
from __future__ import annotations

import calendar
import csv
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import time
import zipfile
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from unidecode import unidecode

from sandbox import vocab as V
from warmpool import web_store
from warmpool.config import CONFIG_DIR, get_settings, load_yaml

WORLD_NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
WORLD_START = datetime(2024, 9, 1, tzinfo=timezone.utc)  # a little over two years of history
NOW_TS = int(WORLD_NOW.timestamp())
START_TS = int(WORLD_START.timestamp())
DAY = 86_400
YEAR = 365 * DAY
GENERATOR_VERSION = 2  # 2: job descriptions (notes), truth/people.csv and truth/jobs.csv

SOURCES = ("ats", "talentdb", "hirewire", "eurocv", "talent_network", "referral")
VENDORS = ("talentdb", "hirewire", "eurocv")
RESOLVE_COLUMNS = ("source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region",
                   "country", "linkedin_url", "current_title", "current_company", "skills", "years_experience",
                   "updated_at")

# Per-channel pass probabilities through Application Review -> Phone Screen -> Interview -> Final -> Offer -> Hired.
# Later stages are shared; the first screen is solved so that P(hired) matches the published per-channel hire
# rates (Lever, 2016: one hire per 16 referrals, 22 agency, 72 sourced, 152 inbound applicants).
_LATER_PASS = (0.5, 0.5, 0.55, 0.85)
HIRE_RATE = {"referral": 1 / 16, "agency": 1 / 22, "sourced": 1 / 72, "inbound": 1 / 152}
FUNNEL = {ch: (p / float(np.prod(_LATER_PASS)),) + _LATER_PASS for ch, p in HIRE_RATE.items()}
STAGE_DAYS = ((1, 10), (3, 12), (5, 18), (3, 14), (2, 10))

# How often each source carries a field (the rest is missing) and prefers a personal email.
FIELD_PRESENCE = {  # source: (email, phone, linkedin, personal-email share)
    "ats": (0.97, 0.75, 0.50, 0.75),
    "talentdb": (0.90, 0.85, 0.60, 0.80),
    "hirewire": (0.95, 0.70, 0.70, 0.85),
    "eurocv": (0.85, 0.90, 0.50, 0.70),
    "talent_network": (1.0, 0.60, 0.40, 0.95),
    "referral": (1.0, 0.50, 0.30, 0.90),
}


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day(ts: int, fmt: str = "%Y-%m-%d") -> str:
    return time.strftime(fmt, time.gmtime(ts))


# ------------------------------------------------------------------------------------------------
# the summary returned to the CLI and the demo
# ------------------------------------------------------------------------------------------------
@dataclass
class WorldSummary:
    people: int
    seed: int
    home: Path
    seconds: float
    records_by_source: dict[str, int]
    candidates: int
    applications: int
    hires: int
    jobs: int
    vendor_rows: dict[str, int]
    vendor_rows_already_in_pool: int
    submissions: int
    email_events: int
    truth: dict = field(repr=False, default_factory=dict)

    @property
    def source_records(self) -> int:
        return sum(self.records_by_source.values())

    def describe(self) -> str:
        by_source = ", ".join(f"{k} {v:,}" for k, v in self.records_by_source.items())
        return "\n".join([
            f"Sandbox world: {self.people:,} people (seed {self.seed}) in {self.home} ({self.seconds:.1f} s)",
            f"  source records: {self.source_records:,} ({self.source_records / max(self.people, 1):.2f} per person): "
            f"{by_source}",
            f"  ATS: {self.candidates:,} candidates, {self.applications:,} applications, {self.jobs:,} jobs, "
            f"{self.hires:,} hires (1 per {self.applications / max(self.hires, 1):.0f} applications)",
            f"  vendor rows: {sum(self.vendor_rows.values()):,} "
            f"({self.vendor_rows_already_in_pool:,} were already in the pool when bought)",
            f"  web store: {self.submissions:,} form submissions, {self.email_events:,} email events",
        ])


# ------------------------------------------------------------------------------------------------
# pools built once per world
# ------------------------------------------------------------------------------------------------
class _Weighted:
    """Weighted choice over a fixed list (cumulative weights, bisect in random.choices)."""

    def __init__(self, items: list, weights: list[float] | None = None):
        self.items = list(items)
        ws = weights if weights is not None else [1.0] * len(self.items)
        acc, self.cum = 0.0, []
        for w in ws:
            acc += w
            self.cum.append(acc)

    def pick(self, rng: random.Random):
        # bisect on the cumulative weights: what random.choices does, without its per-call overhead
        return self.items[bisect_right(self.cum, rng.random() * self.cum[-1], 0, len(self.cum) - 1)]


def _name_pools(seed: int) -> dict[str, tuple[_Weighted, _Weighted, _Weighted]]:
    from faker import Faker  # only here: pools are built once, never per row

    pools = {}
    locales = sorted({loc for _, _, locs in V.COUNTRIES.values() for loc, _ in locs})
    for loc in locales:
        fake = Faker(loc)
        fake.seed_instance(seed)
        prov = fake.provider("faker.providers.person")

        def weighted(names) -> _Weighted:
            if isinstance(names, dict):
                items = [n for n in names if " " not in n]
                return _Weighted(items, [float(names[n]) for n in items])
            items = sorted(set(names))  # some locales repeat names in their tuples
            # Faker tuples are unweighted; a Zipf-like weight gives realistic common names (and namesakes)
            order = random.Random(f"{seed}:{loc}:{len(items)}").sample(items, len(items))
            return _Weighted(order, [1.0 / (i + 8) for i in range(len(order))])

        pools[loc] = (weighted(prov.first_names_male), weighted(prov.first_names_female), weighted(prov.last_names))
    return pools


@dataclass
class Company:
    name: str
    domain: str
    country: str


def _company_pools(rng: random.Random, seed: int, people: int) -> dict[str, list[Company]]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed + 1)
    per_country = max(60, min(4000, people // 60))
    pools: dict[str, list[Company]] = {}
    seen: set[str] = set()
    for country in V.COUNTRIES:
        out = []
        while len(out) < per_country:
            if rng.random() < 0.55:
                stem = f"{rng.choice(V.COMPANY_STEMS)} {rng.choice(V.COMPANY_SUFFIXES)}"
            else:
                stem = f"{fake.last_name()} {rng.choice(V.COMPANY_SUFFIXES)}"
            form = rng.choice(V.COMPANY_FORMS[country])
            name = f"{stem} {form}".strip()
            if name in seen:
                continue
            seen.add(name)
            slug = re.sub(r"[^a-z0-9]", "", unidecode(stem).lower())
            tld = {"UK": "co.uk", "DE": "de", "FR": "fr", "IN": "in"}.get(country, "com")
            out.append(Company(name, f"{slug}.{tld}", country))
        pools[country] = out
    return pools


# ------------------------------------------------------------------------------------------------
# people
# ------------------------------------------------------------------------------------------------
class Person:
    __slots__ = ("pid", "first", "last", "family", "seniority", "skills", "years", "country", "city", "prev_city",
                 "moved_at", "title", "company", "prev_title", "prev_company", "changed_at", "personal_email",
                 "work_email", "prev_work_email", "mobile", "home", "slug", "employments", "kind", "of")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def state(self, ts: int) -> tuple:
        """(city, title, company, work email) as the person was at ``ts``."""
        city = self.prev_city if self.moved_at and ts < self.moved_at else self.city
        if self.changed_at and ts < self.changed_at:
            return city, self.prev_title, self.prev_company, self.prev_work_email
        return city, self.title, self.company, self.work_email


def _ascii_local(s: str) -> str:
    return re.sub(r"[^a-z]", "", unidecode(s).lower()) or "x"


def _title(family: str, seniority: str, base: str) -> str:
    return V.SENIORITY[seniority][2].format(t=base, d=V.FAMILIES[family][1])


# first digit after the area code in ranges that phonenumbers accepts as assigned
_LANDLINE_LEAD = {("UK", "20"): "378", ("UK", "117"): "9", ("FR", "1"): "4", ("FR", "4"): "7", ("FR", "5"): "6",
                  ("FR", "2"): "4"}


class _PeopleFactory:
    def __init__(self, rng: random.Random, np_rng: np.random.Generator, seed: int, people: int):
        self.rng, self.np = rng, np_rng
        self.names = _name_pools(seed)
        self.companies = _company_pools(rng, seed, people)
        self.cities_by_country = defaultdict(list)
        for i, c in enumerate(V.CITIES):
            self.cities_by_country[c[3]].append(i)
        self.city_pick = {cc: _Weighted(ix, [V.CITIES[i][4] for i in ix]) for cc, ix in self.cities_by_country.items()}
        self.locale_pick = {cc: _Weighted([l for l, _ in v[2]], [w for _, w in v[2]]) for cc, v in V.COUNTRIES.items()}
        self.domain_pick = {cc: _Weighted([d for d, _ in v], [w for _, w in v]) for cc, v in V.PERSONAL_DOMAINS.items()}
        self.emails: set[str] = set()
        self.slugs: set[str] = set()
        self.phones: set[str] = set()

    # --- identifiers that must be unique per person ---
    def personal_email(self, first: str, last: str, country: str) -> str:
        rng = self.rng
        f, l = _ascii_local(first), _ascii_local(last)
        pattern = rng.random()
        if pattern < 0.35:
            local = f"{f}.{l}"
        elif pattern < 0.55:
            local = f"{f}{l}"
        elif pattern < 0.68:
            local = f"{f[0]}{l}"
        elif pattern < 0.78:
            local = f"{f}_{l}"
        elif pattern < 0.90:
            local = f"{f}.{l}{rng.randint(1, 99)}"
        else:
            local = f"{l}.{f}"
        domain = self.domain_pick[country].pick(rng)
        email = f"{local}@{domain}"
        while _mailbox(email) in self.emails:
            email = f"{local}{rng.randint(1, 9999)}@{domain}"
        self.emails.add(_mailbox(email))
        return email

    def work_email(self, local: str, domain: str) -> str:
        """first.last@company, numbered when a colleague already has it (as mail admins do)."""
        email, n = f"{local}@{domain}", 1
        while _mailbox(email) in self.emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails.add(_mailbox(email))
        return email

    def slug(self, first: str, last: str) -> str:
        base = f"{_ascii_local(first)}-{_ascii_local(last)}"
        slug = base if self.rng.random() < 0.3 else f"{base}-{self.rng.getrandbits(24):06x}"
        while slug in self.slugs:
            slug = f"{base}-{self.rng.getrandbits(32):08x}"
        self.slugs.add(slug)
        return slug

    def phone(self, country: str, city_idx: int, landline: bool) -> str:
        """A national significant number (digits only); rendered per record in many formats."""
        rng = self.rng
        for attempt in range(1000):
            if attempt > 50:  # a crowded landline range: fall back to a mobile number
                landline = False
            if country in ("US", "CA"):
                area = rng.choice(V.CITIES[city_idx][5])
                # 555 exchanges are reserved for fiction; phonenumbers still parses them as valid
                nsn = f"{area}555{rng.randint(0, 9999):04d}" if rng.random() < 0.5 else \
                    f"{area}{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}{rng.randint(0, 9999):04d}"
            elif country == "UK":
                area = V.CITIES[city_idx][5][0]
                nsn = (f"{area}{rng.choice(_LANDLINE_LEAD.get(('UK', area), '2345678'))}"
                       f"{rng.randint(0, 10 ** (9 - len(area)) - 1):0{9 - len(area)}d}"
                       if landline else f"7{rng.choice('4579')}{rng.randint(0, 99_999_999):08d}")
            elif country == "DE":
                nsn = (f"{V.CITIES[city_idx][5][0]}{rng.randint(2_000_000, 9_999_999)}" if landline
                       else f"15{rng.choice('12')}{rng.randint(0, 99_999_999):08d}")
            elif country == "FR":
                area = V.CITIES[city_idx][5][0]
                nsn = (f"{area}{rng.choice(_LANDLINE_LEAD[('FR', area)])}{rng.randint(0, 9_999_999):07d}" if landline
                       else (f"6{rng.choice('124578')}" if rng.random() < 0.7 else f"7{rng.choice('345678')}")
                       + f"{rng.randint(0, 9_999_999):07d}")
            else:  # IN
                nsn = (f"{V.CITIES[city_idx][5][0]}{rng.randint(20_000_000, 29_999_999)}" if landline
                       else f"9{rng.randint(100_000_000, 999_999_999)}")
            key = f"{country}:{nsn}"
            if key not in self.phones:
                self.phones.add(key)
                return nsn
        raise RuntimeError(f"no free phone number left for {country}")

    def first_name(self, locale: str, female: bool) -> str:
        return self.names[locale][1 if female else 0].pick(self.rng)

    def make(self, pid: str, country: str, family: str, seniority: str, female: bool) -> Person:
        rng = self.rng
        locale = self.locale_pick[country].pick(rng)
        first = self.first_name(locale, female)
        last = self.names[locale][2].pick(rng)
        city = self.city_pick[country].pick(rng)
        p = Person(pid=pid, first=first, last=last, family=family, seniority=seniority, country=country, city=city,
                   kind="base")
        self._career(p)
        self._contacts(p)
        return p

    def _career(self, p: Person) -> None:
        rng = self.rng
        fam = V.FAMILIES[p.family]
        lo, hi = V.SENIORITY[p.seniority][1]
        p.years = round(rng.uniform(lo, hi), 1)
        p.skills = rng.sample(fam[3], k=min(len(fam[3]), rng.randint(4, 9)))
        base = rng.choice(fam[2])
        p.title = _title(p.family, p.seniority, base)
        companies = self.companies[p.country if rng.random() < 0.9 else "US"]
        p.company = rng.choice(companies)
        # employment history, newest first: the current job started 0.2-5 years ago
        start = NOW_TS - int(rng.uniform(0.2, max(0.3, min(p.years, 5.0))) * YEAR)
        p.employments = [(p.company, p.title, start, None)]
        level = V.SENIORITY_ORDER.index(p.seniority)
        end = start
        remaining = p.years - (NOW_TS - start) / YEAR
        while remaining > 0.8 and len(p.employments) < 4:
            dur = min(remaining, rng.uniform(1.0, 4.0))
            level = max(0, level - (1 if rng.random() < 0.5 else 0))
            prev_title = _title(p.family, V.SENIORITY_ORDER[level], rng.choice(fam[2]) if rng.random() < 0.3 else base)
            prev_start = end - int(dur * YEAR) - rng.randint(0, 60) * DAY
            p.employments.append((rng.choice(companies), prev_title, prev_start, end - rng.randint(0, 30) * DAY))
            end = prev_start
            remaining -= dur
        if len(p.employments) > 1 and start > START_TS:
            # changed jobs inside the world's window: older records show the previous job
            p.changed_at = start
            p.prev_company, p.prev_title = p.employments[1][0], p.employments[1][1]
        if rng.random() < 0.12 and len(self.cities_by_country[p.country]) > 1:
            p.prev_city = rng.choice([c for c in self.cities_by_country[p.country] if c != p.city])
            p.moved_at = rng.randint(START_TS + 30 * DAY, NOW_TS - 30 * DAY)

    def _contacts(self, p: Person, home: str | None = None) -> None:
        rng = self.rng
        p.personal_email = self.personal_email(p.first, p.last, p.country)
        if rng.random() < 0.45:
            local = f"{_ascii_local(p.first)}.{_ascii_local(p.last)}"
            p.work_email = self.work_email(local, p.company.domain)
            if p.prev_company is not None:
                p.prev_work_email = self.work_email(local, p.prev_company.domain)
        p.mobile = self.phone(p.country, p.city, landline=False)
        p.home = home or (self.phone(p.country, p.city, landline=True) if rng.random() < 0.25 else None)
        p.slug = self.slug(p.first, p.last)

    # --- hard negatives ---
    def namesake(self, pid: str, of: Person, family: str, seniority: str) -> Person:
        """Another person with the same (common) name in the same city: must NOT be merged."""
        p = Person(pid=pid, first=of.first, last=of.last, family=family, seniority=seniority, country=of.country,
                   city=of.city, kind="namesake", of=of.pid)
        self._career(p)
        p.prev_city = p.moved_at = None  # same city throughout, like the other one
        self._contacts(p)
        return p

    def relative(self, pid: str, of: Person, family: str, seniority: str, female: bool) -> Person:
        """A relative: same surname, town and home phone; own first name and emails."""
        if of.home is None:
            of.home = self.phone(of.country, of.city, landline=True)
        locale = self.locale_pick[of.country].pick(self.rng)
        first = of.first
        while first == of.first:
            first = self.first_name(locale, female)
        p = Person(pid=pid, first=first, last=of.last, family=family, seniority=seniority, country=of.country,
                   city=of.city, kind="relative", of=of.pid)
        self._career(p)
        p.prev_city = p.moved_at = None
        self._contacts(p, home=of.home)
        return p


def _make_people(n: int, rng: random.Random, np_rng: np.random.Generator, seed: int) -> list[Person]:
    factory = _PeopleFactory(rng, np_rng, seed, n)
    countries = list(V.COUNTRIES)
    c_idx = np_rng.choice(len(countries), size=n, p=_norm([V.COUNTRIES[c][0] for c in countries]))
    families = list(V.FAMILIES)
    f_idx = np_rng.choice(len(families), size=n, p=_norm([V.FAMILIES[f][0] for f in families]))
    levels = list(V.SENIORITY)
    s_idx = np_rng.choice(len(levels), size=n, p=_norm([V.SENIORITY[s][0] for s in levels]))
    female = np_rng.random(n) < 0.45
    kind_draw = np_rng.random(n)
    people: list[Person] = []
    for i in range(n):
        pid = f"P{i + 1:07d}"
        fam, sen = families[f_idx[i]], levels[s_idx[i]]
        if i > 20 and kind_draw[i] < 0.012:
            people.append(factory.namesake(pid, people[rng.randrange(i)], fam, sen))
        elif i > 20 and kind_draw[i] < 0.022:
            people.append(factory.relative(pid, people[rng.randrange(i)], fam, sen, bool(female[i])))
        else:
            people.append(factory.make(pid, countries[c_idx[i]], fam, sen, bool(female[i])))
    return people


def _norm(ws: list[float]) -> np.ndarray:
    a = np.asarray(ws, dtype=float)
    return a / a.sum()


# ------------------------------------------------------------------------------------------------
# which sources hold each person, and when
# ------------------------------------------------------------------------------------------------
def _contract_windows(vendors_cfg: dict) -> dict[str, tuple[int, int]]:
    out = {}
    for key in VENDORS:
        c = vendors_cfg[key]["contract"]
        lo = int(datetime.fromisoformat(str(c["starts_on"])).replace(tzinfo=timezone.utc).timestamp())
        hi = int(datetime.fromisoformat(str(c["ends_on"])).replace(tzinfo=timezone.utc).timestamp())
        out[key] = (max(lo, START_TS), min(hi, NOW_TS - 2 * DAY))
    return out


_PRIMARY = {"ats": 0.52, "talentdb": 0.12, "hirewire": 0.12, "eurocv": 0.04, "talent_network": 0.13, "referral": 0.07}
_EXTRA = {"ats": 0.33, "talentdb": 0.17, "hirewire": 0.17, "eurocv": 0.07, "talent_network": 0.16, "referral": 0.10}


@dataclass
class Record:
    source: str
    person: Person
    ts: int                  # when the record entered the company's world (vendor rows: purchase date)
    state_ts: int            # the moment whose person state it shows (a vendor resume is older than its purchase)
    record_id: str = ""
    view: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _assign_sources(people: list[Person], rng: random.Random, windows: dict) -> list[Record]:
    prim = _Weighted(list(_PRIMARY), list(_PRIMARY.values()))
    extra = _Weighted(list(_EXTRA), list(_EXTRA.values()))
    records: list[Record] = []
    for p in people:
        europe = p.country in ("UK", "DE", "FR")
        wanted = [prim.pick(rng)]
        if rng.random() < 0.36:
            k = 1 + min(4, _poisson(rng, 0.9))
            tries = 0
            while k > 0 and tries < 20:
                tries += 1
                s = extra.pick(rng)
                if s in VENDORS and s in wanted:
                    continue  # a vendor holds one profile per person
                if s == "ats" and wanted.count("ats") >= (1 if rng.random() < 0.85 else 2):
                    continue  # duplicate ATS profiles happen, but not for most people
                if s in ("referral", "talent_network") and s in wanted and rng.random() < 0.8:
                    continue
                wanted.append(s)
                k -= 1
        for s in wanted:
            if s == "eurocv" and not europe and rng.random() < 0.85:
                s = "hirewire" if "hirewire" not in wanted else "ats"
            if s == "talentdb" and europe and rng.random() < 0.5:
                s = "eurocv" if "eurocv" not in wanted else "ats"
            if s in VENDORS:
                if any(r.source == s and r.person is p for r in records[-6:]):
                    s = "ats"
                lo, hi = windows[s]
                ts = rng.randint(lo, hi)
                ts = _purchase_date(ts, hi)
                state_ts = max(START_TS - YEAR, ts - rng.randint(5, 400) * DAY)
            else:
                ts = rng.randint(START_TS, NOW_TS - 3 * DAY)
                state_ts = ts
            records.append(Record(s, p, ts, state_ts))
    return records


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth; lam is small
    l, k, prod = math.exp(-lam), 0, rng.random()
    while prod > l:
        k += 1
        prod *= rng.random()
    return k


def _purchase_date(ts: int, hi: int) -> int:
    """Rows bought in a quarter arrive in that quarter's file, dated its last day (or the window's end)."""
    t = time.gmtime(ts)
    q_end_month = ((t.tm_mon - 1) // 3) * 3 + 3
    year, month = (t.tm_year + 1, 1) if q_end_month == 12 else (t.tm_year, q_end_month + 1)
    end = int(datetime(year, month, 1, tzinfo=timezone.utc).timestamp()) - DAY
    return min(end, hi)


# ------------------------------------------------------------------------------------------------
# the variation between one person's records
# ------------------------------------------------------------------------------------------------
def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 4:
        return s
    i = rng.randrange(1, len(s) - 1)
    r = rng.random()
    if r < 0.4:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]   # swap
    if r < 0.75:
        return s[:i] + s[i + 1:]                     # drop
    return s[:i] + s[i] + s[i:]                      # double


def _fold(rng: random.Random, s: str) -> str:
    if s.isascii():
        return s
    if any(ch in V.GERMAN_FOLD for ch in s) and rng.random() < 0.5:
        return "".join(V.GERMAN_FOLD.get(ch, ch) for ch in s)
    return unidecode(s)


def _vary_name(rng: random.Random, first: str, last: str, source: str) -> tuple[str, str]:
    if rng.random() < 0.11 and first in V.NICKNAMES:
        first = rng.choice(V.NICKNAMES[first])
    ascii_bias = 0.6 if source == "talentdb" else 0.2
    if rng.random() < ascii_bias:
        first, last = _fold(rng, first), _fold(rng, last)
    elif first in V.ACCENTED and rng.random() < 0.3:
        first = V.ACCENTED[first]
    if rng.random() < 0.03:
        first = _typo(rng, first)
    if rng.random() < 0.04:
        last = _typo(rng, last)
    r = rng.random()
    if r < 0.025:
        first, last = first.upper(), last.upper()
    elif r < 0.05:
        first, last = first.lower(), last.lower()
    elif r < 0.06 and len(first) > 2:
        first = first[0] + "."  # an initial only
    return first, last


def _mailbox(email: str) -> str:
    """The mailbox an address reaches: Gmail ignores dots and case in the local part, so two people
    can never hold addresses that differ only by dots there."""
    local, _, domain = email.lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _vary_email(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    if domain == "gmail.com":
        r = rng.random()
        if r < 0.12:
            local = local.replace(".", "") if "." in local else (local[:3] + "." + local[3:] if len(local) > 4 else local)
        elif r < 0.20:
            local = f"{local}+{rng.choice(V.PLUS_TAGS)}"
    r = rng.random()
    if r < 0.05:
        return f"{local}@{domain}".upper() if rng.random() < 0.3 else \
            ".".join(x.capitalize() for x in local.split(".")) + "@" + domain.capitalize()
    if r < 0.07:
        return f" {local}@{domain} "  # stray whitespace from copy-paste
    return f"{local}@{domain}"


def render_phone(country: str, nsn: str, rng: random.Random) -> str:
    """One of the many ways people write the same number."""
    r = rng.random()
    if country in ("US", "CA"):
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        forms = (f"+1 {a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"{a}{b}{c}", f"+1{a}{b}{c}",
                 f"{a} {b} {c}", f"1-{a}-{b}-{c}", f"({a}) {b} {c}")
        return forms[int(r * len(forms))]
    cc = {"UK": "44", "DE": "49", "FR": "33", "IN": "91"}[country]
    if country == "FR":
        pairs = " ".join(nsn[i:i + 2] for i in range(1, len(nsn), 2))
        forms = (f"+33 {nsn[0]} {pairs}", f"0{nsn[0]} {pairs}", f"+33{nsn}", f"0{nsn}")
    elif country == "IN":
        forms = (f"+91 {nsn[:5]} {nsn[5:]}", f"0{nsn[:5]} {nsn[5:]}", f"+91{nsn}", f"91-{nsn}")
    else:
        split = 4 if nsn.startswith("7") or nsn.startswith("15") else (2 if nsn[:2] in ("20", "30", "40", "69", "89") else 3)
        head, tail = nsn[:split], nsn[split:]
        forms = (f"+{cc} {head} {tail}", f"0{head} {tail}", f"+{cc}{nsn}", f"+{cc} (0){head} {tail}", f"00{cc} {head} {tail}")
    return forms[int(r * len(forms))]


def _render(rec: Record, rng: random.Random) -> dict:
    """The person as this source recorded them: resolve-contract fields (None = missing)."""
    p, s = rec.person, rec.source
    city_idx, title, company, work_email = p.state(rec.state_ts)
    first, last = _vary_name(rng, p.first, p.last, s)
    has_email, has_phone, has_li, personal_share = FIELD_PRESENCE[s]
    email_kind = None
    email = None
    if rng.random() < has_email:
        if work_email and rng.random() > personal_share:
            email, email_kind = work_email, "work"
        else:
            email, email_kind = p.personal_email, "personal"
        email = _vary_email(rng, email)
    phone = phone_kind = None
    if rng.random() < has_phone:
        if p.home and rng.random() < 0.3:
            phone, phone_kind = render_phone(p.country, p.home, rng), "home"
        else:
            phone, phone_kind = render_phone(p.country, p.mobile, rng), "mobile"
    city = region = None
    c = V.CITIES[city_idx]
    if rng.random() < 0.95:
        city = c[0]
        if city in V.CITY_VARIANTS and rng.random() < 0.25:
            city = rng.choice(V.CITY_VARIANTS[city])
        region = c[2] if (c[3] in ("US", "CA") and rng.random() < 0.7) else c[1]
    linkedin = None
    if rng.random() < has_li:
        r = rng.random()
        linkedin = (f"https://www.linkedin.com/in/{p.slug}" if r < 0.8 else
                    f"linkedin.com/in/{p.slug}/" if r < 0.9 else
                    f"http://{'uk' if p.country == 'UK' else 'www'}.linkedin.com/in/{p.slug}")
    years = round(max(0.0, p.years - (NOW_TS - rec.state_ts) / YEAR))
    if rng.random() < 0.1:
        years = max(0, years + rng.choice((-1, 1)))
    skills = rng.sample(p.skills, k=max(2, min(len(p.skills), rng.randint(3, len(p.skills)))))
    return {
        "first_name": first, "last_name": last, "email": email, "email_kind": email_kind, "phone": phone,
        "phone_kind": phone_kind, "city": city, "region": region, "country_code": c[3],
        "linkedin_url": linkedin, "current_title": title if rng.random() < 0.97 else None,
        "current_company": company.name if company is not None and rng.random() < 0.95 else None,
        "skills": skills, "years_experience": years,
    }


# ------------------------------------------------------------------------------------------------
# the ATS
# ------------------------------------------------------------------------------------------------
class _Ats:
    def __init__(self, rng: random.Random, people_count: int, factory_names: dict):
        self.rng = rng
        self.users = self._users(max(5, people_count // 1500), factory_names)
        self.recruiters = [u for u in self.users if not u["site_admin"]]
        self.sources = [{"id": 1000 + i, "name": n, "type": {"id": V.SOURCE_TYPES.index(t) + 1, "name": t}}
                        for i, (n, t, _, _) in enumerate(V.ATS_SOURCES)]
        self.source_by_name = {s["name"]: s for s in self.sources}
        self.channel_of = {n: ch for n, _, ch, _ in V.ATS_SOURCES}
        self.source_for_pool = {pool: n for n, _, _, pool in V.ATS_SOURCES if pool}
        self.reasons = [{"id": 500 + i, "name": n, "type": {"id": V.REJECTION_TYPES.index(t) + 1, "name": t}}
                        for i, (n, t) in enumerate(V.REJECTION_REASONS)]
        self.reasons_by_type = defaultdict(list)
        for r in self.reasons:
            self.reasons_by_type[r["type"]["name"]].append(r)
        self.channel_sources = defaultdict(list)
        for n, _, ch, _ in V.ATS_SOURCES:
            self.channel_sources[ch].append(n)
        self.channel_pick = _Weighted(list(V.CHANNEL_MIX), list(V.CHANNEL_MIX.values()))
        self.source_pick = {ch: _Weighted(ns, [V.SOURCE_WEIGHTS[n] for n in ns]) for ch, ns in self.channel_sources.items()}
        self.jobs = self._jobs(max(20, people_count // 80))
        self.candidates: list[dict] = []
        self.applications: list[dict] = []
        self.offers: list[dict] = []

    def _users(self, n: int, names: dict) -> list[dict]:
        rng = self.rng
        users = []
        taken = set()
        for i in range(n + 1):
            while True:
                first = names["en_US"][rng.random() < 0.55].pick(rng)
                last = names["en_US"][2].pick(rng)
                if (first, last) not in taken:
                    taken.add((first, last))
                    break
            created = START_TS - rng.randint(60, 900) * DAY
            disabled = i > 2 and i < n and rng.random() < 0.1
            users.append({
                "id": 4_100_001 + i, "name": f"{first} {last}", "first_name": first, "last_name": last,
                "primary_email_address": f"{_ascii_local(first)}.{_ascii_local(last)}@{V.COMPANY_DOMAIN}",
                "created_at": iso(created),
                "updated_at": iso(NOW_TS - rng.randint(30, 90) * DAY if disabled else created + rng.randint(1, 300) * DAY),
                "disabled": disabled, "site_admin": i == n, "employee_id": f"E{1001 + i}",
            })
        return users

    @staticmethod
    def user_ref(u: dict) -> dict:
        return {k: u[k] for k in ("id", "first_name", "last_name", "name", "employee_id")}

    def _jobs(self, n: int) -> list[dict]:
        rng = self.rng
        fams = list(V.FAMILIES)
        fam_pick = _Weighted(fams, [V.FAMILIES[f][0] for f in fams])
        jobs = []
        specs = [(f, True) for f in fams] + [(fam_pick.pick(rng), False) for _ in range(max(0, n - len(fams)))]
        rows = []
        for fam, evergreen in specs:
            if evergreen:
                created = START_TS - rng.randint(30, 90) * DAY
                dur = None
            else:
                created = rng.randint(START_TS - 45 * DAY, NOW_TS - 30 * DAY)
                dur = rng.randint(45, 240) * DAY
            rows.append((created, fam, evergreen, dur))
        rows.sort(key=lambda r: r[0])  # ids follow creation order, as in a real ATS
        for i, (created, fam, evergreen, dur) in enumerate(rows):
            jid = 4_500_001 + i
            sen = rng.choice(["mid", "senior", "senior", "lead", "junior"]) if not evergreen else "mid"
            base = V.FAMILIES[fam][2][0] if evergreen else rng.choice(V.FAMILIES[fam][2])
            name = _title(fam, sen, base) + (" (Evergreen)" if evergreen else "")
            opened = created + rng.randint(0, 14) * DAY
            closed = opened + dur if dur and opened + dur < NOW_TS - DAY else None
            office = rng.choice(V.OFFICES[:4]) if fam in ("design", "finance") else rng.choice(V.OFFICES)
            team = rng.sample(self.recruiters, k=min(len(self.recruiters), rng.choice((1, 1, 2))))
            jobs.append({
                "id": jid, "name": name, "requisition_id": f"REQ-{day(created, '%Y')}-{i + 1:04d}",
                "status": "closed" if closed else "open", "created_at": iso(created), "opened_at": iso(opened),
                "closed_at": iso(closed) if closed else None,
                "updated_at": iso(min(NOW_TS - DAY, (closed or opened) + rng.randint(0, 20) * DAY)),
                "departments": [{"id": 30_001 + fams.index(fam), "name": V.FAMILIES[fam][1]}],
                "offices": [{"id": 20_001 + V.OFFICES.index(office), "name": office[0],
                             "location": {"name": office[1]}}],
                "custom_fields": {"job_family": fam, "seniority": sen,
                                  "employment_type": "Contract" if rng.random() < 0.05 else "Full-time"},
                "hiring_team": {"recruiters": [dict(self.user_ref(u), responsible=j == 0) for j, u in enumerate(team)]},
                "_family": fam, "_open": opened, "_close": closed or NOW_TS, "_evergreen": evergreen,
            })
        # jobs open in each (family, month) for quick look-up when people apply
        self.open_jobs = defaultdict(list)
        self.evergreen = {}
        for j in jobs:
            if j["_evergreen"]:
                self.evergreen[j["_family"]] = j
                continue
            m = (j["_open"] - START_TS) // (30 * DAY)
            while START_TS + m * 30 * DAY <= j["_close"]:
                self.open_jobs[(j["_family"], m)].append(j)
                m += 1
        return jobs

    def pick_job(self, family: str, ts: int) -> dict:
        rng = self.rng
        if rng.random() < 0.05:
            family = rng.choice(list(V.FAMILIES))
        m = (ts - START_TS) // (30 * DAY)
        bucket = self.open_jobs.get((family, m))
        if bucket and rng.random() < 0.85:
            for _ in range(4):  # a job in this month's bucket is usually open on the day; retry a few
                j = bucket[int(rng.random() * len(bucket))]
                if j["_open"] <= ts <= j["_close"]:
                    return j
        return self.evergreen[family]


def _simulate_funnel(rng: random.Random, channel: str) -> int:
    """Index of the furthest stage reached if nothing is cut off by WORLD_NOW (5 = Hired)."""
    probs = FUNNEL[channel]
    stage = 0
    while stage < 5 and rng.random() < probs[stage]:
        stage += 1
    return stage


def _build_ats(ats: _Ats, records: list[Record], rng: random.Random, earlier: dict) -> dict:
    """Candidates, applications and offers for the ATS records (sorted by time; ids follow)."""
    stats = {"apps_by_status": Counter(), "apps_by_furthest": Counter(), "hires_by_source": Counter(),
             "hires_by_channel": Counter(), "apps_by_channel": Counter(), "offers_by_status": Counter(),
             "silver": set(), "hired_people": set(), "prospects": 0}
    hired_people = stats["hired_people"]
    cand_id = 10_000_001
    app_id = 50_000_001
    offer_id = 7_000_001
    apps_out, offers_out = [], []
    for rec in records:
        p, v = rec.person, rec.view
        rec.record_id = str(cand_id)
        cand = {"id": cand_id}
        cand_id += 1
        # a pool record from before explains where the candidate came from, often
        prior = [s for s in earlier.get((p.pid, rec.ts), ()) if s in ats.source_for_pool]
        first_source = ats.source_for_pool[prior[-1]] if prior and rng.random() < 0.65 else None
        n_apps = 1 + (rng.random() < 0.22) + (rng.random() < 0.06)
        t = rec.ts + rng.randint(0, 2 * DAY)
        app_ids, last_activity, recruiter = [], rec.ts, None
        for k in range(n_apps):
            if t > NOW_TS - 2 * DAY or p.pid in hired_people:
                break
            src_name = first_source if (k == 0 and first_source) else \
                ats.source_pick[ats.channel_pick.pick(rng)].pick(rng)
            if k > 0 and first_source and rng.random() < 0.5:
                src_name = first_source
            channel = ats.channel_of[src_name]
            job = ats.pick_job(p.family, t)
            t = max(t, job["_open"])
            app, offers, furthest, hired = _application(ats, rng, app_id, cand["id"], job, src_name, channel, t,
                                                        offer_id)
            offer_id += len(offers)
            apps_out.append(app)
            offers_out.extend(offers)
            app_ids.append(app_id)
            app_id += 1
            recruiter = recruiter or job["hiring_team"]["recruiters"][0]
            last_activity = max(last_activity, _ts(app["last_activity_at"]))
            stats["apps_by_status"][app["status"]] += 1
            stats["apps_by_furthest"][furthest] += 1
            stats["apps_by_channel"][channel] += 1
            if app["prospect"]:
                stats["prospects"] += 1
            for o in offers:
                stats["offers_by_status"][o["status"]] += 1
            if hired:
                hired_people.add(p.pid)
                stats["hires_by_source"][src_name] += 1
                stats["hires_by_channel"][channel] += 1
            elif furthest in ("Final Interview", "Offer") and app["status"] == "rejected":
                stats["silver"].add(p.pid)
            t = t + rng.randint(45, 400) * DAY
        updated = min(NOW_TS - 60, max(last_activity, rec.ts) + rng.randint(0, 3 * DAY))
        emails = []
        if v["email"]:
            emails.append({"value": v["email"], "type": v["email_kind"]})
            other = p.state(rec.state_ts)[3] if v["email_kind"] == "personal" else p.personal_email
            if other and rng.random() < 0.2:
                emails.append({"value": other, "type": "work" if v["email_kind"] == "personal" else "personal"})
        c = V.CITIES[p.state(rec.state_ts)[0]]
        cand.update({
            "first_name": v["first_name"], "last_name": v["last_name"], "company": v["current_company"],
            "title": v["current_title"], "created_at": iso(rec.ts), "updated_at": iso(updated),
            "last_activity": iso(updated),
            "email_addresses": emails,
            "phone_numbers": [{"value": v["phone"], "type": v["phone_kind"]}] if v["phone"] else [],
            "addresses": [{"value": ", ".join(x for x in (v["city"], v["region"], V.COUNTRIES[c[3]][1]) if x),
                           "type": "home"}] if v["city"] else [],
            "social_media_addresses": [{"value": v["linkedin_url"]}] if v["linkedin_url"] else [],
            "website_addresses": [{"value": f"https://github.com/{p.slug.split('-')[0]}{p.pid[-3:]}", "type": "personal"}]
            if p.family == "engineering" and rng.random() < 0.2 else [],
            "tags": list(v["skills"]),
            "application_ids": app_ids,
            "recruiter": recruiter and {k: recruiter[k] for k in ("id", "first_name", "last_name", "name", "employee_id")},
            "employments": [{"company_name": co.name, "title": ti, "start_date": iso(st), "end_date": iso(en) if en else None}
                            for co, ti, st, en in p.employments if st <= rec.state_ts][:3],
        })
        rec.extra["candidate"] = cand
        rec.extra["updated_at"] = cand["updated_at"]
        ats.candidates.append(cand)
    ats.applications = apps_out
    ats.offers = offers_out
    return stats


def _ts(s: str) -> int:
    """Inverse of iso() (strptime is needlessly slow for this one fixed format)."""
    return calendar.timegm((int(s[:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19])))


def _application(ats: _Ats, rng: random.Random, app_id: int, cand_id: int, job: dict, src_name: str, channel: str,
                 applied: int, offer_id: int):
    furthest = _simulate_funnel(rng, channel)
    recruiter = job["hiring_team"]["recruiters"][0]
    prospect = channel == "sourced" and furthest == 0 and rng.random() < 0.5
    history = []
    t = applied
    status, rejected_at, reason, current = "active", None, None, None
    if prospect:
        # a prospect was added by a sourcer and never entered the job's stages
        if NOW_TS - applied > 60 * DAY:
            status, rejected_at = "rejected", applied + rng.randint(20, 60) * DAY
            reason = rng.choice(ats.reasons_by_type["They rejected us"][-1:])  # Unresponsive
        reached = "Prospect"
    else:
        reached = V.STAGES[0]
        for s in range(furthest + 1):
            if t > NOW_TS:
                break
            stage_id = job["id"] * 10 + s
            if s == 5:  # Hired: a terminal stage, never exited
                history.append({"stage_id": stage_id, "stage_name": V.STAGES[s], "entered_at": iso(t), "exited_at": None})
                status, reached = "hired", "Hired"
                current = {"id": stage_id, "name": V.STAGES[s]}
                break
            lo, hi = STAGE_DAYS[s]
            exit_t = t + rng.randint(lo * DAY, hi * DAY)
            reached = V.STAGES[s]
            if exit_t > NOW_TS:  # still in this stage at WORLD_NOW
                history.append({"stage_id": stage_id, "stage_name": V.STAGES[s], "entered_at": iso(t), "exited_at": None})
                current = {"id": stage_id, "name": V.STAGES[s]}
                break
            history.append({"stage_id": stage_id, "stage_name": V.STAGES[s], "entered_at": iso(t),
                            "exited_at": iso(exit_t)})
            current = {"id": stage_id, "name": V.STAGES[s]}
            if s == furthest:  # the application ends here
                status, rejected_at = "rejected", exit_t
                if s == 4:
                    reason = rng.choice(ats.reasons_by_type["They rejected us"][:2])  # declined the offer
                else:
                    r = rng.random()
                    kind = "We rejected them" if r < 0.78 else ("They rejected us" if r < 0.95 else "None specified")
                    reason = rng.choice(ats.reasons_by_type[kind])
            t = exit_t
    last = max([applied] + [_ts(h["exited_at"] or h["entered_at"]) for h in history] + ([rejected_at] if rejected_at else []))
    app = {
        "id": app_id, "candidate_id": cand_id, "prospect": prospect, "applied_at": iso(applied),
        "rejected_at": iso(rejected_at) if rejected_at else None, "last_activity_at": iso(last),
        "source": {"id": ats.source_by_name[src_name]["id"], "public_name": src_name},
        "credited_to": None if channel == "inbound" else ats.user_ref(recruiter),
        "rejection_reason": reason, "jobs": [{"id": job["id"], "name": job["name"]}], "status": status,
        "current_stage": current, "stage_history": history,
    }
    offers = []
    offer_stage = next((h for h in history if h["stage_name"] == "Offer"), None)
    if offer_stage:
        entered = _ts(offer_stage["entered_at"])
        resolved = _ts(offer_stage["exited_at"]) if offer_stage["exited_at"] else None
        o_status = "accepted" if status == "hired" else ("rejected" if resolved else "unresolved")
        versions = [entered]
        if resolved and rng.random() < 0.1:  # a revised offer replaces the first one
            versions.append(entered + (resolved - entered) // 2)
        for vi, created in enumerate(versions):
            last_v = vi == len(versions) - 1
            res = resolved if last_v else versions[vi + 1]
            offers.append({
                "id": offer_id + vi, "version": vi + 1, "application_id": app_id, "candidate_id": cand_id,
                "job_id": job["id"], "created_at": iso(created), "updated_at": iso(res or created),
                "sent_at": iso(min(created + 3600 * rng.randint(1, 30), NOW_TS)), "resolved_at": iso(res) if res else None,
                "starts_at": day((res or created) + rng.randint(14, 45) * DAY),
                "status": o_status if last_v else "deprecated",
            })
    return app, offers, reached, status == "hired"


# ------------------------------------------------------------------------------------------------
# vendor files
# ------------------------------------------------------------------------------------------------
def _vendor_row(vendor: str, rec: Record, cfg: dict) -> dict:
    """Canonical fields -> the vendor's own columns and conventions."""
    v = rec.view
    cc = v["country_code"]
    fmt = cfg["date_format"]
    updated = iso(rec.state_ts) if fmt == "iso" else day(rec.state_ts, fmt)
    sep = cfg["skills_separator"]
    skills = list(v["skills"]) if sep == "list" else sep.join(v["skills"])
    canon = {
        "vendor_record_id": rec.record_id, "first_name": v["first_name"], "last_name": v["last_name"],
        "email": v["email"], "phone": v["phone"], "city": v["city"], "region": v["region"],
        "linkedin_url": v["linkedin_url"], "current_title": v["current_title"],
        "current_company": v["current_company"], "skills": skills, "years_experience": v["years_experience"],
        "updated_at": updated,
    }
    if vendor == "talentdb":
        canon["country"] = V.ISO2[cc]
    elif vendor == "eurocv":
        canon["country"] = V.COUNTRIES[cc][1] if rec.view.get("_alt") is None else rec.view["_alt"]
    canon["full_name"] = " ".join(x for x in (v["first_name"], v["last_name"]) if x)
    canon["location"] = ", ".join(x for x in (v["city"], v["region"], {"US": "USA"}.get(cc, V.COUNTRIES[cc][1])) if x)
    rec.extra["defect"] = v.get("_defect")
    out: dict[str, Any] = {}
    for col, canonical in cfg["columns"].items():
        value = canon.get(canonical)
        if "." in col:  # nested JSON, e.g. contact.email
            head, tail = col.split(".", 1)
            out.setdefault(head, {})[tail] = value
        else:
            out[col] = value
    return out


def _defect(rng: random.Random, rec: Record, fmt: str) -> None:
    """A few rows arrive broken, as real exports do (the pipeline quarantines them)."""
    kind = rng.choice(("bad_email", "bad_date", "no_name"))
    v = rec.view
    if kind == "bad_email" and v["email"]:
        v["email"] = v["email"].strip().replace("@", "@@", 1) if rng.random() < 0.5 else v["email"].strip().split("@")[0]
    elif kind == "bad_date":
        v["_bad_date"] = {"iso": "2025-02-30T10:00:00Z", "%m/%d/%Y": "13/45/2025", "%d.%m.%Y": "31.02.2025"}[fmt]
    else:
        kind = "no_name"
        v["first_name"] = v["last_name"] = None
    v["_defect"] = kind


def _write_vendor_files(landing: Path, vendor_recs: dict[str, list[Record]], cfgs: dict) -> dict:
    files_out = {}
    for vendor in VENDORS:
        cfg = cfgs[vendor]
        folder = landing / "vendors" / vendor
        folder.mkdir(parents=True, exist_ok=True)
        by_file: dict[int, list[Record]] = defaultdict(list)
        for rec in vendor_recs[vendor]:
            by_file[rec.ts].append(rec)
        files_out[vendor] = []
        ext = {"csv": "csv", "jsonl": "jsonl", "xlsx": "xlsx"}[cfg["format"]]
        for ts in sorted(by_file):
            name = f"{vendor}_export_{day(ts)}.{ext}"
            rows = []
            for rec in by_file[ts]:
                row = _vendor_row(vendor, rec, cfg)
                bad = rec.view.get("_bad_date")
                if bad:
                    key = next(c for c, canon in cfg["columns"].items() if canon == "updated_at")
                    row[key] = bad
                rows.append(row)
                rec.extra["file_name"] = name
            path = folder / name
            if cfg["format"] == "csv":
                with open(path, "w", newline="", encoding=cfg.get("encoding", "utf-8")) as fh:
                    w = csv.DictWriter(fh, fieldnames=list(cfg["columns"]), delimiter=cfg.get("delimiter", ","))
                    w.writeheader()
                    w.writerows([{k: ("" if val is None else val) for k, val in r.items()} for r in rows])
            elif cfg["format"] == "jsonl":
                with open(path, "w", encoding="utf-8") as fh:
                    for r in rows:
                        fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            else:
                _write_xlsx(path, list(cfg["columns"]), rows, ts)
            os.utime(path, (ts, ts))  # the file's date is the purchase date, like a real drop
            files_out[vendor].append({"file": name, "rows": len(rows), "purchased_at": iso(ts)})
    return files_out


def _write_xlsx(path: Path, header: list[str], rows: list[dict], ts: int) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Candidates")
    ws.append(header)
    for r in rows:
        ws.append([r.get(h) for h in header])
    stamp = datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)
    wb.properties.created = stamp
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps "now" into docProps/core.xml and the zip entries: pin both so a seed gives the same bytes
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso(ts).encode(), data)
            zi = zipfile.ZipInfo(info.filename, date_time=time.gmtime(ts)[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)


# ------------------------------------------------------------------------------------------------
# web store: forms and past campaigns' email events
# ------------------------------------------------------------------------------------------------
def _submission(rec: Record, rng: random.Random, referrer_names: dict) -> dict:
    v, p = rec.view, rec.person
    submitted = rec.ts
    row = {
        "form": rec.source, "submitted_at": iso(submitted), "first_name": v["first_name"],
        "last_name": v["last_name"], "email": v["email"], "phone": v["phone"], "city": v["city"],
        "region": v["region"], "country": V.COUNTRIES[v["country_code"]][1], "linkedin_url": v["linkedin_url"],
        "current_title": v["current_title"], "current_company": v["current_company"],
        "skills": ";".join(v["skills"]), "years_experience": str(v["years_experience"]),
        "job_families": ";".join([p.family] + ([rng.choice(list(V.FAMILIES))] if rng.random() < 0.2 else [])),
    }
    net = rng.choice(("203.0.113", "198.51.100", "192.0.2"))  # documentation ranges
    if rec.source == "talent_network":
        version = "tn-consent-v1" if submitted < _ts("2025-06-01T00:00:00Z") else "tn-consent-v2"
        confirmed = submitted + rng.randint(60, 2 * DAY) if rng.random() < 0.88 else None
        if confirmed and confirmed > NOW_TS:
            confirmed = None
        row.update({
            "resume_text": f"{v['current_title'] or 'Professional'} with {v['years_experience']} years of experience. "
                           f"Skills: {', '.join(v['skills'])}." if rng.random() < 0.6 else None,
            "consent_marketing": 1, "consent_wording_version": version,
            "consent_wording_hash": hashlib.sha256(V.CONSENT_WORDING[version].encode()).hexdigest(),
            "confirmed_at": iso(confirmed) if confirmed else None,
        })
    else:
        first, last = referrer_names["pick"]()
        row.update({
            "consent_marketing": 0, "referrer_name": f"{first} {last}",
            "referrer_email": f"{_ascii_local(first)}.{_ascii_local(last)}@{V.COMPANY_DOMAIN}",
            "relationship": rng.choice(V.REFERRAL_RELATIONSHIPS),
        })
    row["ip"] = f"{net}.{rng.randint(1, 254)}"
    row["user_agent"] = rng.choice(V.USER_AGENTS)
    return row


def _email_events(rng: random.Random, records: list[Record], pending_ids: set[str]) -> list[dict]:
    """Past campaigns sent to people with an ATS profile or a confirmed talent-network sign-up."""
    reachable = []  # (ts, family, email, pid)
    for rec in records:
        if rec.view.get("email") and (rec.source == "ats" or
                                      (rec.source == "talent_network" and rec.record_id not in pending_ids)):
            email = rec.view["email"].strip().lower()
            if "@" in email and "@@" not in email:
                reachable.append((rec.ts, rec.person.family, email, rec.person.pid))
    events = []
    for cmp_id, sent_at, families in V.PAST_CAMPAIGNS:
        sent = _ts(sent_at)
        seen = set()
        audience = []
        for ts, fam, email, pid in reachable:
            if ts < sent and (families is None or fam in families) and pid not in seen:
                seen.add(pid)
                audience.append(email)
        if not audience:
            continue
        k = max(1, int(len(audience) * (0.35 if families else 0.2)))
        for n, email in enumerate(rng.sample(audience, min(k, len(audience)))):
            msg_id = f"<{cmp_id}.{n}@mail.{V.COMPANY_DOMAIN}>"
            t0 = sent + rng.randint(0, 3600)
            evs = []
            if rng.random() < 0.03:
                evs.append(("bounce", t0 + 30, {"bounce_type": "hard" if rng.random() < 0.7 else "soft"}))
            else:
                evs.append(("delivered", t0 + 5, {}))
                if rng.random() < 0.3:  # privacy-protected mailboxes fetch every image at delivery
                    evs.append(("open", t0 + rng.randint(10, 600), {"is_machine_open": 1}))
                if rng.random() < 0.38:
                    t = t0 + rng.randint(300, 3 * DAY)
                    for _ in range(1 + (rng.random() < 0.3)):
                        evs.append(("open", t, {}))
                        t += rng.randint(600, 2 * DAY)
                    if rng.random() < 0.25:
                        evs.append(("click", t + 20, {"url": f"https://careers.{V.COMPANY_DOMAIN}/jobs?utm_source=email"
                                                              f"&utm_medium=email&utm_campaign={cmp_id}"}))
                    if rng.random() < 0.03:
                        evs.append(("unsubscribe", t + 60, {}))
                if rng.random() < 0.002:
                    evs.append(("complaint", t0 + rng.randint(DAY, 5 * DAY), {}))
            for j, (ev, ts, extra) in enumerate(evs):
                eid = hashlib.blake2b(f"{cmp_id}|{n}|{j}|{ev}".encode(), digest_size=12).hexdigest()
                row = {"provider_event_id": f"evt_{eid}", "provider": "sandbox-esp", "event": ev, "email": email,
                       "campaign_id": cmp_id, "message_id": msg_id, "occurred_at": iso(ts),
                       "url": extra.get("url"), "bounce_type": extra.get("bounce_type"),
                       "is_machine_open": extra.get("is_machine_open", 0)}
                row["payload"] = {"event": ev, "email": email, "timestamp": ts, "sg_message_id": msg_id,
                                  "event_id": row["provider_event_id"], "campaign": cmp_id,
                                  **{k: v for k, v in extra.items()}}
                events.append(row)
    events.sort(key=lambda e: (e["occurred_at"], e["provider_event_id"]))
    return events


# ------------------------------------------------------------------------------------------------
# the whole world
# ------------------------------------------------------------------------------------------------
def _paths(home: Path | None):
    settings = get_settings()
    if home is None or Path(home).resolve() == settings.home:
        return settings.home, settings.sandbox_dir, settings.landing_dir, settings.web_store_path
    home = Path(home).resolve()
    return home, home / "sandbox", home / "landing", home / "web" / "web.sqlite"


def _vendor_configs() -> dict:
    return load_yaml(CONFIG_DIR / "vendors.yaml")["vendors"]


def _clear(sandbox_dir: Path, landing: Path, store_path: Path) -> None:
    for d in (sandbox_dir, landing / "vendors"):
        if d.exists():
            shutil.rmtree(d)
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = Path(str(store_path) + suffix)
        if f.exists():
            f.unlink()


def generate_world(people: int, seed: int, home: Path | None = None) -> WorldSummary:
    """Generate the sandbox world for (people, seed), replacing any previous world in ``home``."""
    if people < 1:
        raise ValueError("people must be at least 1")
    started = time.perf_counter()
    home, sandbox_dir, landing, store_path = _paths(home)
    _clear(sandbox_dir, landing, store_path)
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    vendor_cfgs = _vendor_configs()

    persons = _make_people(people, rng, np_rng, seed)
    windows = _contract_windows(vendor_cfgs)
    records = _assign_sources(persons, rng, windows)
    # the company's view of time: records sorted by when they arrived (ids follow that order)
    records.sort(key=lambda r: (r.ts, SOURCES.index(r.source), r.person.pid))
    for rec in records:
        rec.view = _render(rec, rng)

    # what the pool already held about a person when a record arrived
    earlier: dict[tuple[str, int], list[str]] = {}
    seen_sources: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for rec in records:
        prior = seen_sources[rec.person.pid]
        if prior:
            earlier[(rec.person.pid, rec.ts)] = [s for t, s in prior if t < rec.ts]
        prior.append((rec.ts, rec.source))

    by_source: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        by_source[rec.source].append(rec)

    # --- ATS ---
    names = _name_pools(seed + 7)
    ats = _Ats(rng, people, names)
    ats_stats = _build_ats(ats, by_source["ats"], rng, earlier)
    _describe_jobs(ats.jobs, seed)  # its own random stream: the rest of the world is unchanged

    # --- vendors ---
    vendor_stats = {}
    for vendor in VENDORS:
        prefix, start = {"talentdb": ("TDB-", 1_000_000), "hirewire": ("hw_", 0), "eurocv": ("ECV-", 40_000)}[vendor]
        for i, rec in enumerate(by_source[vendor]):
            if vendor == "hirewire":
                rec.record_id = "hw_" + hashlib.blake2b(f"{seed}|{i}".encode(), digest_size=6).hexdigest()
            elif vendor == "eurocv":
                rec.record_id = f"ECV-{day(rec.ts, '%y')}-{start + i:06d}"
            else:
                rec.record_id = f"{prefix}{start + i * 7 + rng.randint(0, 6)}"
            if rng.random() < 0.004:
                _defect(rng, rec, vendor_cfgs[vendor]["date_format"])
            if vendor == "eurocv" and rng.random() < 0.15:
                rec.view["_alt"] = {"DE": "Deutschland", "UK": "UK", "FR": "FR"}.get(rec.view["country_code"])
        in_pool = sum(1 for r in by_source[vendor] if earlier.get((r.person.pid, r.ts)))
        vendor_stats[vendor] = {"rows": len(by_source[vendor]), "already_in_pool": in_pool}
    files = _write_vendor_files(landing, by_source, vendor_cfgs)
    for vendor in VENDORS:
        cost = float(vendor_cfgs[vendor]["contract"]["cost_per_resume"])
        vendor_stats[vendor].update({
            "files": files[vendor], "cost": round(cost * vendor_stats[vendor]["rows"], 2),
            "defective_rows": [{"source_record_id": r.record_id, "file_name": r.extra["file_name"],
                                "kind": r.view["_defect"]} for r in by_source[vendor] if r.view.get("_defect")],
        })

    # --- forms, in submission order (submission_id = position in a fresh store) ---
    form_recs = sorted(by_source["talent_network"] + by_source["referral"], key=lambda r: (r.ts, r.person.pid))
    ref_pool = names["en_US"]
    referrer = {"pick": lambda: (ref_pool[rng.random() < 0.5].pick(rng), ref_pool[2].pick(rng))}
    submissions = []
    pending = set()
    for i, rec in enumerate(form_recs):
        rec.record_id = str(i + 1)
        row = _submission(rec, rng, referrer)
        if rec.source == "talent_network" and row["confirmed_at"] is None:
            pending.add(rec.record_id)
        rec.extra["updated_at"] = row["submitted_at"]
        submissions.append(row)
    events = _email_events(rng, records, pending)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with web_store.store(store_path) as con:
        web_store.insert_submissions(con, submissions)
        if web_store.last_key(con, "form_submissions") != len(submissions):
            raise RuntimeError("the web store was not empty; submission ids would not match the truth")
        web_store.insert_email_events(con, events)

    # --- files ---
    ats_dir = sandbox_dir / "ats"
    ats_dir.mkdir(parents=True, exist_ok=True)
    public_jobs = [{k: v for k, v in j.items() if not k.startswith("_")} for j in ats.jobs]
    for name, rows in (("candidates", ats.candidates), ("applications", ats.applications), ("jobs", public_jobs),
                       ("users", ats.users), ("sources", _with_times(ats.sources)),
                       ("offers", ats.offers), ("rejection_reasons", _with_times(ats.reasons))):
        _write_json_array(ats_dir / f"{name}.json", sorted(rows, key=lambda r: r["id"]))
    _write_json_array(ats_dir / "eeoc.json", eeoc_answers(ats.applications, seed))  # no id: sorted by application

    truth_dir = sandbox_dir / "truth"
    exports_dir = sandbox_dir / "exports"
    truth_dir.mkdir(parents=True, exist_ok=True)
    exports_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records, key=lambda r: (SOURCES.index(r.source), _id_key(r.record_id)))
    with open(truth_dir / "source_record_person.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "source_record_id", "true_person_id"])
        w.writerows((r.source, r.record_id, r.person.pid) for r in ordered)
    with open(exports_dir / "source_records.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(RESOLVE_COLUMNS)
        for r in ordered:
            w.writerow(_export_row(r))

    _write_search_truth(truth_dir, persons, ats.jobs)
    truth = _truth(people, seed, persons, records, by_source, ats, ats_stats, vendor_stats, submissions, events)
    (truth_dir / "world.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")

    elapsed = time.perf_counter() - started
    return WorldSummary(
        people=people, seed=seed, home=home, seconds=elapsed,
        records_by_source={s: len(by_source[s]) for s in SOURCES},
        candidates=len(ats.candidates), applications=len(ats.applications), hires=truth["hires"]["total"],
        jobs=len(ats.jobs), vendor_rows={v: vendor_stats[v]["rows"] for v in VENDORS},
        vendor_rows_already_in_pool=sum(vendor_stats[v]["already_in_pool"] for v in VENDORS),
        submissions=len(submissions), email_events=len(events), truth=truth,
    )


def _describe_jobs(jobs: list[dict], seed: int) -> None:
    """Each job's description (Harvest's `notes`) naming the skills it asks for (`_skills`, kept for the truth)."""
    for job in jobs:
        jrng = random.Random(seed * 1_000_003 + job["id"])
        family, seniority = job["_family"], job["custom_fields"]["seniority"]
        skills = jrng.sample(V.FAMILIES[family][3], k=4)
        lo, hi = V.SENIORITY[seniority if seniority in V.SENIORITY else "mid"][1]
        office = job["offices"][0]["location"]["name"]
        job["_skills"] = skills
        job["notes"] = (f"We are looking for a {job['name'].replace(' (Evergreen)', '')} to join our "
                        f"{V.FAMILIES[family][1]} team ({office}). You bring {lo}+ years of experience and "
                        f"hands-on {', '.join(skills[:-1])} and {skills[-1]}.")


def person_truth(p: Person) -> dict:
    """What the generator made a person: their real name (as they write it) and where they live now, which
    survivorship and the place dimensions are measured against, and their family, seniority and skills,
    which search relevance is judged against. Tests and benchmarks only; the pipeline never reads it."""
    city = V.CITIES[p.city]
    return {"true_person_id": p.pid, "first_name": p.first, "last_name": p.last, "job_family": p.family, "seniority": p.seniority, "skills": ";".join(p.skills),
            "years_experience": p.years, "current_title": p.title, "current_company": p.company.name,
            "city": city[0], "region": city[1], "country": V.COUNTRIES[city[3]][1],
            "country_code": V.ISO2[p.country], "kind": p.kind}


def person_positions(p: Person) -> list[dict]:
    """A person's employments, newest first, as `dim_candidate_work_history` rows (title, company_name)."""
    return [{"title": title, "company_name": company.name} for company, title, _, _ in p.employments]


def generate_profiles(people: int, seed: int) -> list[Person]:
    """Only the people of a world (no sources, ATS or files): what search benchmarks index at 1M."""
    return _make_people(people, random.Random(seed), np.random.default_rng(seed), seed)


def _write_search_truth(truth_dir: Path, persons: list[Person], jobs: list[dict]) -> None:
    """truth/people.csv (`person_truth` of everyone) and truth/jobs.csv (what each job asks for)."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    with open(truth_dir / "people.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(person_truth(persons[0])))
        w.writeheader()
        w.writerows(person_truth(p) for p in persons)
    with open(truth_dir / "jobs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["job_id", "job_name", "job_family", "seniority", "skills", "status", "notes"])
        w.writerows((j["id"], j["name"], j["_family"], j["custom_fields"]["seniority"], ";".join(j["_skills"]),
                     j["status"], j["notes"]) for j in jobs)


def _with_times(rows: list[dict]) -> list[dict]:
    # sources and rejection reasons carry timestamps so that `updated_after` works on every endpoint
    stamp = iso(START_TS - 120 * DAY)
    return [dict(r, created_at=stamp, updated_at=stamp) for r in rows]


def _id_key(record_id: str):
    return (0, int(record_id), "") if record_id.isdigit() else (1, 0, record_id)


def _write_json_array(path: Path, rows: list[dict]) -> None:
    # one element per line: still a JSON array, but diffable and cheap to stream
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n")
        fh.write(",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows))
        fh.write("\n]\n")


def _export_row(r: Record) -> list:
    v = r.view
    if r.source == "ats":
        c = r.extra["candidate"]
        email = c["email_addresses"][0]["value"] if c["email_addresses"] else None
        updated = c["updated_at"]
    elif r.source in VENDORS:
        email = v["email"]
        updated = v.get("_bad_date") or iso(r.state_ts)
    else:
        email = v["email"]
        updated = r.extra["updated_at"]
    if r.source == "talentdb":
        country = V.ISO2[v["country_code"]]
    elif r.source == "eurocv" and v.get("_alt"):
        country = v["_alt"]
    else:
        country = V.COUNTRIES[v["country_code"]][1]
    vals = [r.source, r.record_id, v["first_name"], v["last_name"], email, v["phone"], v["city"], v["region"],
            country, v["linkedin_url"], v["current_title"], v["current_company"], ";".join(v["skills"]),
            "" if r.source == "ats" else str(v["years_experience"]), updated]
    return ["" if x is None else x for x in vals]


def _truth(people, seed, persons, records, by_source, ats, ats_stats, vendor_stats, submissions, events) -> dict:
    per_person = Counter(r.person.pid for r in records)
    sources_per_person: dict[str, set] = defaultdict(set)
    for r in records:
        sources_per_person[r.person.pid].add(r.source)
    ats_per_person = Counter(r.person.pid for r in by_source["ats"])
    tn = [s for s in submissions if s["form"] == "talent_network"]
    hires = sum(ats_stats["hires_by_source"].values())
    return {
        "generator_version": GENERATOR_VERSION, "seed": seed, "world_now": iso(NOW_TS), "world_start": iso(START_TS),
        "people": people,
        "source_records": {
            "total": len(records), "by_source": {s: len(by_source[s]) for s in SOURCES},
            "per_person": round(len(records) / people, 4),
            "people_with_2plus_records": sum(1 for n in per_person.values() if n >= 2),
            "people_in_2plus_sources": sum(1 for s in sources_per_person.values() if len(s) >= 2),
            "ats_people_with_duplicate_profiles": sum(1 for n in ats_per_person.values() if n >= 2),
        },
        "hard_negatives": {
            "namesakes": sum(1 for p in persons if p.kind == "namesake"),
            "relatives": sum(1 for p in persons if p.kind == "relative"),
            "pairs": [[p.of, p.pid, p.kind] for p in persons if p.kind != "base"],
        },
        "ats": {"candidates": len(ats.candidates), "jobs": len(ats.jobs), "users": len(ats.users),
                "recruiters": len(ats.recruiters), "sources": len(ats.sources),
                "rejection_reasons": len(ats.reasons), "offers": len(ats.offers)},
        "applications": {
            "total": len(ats.applications), "by_status": dict(sorted(ats_stats["apps_by_status"].items())),
            "by_furthest_stage": dict(sorted(ats_stats["apps_by_furthest"].items())),
            "by_channel": dict(sorted(ats_stats["apps_by_channel"].items())), "prospects": ats_stats["prospects"],
        },
        "hires": {"total": hires, "by_source": dict(sorted(ats_stats["hires_by_source"].items())),
                  "by_channel": dict(sorted(ats_stats["hires_by_channel"].items())),
                  "people": len(ats_stats["hired_people"])},
        "offers": {"total": len(ats.offers), "by_status": dict(sorted(ats_stats["offers_by_status"].items()))},
        "silver_medalists": {"count": len(ats_stats["silver"] - ats_stats["hired_people"]),
                             "person_ids": sorted(ats_stats["silver"] - ats_stats["hired_people"])},
        "vendors": vendor_stats,
        "talent_network": {"submissions": len(tn), "confirmed": sum(1 for s in tn if s["confirmed_at"]),
                           "pending": sum(1 for s in tn if not s["confirmed_at"])},
        "referrals": sum(1 for s in submissions if s["form"] == "referral"),
        "email_events": {"total": len(events), "by_type": dict(sorted(Counter(e["event"] for e in events).items())),
                         "machine_opens": sum(1 for e in events if e["is_machine_open"]),
                         "campaigns": sorted({e["campaign_id"] for e in events})},
        **_warehouse_truth(records, ats, ats_stats, vendor_stats),
    }


def _warehouse_truth(records, ats, ats_stats, vendor_stats) -> dict:
    """Facts the warehouse tests check the marts against (derived from what was generated; no draws)."""
    first_seen: dict[str, Counter] = defaultdict(Counter)
    for r in records:  # the day each record entered the company's world (vendor rows: the purchase)
        first_seen[r.source][day(r.ts)] += 1
    ats_source_of_vendor = {pool: name for name, _, _, pool in V.ATS_SOURCES if pool in VENDORS}
    vendor_roi = {}
    for vendor, name in sorted(ats_source_of_vendor.items()):
        hires = ats_stats["hires_by_source"].get(name, 0)
        spend = vendor_stats[vendor]["cost"]
        vendor_roi[vendor] = {"ats_source": name, "spend": spend, "hires": hires,
                              "cost_per_hire": round(spend / hires, 2) if hires else None}
    silver_apps = sorted(a["id"] for a in ats.applications if a["status"] == "rejected" and a["stage_history"]
                         and a["stage_history"][-1]["stage_name"] in ("Final Interview", "Offer"))
    return {
        "first_seen_by_day": {s: dict(sorted(c.items())) for s, c in sorted(first_seen.items())},
        "vendor_roi": vendor_roi,
        "silver_medal_application_ids": silver_apps,
        "hired_application_ids": sorted(a["id"] for a in ats.applications if a["status"] == "hired"),
    }


# Voluntary EEO self-identification (Harvest's `GET /v1/eeoc` shape): the answers US applicants give
# on the application form, kept by the ATS apart from the candidate. Drawn from a random stream of
# their own, so adding them changed nothing else in the world.
EEOC_SHARE = 0.45
EEOC_RACES = ("American Indian or Alaskan Native", "Asian", "Black or African American", "Hispanic or Latino",
              "White", "Native Hawaiian or Other Pacific Islander", "Two or More Races", "Decline To Self Identify")
EEOC_RACE_WEIGHTS = (1, 12, 13, 18, 45, 1, 4, 6)
EEOC_GENDERS = ("Male", "Female", "Decline To Self Identify")
EEOC_VETERAN = ("I am not a protected veteran", "I identify as one or more of the classifications of protected veteran",
                "I don't wish to answer")
EEOC_DISABILITY = ("No, I don't have a disability", "Yes, I have a disability (or previously had a disability)",
                   "I don't wish to answer")


def eeoc_answers(applications: list[dict], seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-eeoc")
    rows = []
    for app in sorted(applications, key=lambda a: a["id"]):
        if app.get("prospect") or rng.random() >= EEOC_SHARE:
            continue
        race = rng.choices(range(len(EEOC_RACES)), weights=EEOC_RACE_WEIGHTS)[0]
        gender = rng.choices(range(3), weights=(48, 46, 6))[0]
        veteran = rng.choices(range(3), weights=(88, 5, 7))[0]
        disability = rng.choices(range(3), weights=(84, 8, 8))[0]
        rows.append({"application_id": app["id"], "candidate_id": app["candidate_id"],
                     "submitted_at": app["applied_at"],
                     "race": {"id": race + 1, "description": EEOC_RACES[race]},
                     "gender": {"id": gender + 1, "description": EEOC_GENDERS[gender]},
                     "veteran_status": {"id": veteran + 1, "message": EEOC_VETERAN[veteran]},
                     "disability_status": {"id": disability + 1, "description": EEOC_DISABILITY[disability]}})
    return rows
