"""A second recruiting world, built differently from the sandbox: the evidence identity work is judged by.

Households of candidates drawn from a small, skewed vocabulary (``vocab.py``), each person appearing
in one or more of eight sources (an ATS, a job board, a resume database, career-fair badge scans,
referrals, an SMS opt-in list, former employees, webinar sign-ups). Every record is what that source
would hold about the person *at the record's date* (people move, change employers and mailboxes),
then passed through this module's own noise model: nicknames, stripped or mangled accents, typos,
swapped first/last names, email variants (case, Gmail dots and plus tags, a new employer's work
address, an older personal address), phones in many national and international formats with and
without the country code, relatives sharing a surname, an address or a phone.

Streams to disk with bounded memory (state is one household, a shuffle buffer per source, and
counters keyed by vocabulary, never by person) and is deterministic by seed. Output in ``out_dir``:
``records.csv`` (the resolve contract plus the optional columns ``date_of_birth, postcode,
address_line, middle_name, full_name``; ``;``-separated alternates in ``email`` and ``phone``),
``truth.csv`` (``source, source_record_id, true_person_id``) kept apart, and ``manifest.json``.

Shares no code with ``sandbox/`` and imports nothing from the project (checked by a test).
"""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import time
import unicodedata
from bisect import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from itertools import accumulate
from pathlib import Path

from benchmarks.othergen import vocab

GENERATOR_VERSION = 2

# The resolve contract (docs/data-contracts.md section 4) and the optional columns, in file order.
COLUMNS = (
    "source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
    "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at",
    "date_of_birth", "postcode", "address_line", "middle_name", "full_name",
)
TRUTH_COLUMNS = ("source", "source_record_id", "true_person_id")

# Records are dated within this window; people move and change jobs inside it.
FIRST_DAY = date(2018, 1, 1).toordinal()
LAST_DAY = date(2025, 6, 30).toordinal()

# Phone subscriber numbers are a bijection of a person's index (``_permute``), so two people never
# share a mobile by accident — only relatives share one, on purpose. A person who moves abroad may
# take a second number (index + people), hence the cap.
_PHONE_SPACE = 8_000_000
MAX_PEOPLE = _PHONE_SPACE // 2

# Source -> (share of appearances, id prefix). Sources differ in what they hold (``_record``).
SOURCES = {
    "ats": (28, "APP"), "jobboard": (20, "JB"), "resume_db": (14, "CV"), "career_fair": (10, "BADGE"),
    "referral": (8, "REF"), "sms_optin": (8, "SMS"), "alumni": (6, "EMP"), "webinar": (6, "WEB"),
}
_SOURCE_NAMES = list(SOURCES)
_SOURCE_CUM = list(accumulate(w for w, _ in SOURCES.values()))

# How many sources a person appears in: 1 (45%) ... 6.
_APPEARANCES_CUM = list(accumulate([45, 28, 14, 7, 4, 2]))
# Household sizes 1-4 (people who are all candidates somewhere).
_HOUSEHOLD_CUM = list(accumulate([55, 25, 12, 8]))

_EU_DATE_COUNTRIES = {"GB", "DE", "FR", "ES", "PL", "NL", "SE", "IT", "BR", "IN"}
_NUMBER_AFTER_STREET = {"DE", "FR", "ES", "PL", "NL", "SE", "IT", "BR"}
_KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", [
    "wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol", "qsz", "awdx", "sefc", "drgv", "fthb",
    "gyjn", "hukm", "jil", "kop", "asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk"])}
# How people name their personal mailbox: (cumulative share, pattern).
_MAILBOX_PATTERNS = ((0.35, "{f}.{l}"), (0.55, "{f}{l}"), (0.68, "{fi}{l}"), (0.78, "{f}_{l}"), (0.88, "{l}.{f}"),
                     (1.01, "{f}{li}"))
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "ı": "i", "đ": "d", "æ": "ae"})


def _zipf_cum(n: int, s: float) -> list[float]:
    return list(accumulate(1.0 / (rank ** s) for rank in range(1, n + 1)))


def _permute(i: int, space: int, salt: int) -> int:
    """A bijection of [0, space) (multiplier coprime to space): distinct indices, distinct numbers."""
    return (i * 2_654_435_761 + salt) % space  # 2654435761 is prime, so coprime to any space < it


@lru_cache(maxsize=4096)  # names and places repeat: the vocabulary is small
def fold_accents(text: str) -> str:
    """ASCII folding as an accent-stripping export would do it ("Łukasz Müller" -> "Lukasz Muller")."""
    text = text.translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _ascii_slug(text: str) -> str:
    return "".join(c for c in fold_accents(text).lower() if c.isalnum())


@dataclass
class Person:
    index: int
    household: int
    first_name: str
    middle_name: str | None
    last_name: str
    birth: int                       # ordinal
    homes: list                      # [(from_day, city_index, address_line, postcode)]
    phones: list                     # [(from_day, city_index, subscriber)]
    personal_emails: list            # [(from_day, address)] newest last
    jobs: list                       # [(from_day, employer_index, title_index, work_email)]
    linkedin: str | None
    skills: list
    career_start: int                # ordinal
    household_phone: tuple | None = None  # (city_index, subscriber) of the household's main line
    nickname: str | None = None


@dataclass
class _SourceWriter:
    """One source's rows through a bounded shuffle buffer, so a person's records are not adjacent."""
    path: Path
    rng: random.Random
    capacity: int
    buffer: list = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        self.handle = self.path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.handle)

    def add(self, row: list) -> None:
        self.rows += 1
        if len(self.buffer) < self.capacity:
            self.buffer.append(row)
            return
        i = self.rng.randrange(self.capacity)
        self.writer.writerow(self.buffer[i])
        self.buffer[i] = row

    def close(self) -> None:
        self.rng.shuffle(self.buffer)
        self.writer.writerows(self.buffer)
        self.buffer.clear()
        self.handle.close()


class WorldGenerator:
    """Deterministic by ``seed``: one random stream, people generated household by household."""

    def __init__(self, seed: int, shuffle_buffer: int = 20_000) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.shuffle_buffer = shuffle_buffer
        # Top first name ~14% of its sex, top surname ~8% of people: many namesakes, by design.
        self.first_f_cum = _zipf_cum(len(vocab.FIRST_NAMES_F), 0.7)
        self.first_m_cum = _zipf_cum(len(vocab.FIRST_NAMES_M), 0.7)
        self.surname_cum = _zipf_cum(len(vocab.SURNAMES), 0.6)
        self.city_cum = _zipf_cum(len(vocab.CITIES), 0.9)
        self.employer_cum = _zipf_cum(len(vocab.EMPLOYERS), 0.8)
        self.freemail_cum = _zipf_cum(len(vocab.FREEMAIL), 1.2)
        # mailbox name -> how many people took it; bounded by the vocabulary, not by the number of people
        self.mailbox_counts: dict[str, int] = {}
        self.linkedin_counts: dict[str, int] = {}
        self.people = 0
        self.households = 0

    # ------------------------------------------------------------------ drawing people
    def _pick(self, items, cum):
        return items[bisect(cum, self.rng.random() * cum[-1])]

    def _first_name(self, female: bool) -> str:
        return self._pick(vocab.FIRST_NAMES_F, self.first_f_cum) if female else \
            self._pick(vocab.FIRST_NAMES_M, self.first_m_cum)

    def _mailbox(self, stem: str, domain: str) -> str:
        """A unique address: the first taker of ``stem@domain`` gets it bare, later ones a number.

        Stems never contain digits, so ``stem + number`` cannot collide with another stem.
        """
        key = f"{stem.replace('.', '') if domain == 'gmail.com' else stem}@{domain}"  # Gmail ignores dots
        n = self.mailbox_counts.get(key, 0)
        self.mailbox_counts[key] = n + 1
        return f"{stem}{n if n else ''}@{domain}"

    def _email_stem(self, first: str, last: str, nickname: str | None) -> str:
        f, l = _ascii_slug(nickname if nickname and self.rng.random() < 0.3 else first), _ascii_slug(last)
        r = self.rng.random()
        return next(fmt for p, fmt in _MAILBOX_PATTERNS if r < p).format(f=f, l=l, fi=f[0], li=l[0])

    def _work_email(self, person_first: str, person_last: str, employer: int) -> str:
        domain = vocab.EMPLOYERS[employer][1]
        f, l = _ascii_slug(person_first), _ascii_slug(person_last)
        stem = f"{f}.{l}" if self.rng.random() < 0.7 else f"{f[0]}{l}"
        return self._mailbox(stem, domain)

    def _address(self, city: int) -> tuple[str, str]:
        country = vocab.CITIES[city][2]
        street = self.rng.choice(vocab.STREETS)
        number = str(self.rng.randint(1, 220))
        line = f"{street} {number}" if country in _NUMBER_AFTER_STREET else f"{number} {street}"
        if self.rng.random() < 0.2:
            line += f", Apt {self.rng.randint(1, 30)}{self.rng.choice('ABCD')}"
        pattern = vocab.CITIES[city][7]
        postcode = "".join(str(self.rng.randrange(10)) if c == "9" else
                           self.rng.choice("ABCDEFGHJKLMNPRSTUVWXY") if c == "A" else c for c in pattern)
        return line, postcode

    def _move(self, city: int) -> int:
        """Most moves stay in the country; some cross a border."""
        country = vocab.CITIES[city][2]
        same = [i for i, c in enumerate(vocab.CITIES) if c[2] == country and i != city]
        if same and self.rng.random() < 0.7:
            return self.rng.choice(same)
        return self._pick(range(len(vocab.CITIES)), self.city_cum)

    def _household(self) -> list[Person]:
        rng = self.rng
        size = bisect(_HOUSEHOLD_CUM, rng.random() * _HOUSEHOLD_CUM[-1]) + 1
        hh = self.households
        self.households += 1
        surname = self._pick(vocab.SURNAMES, self.surname_cum)
        city = self._pick(range(len(vocab.CITIES)), self.city_cum)
        address, postcode = self._address(city)
        # The household moves together (one move at most); a border crossing may bring new phones.
        move_day = rng.randint(FIRST_DAY, LAST_DAY) if rng.random() < 0.22 else None
        new_city = self._move(city) if move_day else None
        new_home = self._address(new_city) if move_day else None
        head_born = rng.randint(date(1958, 1, 1).toordinal(), date(2003, 12, 31).toordinal())
        people = []
        for k in range(size):
            if self.people >= MAX_PEOPLE:
                raise ValueError(f"the world is capped at {MAX_PEOPLE:,} people (unique phone numbers)")
            female = rng.random() < 0.5
            if k == 0:
                born, last = head_born, surname
            elif k == 1:  # partner: about the same age, keeps their own surname 40% of the time
                born = head_born + rng.randint(-2500, 2500)
                last = surname if rng.random() < 0.6 else self._pick(vocab.SURNAMES, self.surname_cum)
            else:         # adult child or sibling: the family surname
                born = head_born + rng.choice([rng.randint(7300, 12000), rng.randint(-3000, 3000)])
                last = surname
            born = min(born, date(2004, 6, 30).toordinal())
            first = self._first_name(female)
            nickname = rng.choice(vocab.NICKNAMES[first]) if first in vocab.NICKNAMES and rng.random() < 0.5 else None
            middle = rng.choice(vocab.MIDDLE_NAMES) if rng.random() < 0.35 else None
            homes = [(FIRST_DAY, city, address, postcode)]
            phones = [(FIRST_DAY, city, _permute(self.people, _PHONE_SPACE, self.seed))]
            if move_day:
                homes.append((move_day, new_city, *new_home))
                if vocab.CITIES[new_city][2] != vocab.CITIES[city][2] and rng.random() < 0.5:
                    phones.append((move_day, new_city,
                                   _permute(self.people + MAX_PEOPLE, _PHONE_SPACE, self.seed)))
            emails = [(FIRST_DAY, self._mailbox(self._email_stem(first, last, nickname),
                                                 self._pick(vocab.FREEMAIL, self.freemail_cum)))]
            if rng.random() < 0.25:  # a newer personal mailbox replaces an older one at some point
                emails.append((rng.randint(FIRST_DAY, LAST_DAY), self._mailbox(
                    self._email_stem(first, last, nickname), self._pick(vocab.FREEMAIL, self.freemail_cum))))
            career_start = born + rng.randint(6800, 9000)
            jobs = []
            day = max(career_start, FIRST_DAY - rng.randint(0, 3000))
            while day < LAST_DAY and len(jobs) < 4:
                employer = self._pick(range(len(vocab.EMPLOYERS)), self.employer_cum)
                title = rng.randrange(len(vocab.TITLES))
                jobs.append((day, employer, title, self._work_email(first, last, employer)))
                day += rng.randint(500, 2500)
            linkedin = None
            if rng.random() < 0.35:
                slug = f"{_ascii_slug(first)}-{_ascii_slug(last)}"
                n = self.linkedin_counts.get(slug, 0)
                self.linkedin_counts[slug] = n + 1
                linkedin = slug if n == 0 else f"{slug}-{n:x}{rng.randrange(16):x}"
            people.append(Person(self.people, hh, first, middle, last, born, homes, phones, emails, jobs,
                                 linkedin, rng.sample(vocab.SKILLS, rng.randint(2, 6)), career_start,
                                 nickname=nickname))
            self.people += 1
        main_line = (people[0].phones[0][1], people[0].phones[0][2])
        for p in people[1:]:
            p.household_phone = main_line
        return people

    # ------------------------------------------------------------------ noise
    def _typo(self, text: str) -> str:
        if len(text) < 3:
            return text
        rng = self.rng
        i = rng.randrange(1, len(text))
        kind = rng.random()
        if kind < 0.3:
            return text[:i] + text[i + 1:]
        if kind < 0.5:
            return text[:i] + text[i] + text[i:]
        if kind < 0.75 and i < len(text) - 1:
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        near = _KEYBOARD.get(text[i].lower())
        return text[:i] + (rng.choice(near) if near else text[i]) + text[i + 1:]

    def _name_noise(self, name: str, *, ascii_only: bool, typo_rate: float) -> str:
        rng = self.rng
        if ascii_only:
            name = fold_accents(name)
        elif name != fold_accents(name) and rng.random() < 0.02:
            name = name.encode("utf-8").decode("latin-1")  # an export that mixed up its encodings
        if rng.random() < typo_rate:
            name = self._typo(name)
        r = rng.random()
        if r < 0.04:
            name = name.upper()
        elif r < 0.07:
            name = name.lower()
        return name

    def _email_variant(self, address: str) -> str:
        rng = self.rng
        local, _, domain = address.partition("@")
        if domain == "gmail.com":
            r = rng.random()
            if r < 0.12:
                local = local.replace(".", "")
            elif r < 0.2 and len(local) > 3:
                j = rng.randrange(1, len(local) - 1)
                local = local[:j] + "." + local[j:] if "." not in local[j - 1:j + 1] else local
            if rng.random() < 0.1:
                local += "+" + rng.choice(["jobs", "cv", "linkedin", "2021", "apply"])
        r = rng.random()
        if r < 0.05:
            return f"{local}@{domain}".upper()
        if r < 0.1:
            return f"{local.title()}@{domain.capitalize()}"
        if r < 0.11:
            return f"{self._typo(local)}@{domain}"
        return f"{local}@{domain}"

    def _phone_text(self, city: int, subscriber: int, with_country: bool) -> str:
        rng = self.rng
        _, _, _, cc, trunk, prefixes, digits, _, _ = vocab.CITIES[city]
        prefix = prefixes[subscriber % len(prefixes)]
        nsn = prefix + (str(2_000_000 + subscriber) if digits == 7 else f"{subscriber + 10_000_000:08d}")
        if cc == "1":  # North America: (415) 555-0134 and friends
            area, a, b = nsn[:3], nsn[3:6], nsn[6:]
            if with_country:
                return rng.choice([f"+1 {area} {a} {b}", f"+1{nsn}", f"1-{area}-{a}-{b}", f"+1 ({area}) {a}-{b}"])
            return rng.choice([f"({area}) {a}-{b}", f"{area}-{a}-{b}", f"{area}.{a}.{b}", nsn])
        groups = " ".join(nsn[i:i + 3] for i in range(0, len(nsn), 3))
        if with_country:
            return rng.choice([f"+{cc} {groups}", f"+{cc}{nsn}", f"00{cc} {nsn}", f"+{cc} ({trunk}){nsn}" if trunk
                               else f"+{cc}-{nsn}"])
        return rng.choice([f"{trunk}{nsn}", f"{trunk}{groups}", f"{trunk}{nsn[:4]} {nsn[4:]}", f"{trunk}-{nsn}"])

    # ------------------------------------------------------------------ records
    @staticmethod
    def _at(timeline: list, day: int):
        current = timeline[0]
        for item in timeline:
            if item[0] <= day:
                current = item
        return current

    def _record(self, p: Person, source: str, day: int) -> dict:
        rng = self.rng
        _, city, address, postcode = self._at(p.homes, day)
        city_row = vocab.CITIES[city]
        job = self._at(p.jobs, day) if p.jobs and p.jobs[0][0] <= day else None
        ascii_only = source in ("sms_optin", "alumni") or rng.random() < 0.25
        typo = {"ats": 0.03, "jobboard": 0.06, "resume_db": 0.04, "career_fair": 0.08, "sms_optin": 0.07,
                "webinar": 0.06}.get(source, 0.03)
        first = p.nickname if p.nickname and rng.random() < 0.45 else p.first_name
        first = self._name_noise(first, ascii_only=ascii_only, typo_rate=typo)
        last = self._name_noise(p.last_name, ascii_only=ascii_only, typo_rate=typo)
        if rng.random() < 0.02 and p.middle_name:  # a double first name in one field
            first = f"{first} {p.middle_name}"
        swapped = rng.random() < (0.05 if source in ("jobboard", "sms_optin", "career_fair") else 0.01)
        if swapped:
            first, last = last, first
        row = {"first_name": first, "last_name": last, "updated_at": date.fromordinal(day).isoformat()}

        # email: which addresses this source sees
        personal = self._at(p.personal_emails, day)[1]
        older = [e for d, e in p.personal_emails if d <= day and e != personal]
        work = job[3] if job else None
        emails = []
        has_email = {"ats": 0.95, "jobboard": 0.9, "resume_db": 0.9, "career_fair": 0.95, "referral": 0.9,
                     "sms_optin": 0.0, "alumni": 0.5, "webinar": 1.0}[source]
        if rng.random() < has_email:
            use_work = work and rng.random() < {"career_fair": 0.6, "webinar": 0.5, "referral": 0.2}.get(source, 0.03)
            emails.append(work if use_work else personal)
            if source in ("resume_db", "ats") and rng.random() < (0.2 if source == "resume_db" else 0.05):
                extra = older[-1] if older else (work if work and not use_work else None)
                if extra:
                    emails.append(extra)
        row["email"] = ";".join(self._email_variant(e) for e in emails)

        # phone: own mobile, sometimes the household line, in the format this export happens to use
        has_phone = {"ats": 0.8, "jobboard": 0.6, "resume_db": 0.85, "career_fair": 0.0, "referral": 0.0,
                     "sms_optin": 1.0, "alumni": 0.9, "webinar": 0.0}[source]
        phones = []
        if rng.random() < has_phone:
            _, ph_city, sub = self._at(p.phones, day)
            own = (ph_city, sub)
            if p.household_phone and rng.random() < 0.08:
                phones.append(p.household_phone)
            else:
                phones.append(own)
            if len(p.phones) > 1 and rng.random() < 0.15:
                phones.append((p.phones[0][1], p.phones[0][2]))
            elif p.household_phone and source in ("resume_db", "alumni") and rng.random() < 0.12:
                phones.append(p.household_phone)
        with_cc = rng.random() < {"sms_optin": 0.85, "jobboard": 0.5}.get(source, 0.4)
        row["phone"] = ";".join(dict.fromkeys(self._phone_text(c, s, with_cc or vocab.CITIES[c][2] != city_row[2])
                                              for c, s in phones))

        # place
        if rng.random() < {"referral": 0.5, "webinar": 0.6, "career_fair": 0.2}.get(source, 0.93):
            name = city_row[0]
            r = rng.random()
            if city_row[8] and r < 0.2:
                name = rng.choice(city_row[8])
            elif r < 0.25:
                name = self._typo(name)
            row["city"] = fold_accents(name) if ascii_only else name
            row["region"] = city_row[1] if rng.random() < 0.85 else ""
            r = rng.random()
            row["country"] = city_row[2] if r < 0.7 else rng.choice(vocab.COUNTRY_NAMES[city_row[2]]) if r < 0.9 else ""

        # work
        if job and rng.random() < {"sms_optin": 0.1, "webinar": 0.6}.get(source, 0.85):
            name, _, variants = vocab.EMPLOYERS[job[1]]
            r = rng.random()
            row["current_company"] = rng.choice(variants) if r < 0.2 else self._typo(name) if r < 0.23 else name
            title, tvariants = vocab.TITLES[job[2]]
            row["current_title"] = rng.choice(tvariants) if rng.random() < 0.25 else title
        if source in ("ats", "jobboard", "resume_db", "referral") and rng.random() < 0.8:
            row["skills"] = ";".join(rng.sample(p.skills, min(len(p.skills), rng.randint(1, 4))))
            years = max(0, (day - p.career_start) // 365 + rng.choice([-1, 0, 0, 0, 1]))
            row["years_experience"] = str(years)
        if p.linkedin and source in ("ats", "referral", "jobboard") and rng.random() < 0.5:
            row["linkedin_url"] = rng.choice([f"https://www.linkedin.com/in/{p.linkedin}/",
                                              f"linkedin.com/in/{p.linkedin}", f"http://uk.linkedin.com/in/{p.linkedin}"])

        # optional columns
        if rng.random() < {"resume_db": 0.4, "alumni": 0.9}.get(source, 0.0):
            born = date.fromordinal(p.birth)
            y, m, d = born.year, born.month, born.day
            if rng.random() < 0.03 and d <= 12:
                m, d = d, m
            text = f"{d:02d}/{m:02d}/{y}" if city_row[2] in _EU_DATE_COUNTRIES and rng.random() < 0.6 else \
                f"{y}-{m:02d}-{d:02d}"
            row["date_of_birth"] = self._typo(text) if rng.random() < 0.02 else text
        if rng.random() < {"resume_db": 0.6, "alumni": 0.95}.get(source, 0.0):
            line = address
            for long, short in vocab.STREET_ABBREVIATIONS.items():
                if long in line and rng.random() < 0.3:
                    line = line.replace(long, short)
            row["address_line"] = self._typo(line) if rng.random() < 0.04 else line
        if rng.random() < {"resume_db": 0.7, "alumni": 0.95, "jobboard": 0.5}.get(source, 0.0):
            pc = postcode
            r = rng.random()
            row["postcode"] = pc.replace(" ", "").replace("-", "") if r < 0.15 else pc.lower() if r < 0.2 else \
                self._typo(pc) if r < 0.22 else pc
        if p.middle_name and rng.random() < {"ats": 0.15, "alumni": 0.6, "resume_db": 0.3}.get(source, 0.0):
            row["middle_name"] = p.middle_name if rng.random() < 0.7 else p.middle_name[0] + "."
        if source == "jobboard":  # one name field; often the only one the board exports
            f, l = (last, first) if swapped else (first, last)
            r = rng.random()
            full = f"{l}, {f}" if r < 0.2 else f"{l.upper()} {f}" if r < 0.3 else \
                f"{f} {p.middle_name} {l}" if (p.middle_name and r < 0.4) else f"{f} {l}"
            row["full_name"] = full
            if rng.random() < 0.6:
                row["first_name"] = row["last_name"] = ""
        return row

    # ------------------------------------------------------------------ the run
    def write(self, out_dir: Path, *, people: int | None = None, records: int | None = None) -> dict:
        """Generate until ``people`` people or ``records`` records (whichever is given) are written."""
        if (people is None) == (records is None):
            raise ValueError("give exactly one of people= or records=")
        out_dir = Path(out_dir)
        parts = out_dir / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        writers = {s: _SourceWriter(parts / f"{s}.csv", random.Random(f"{self.seed}-{s}"), self.shuffle_buffer)
                   for s in SOURCES}
        counters = dict.fromkeys(SOURCES, 0)
        written = 0
        rng = self.rng
        with (out_dir / "truth.csv").open("w", newline="", encoding="utf-8") as truth_handle:
            truth = csv.writer(truth_handle)
            truth.writerow(TRUTH_COLUMNS)
            while (self.people < people) if people is not None else (written < records):
                for person in self._household():
                    n = bisect(_APPEARANCES_CUM, rng.random() * _APPEARANCES_CUM[-1]) + 1
                    for _ in range(n):
                        source = _SOURCE_NAMES[bisect(_SOURCE_CUM, rng.random() * _SOURCE_CUM[-1])]
                        row = self._record(person, source, rng.randint(FIRST_DAY, LAST_DAY))
                        counters[source] += 1
                        record_id = f"{SOURCES[source][1]}-{_permute(counters[source], 10**9, self.seed):09d}"
                        writers[source].add([source, record_id, *(row.get(c, "") for c in COLUMNS[2:])])
                        truth.writerow((source, record_id, f"P{person.index:08d}"))
                        written += 1
        for w in writers.values():
            w.close()
        with (out_dir / "records.csv").open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerow(COLUMNS)
            for s in SOURCES:
                with (parts / f"{s}.csv").open(encoding="utf-8") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        shutil.rmtree(parts)
        manifest = {"generator": "benchmarks.othergen", "generator_version": GENERATOR_VERSION, "seed": self.seed,
                    "people": self.people, "households": self.households, "records": written,
                    "records_per_source": {s: w.rows for s, w in writers.items()},
                    "seconds": round(time.perf_counter() - started, 1)}
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        return manifest


def generate(out_dir: Path | str, *, seed: int, people: int | None = None, records: int | None = None) -> dict:
    """Write ``records.csv``, ``truth.csv`` and ``manifest.json`` into ``out_dir``; return the manifest."""
    return WorldGenerator(seed).write(Path(out_dir), people=people, records=records)


def cached(root: Path | str, *, seed: int, people: int | None = None, records: int | None = None) -> Path:
    """A generated world under ``root``, generated once per (size, seed, generator version)."""
    size = f"p{people}" if people is not None else f"r{records}"
    out = Path(root) / f"othergen_v{GENERATOR_VERSION}_{size}_s{seed}"
    if not (out / "manifest.json").exists():
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        generate(tmp, seed=seed, people=people, records=records)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out
