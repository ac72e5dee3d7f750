"""What the forms ask, and strict validation of what comes back (no regexes for emails or phones)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from warmpool.emails import InvalidEmail, normalize_email
from warmpool.mail import MAX_PLAIN_NAME_WORDS, plain_name
from warmpool.text import InvalidProfileUrl, clean_name, profile_url

# The consent wording (shown, versioned and hashed) is the brand's: warmpool.config.Brand.

JOB_FAMILIES = {
    "engineering": "Engineering", "data": "Data and analytics", "product": "Product management",
    "design": "Design", "sales": "Sales", "marketing": "Marketing", "customer_success": "Customer success",
    "operations": "Operations", "finance": "Finance", "people": "People and HR",
}
RELATIONSHIPS = {
    "former_colleague": "Former colleague", "current_colleague": "Current colleague elsewhere",
    "friend": "Friend", "classmate": "Classmate", "family": "Family member", "other": "Other",
}
# Preference-centre topics are campaign kinds, so the campaign sender can match them directly.
TOPICS = {
    "invite_to_apply": "Jobs that match my profile",
    "nurture": "News, stories and hiring events",
}
FREQUENCIES = {"normal": "Whenever there is something relevant", "monthly": "At most once a month",
               "quarterly": "At most once a quarter"}

# ISO 3166-1 alpha-2 codes (stored as the code; also the default region for phone parsing).
COUNTRIES = {
    "AR": "Argentina", "AU": "Australia", "AT": "Austria", "BE": "Belgium", "BR": "Brazil", "BG": "Bulgaria",
    "CA": "Canada", "CL": "Chile", "CN": "China", "CO": "Colombia", "HR": "Croatia", "CZ": "Czechia",
    "DK": "Denmark", "EG": "Egypt", "EE": "Estonia", "FI": "Finland", "FR": "France", "DE": "Germany",
    "GR": "Greece", "HK": "Hong Kong", "HU": "Hungary", "IN": "India", "ID": "Indonesia", "IE": "Ireland",
    "IL": "Israel", "IT": "Italy", "JP": "Japan", "KE": "Kenya", "LV": "Latvia", "LT": "Lithuania",
    "LU": "Luxembourg", "MY": "Malaysia", "MX": "Mexico", "NL": "Netherlands", "NZ": "New Zealand",
    "NG": "Nigeria", "NO": "Norway", "PK": "Pakistan", "PE": "Peru", "PH": "Philippines", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SA": "Saudi Arabia", "SG": "Singapore", "SK": "Slovakia",
    "SI": "Slovenia", "ZA": "South Africa", "KR": "South Korea", "ES": "Spain", "SE": "Sweden",
    "CH": "Switzerland", "TW": "Taiwan", "TH": "Thailand", "TR": "Türkiye", "UA": "Ukraine",
    "AE": "United Arab Emirates", "GB": "United Kingdom", "US": "United States", "VN": "Vietnam",
}

MAX_LEN = {"first_name": 100, "last_name": 100, "city": 100, "region": 100, "skills": 1000,
           "current_title": 200, "current_company": 200, "referrer_name": 200, "linkedin_url": 300}


@dataclass
class Result:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


# Every message a person reads is built from a field's label, and a label is the whole noun phrase as
# it reads after "Please enter" (its own determiner included: "your first name", "the candidate's email
# address", "a country"), so no builder ever adds an article of its own. ``sentence`` starts a message
# with one.


def sentence(label: str) -> str:
    return label[:1].upper() + label[1:]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def clean_line(res: Result, form: Any, name: str, label: str, required: bool = False) -> str | None:
    """A one-line text field: kept literally (HTML is escaped on output, never stripped here), but
    control characters (CR, LF, NUL, ...) are refused: they have no place in a name and are how
    header injection starts."""
    value = _text(form, name)
    if not value:
        if required:
            res.errors[name] = f"Please enter {label}."
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        res.errors[name] = f"{sentence(label)} contains characters we cannot accept (line breaks or control characters)."
        return None
    if len(value) > MAX_LEN.get(name, 200):
        res.errors[name] = f"{sentence(label)} is too long (at most {MAX_LEN.get(name, 200)} characters)."
        return None
    return value


def clean_person_name(res: Result, form: Any, name: str, label: str, required: bool = False) -> str | None:
    """A person's name: a one-line field (`clean_line`) without bidi controls, zero-width and other
    invisible characters (`warmpool.text.clean_name`); nothing left counts as not given."""
    value = clean_line(res, form, name, label, required)
    if value is None:
        return None
    cleaned = clean_name(value)
    if cleaned is None and required:
        res.errors[name] = f"Please enter {label}."
    return cleaned


def clean_plain_name(res: Result, form: Any, name: str, label: str) -> str | None:
    """A required name that goes into mail sent to someone else (``warmpool.mail.plain_name``): letters,
    spaces, hyphens and apostrophes only, so no link or message can ride along in it; invisible
    characters are dropped first (`clean_person_name`)."""
    value = clean_person_name(res, form, name, label, required=True)
    if value is None:
        return None
    plain = plain_name(value)
    if plain is None:
        res.errors[name] = (f"Please enter {label} as letters only: no links, numbers or other text "
                            f"(at most {MAX_PLAIN_NAME_WORDS} words).")
    return plain


def clean_email(res: Result, form: Any, name: str, label: str = "your email address", required: bool = True) -> str | None:
    value = _text(form, name)
    if not value:
        if required:
            res.errors[name] = f"Please enter {label}."
        return None
    try:
        # SMTPUTF8 local parts are refused because not every relay carries them.
        return normalize_email(value, ascii_only=True)
    except InvalidEmail as exc:
        res.errors[name] = f"{sentence(label)} does not look right: {exc}"
        return None


def clean_phone(res: Result, form: Any, name: str, country: str | None) -> str | None:
    value = _text(form, name)
    if not value:
        return None
    if len(value) > 40 or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        res.errors[name] = "Please enter a phone number, for example +1 415 555 0132."
        return None
    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException:
        res.errors[name] = "Please enter a phone number with its country code, for example +44 20 7946 0958."
        return None
    if not phonenumbers.is_valid_number(number):
        res.errors[name] = "This phone number is not valid for its country."
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_choice(res: Result, form: Any, name: str, choices: dict[str, str], label: str, required: bool = False) -> str | None:
    value = _text(form, name)
    if not value:
        if required:
            res.errors[name] = f"Please choose {label}."
        return None
    if value not in choices:
        res.errors[name] = f"Please choose {label} from the list."
        return None
    return value


def clean_multi(res: Result, values: list[str], name: str, choices: dict[str, str], label: str,
                required: bool = False) -> list[str]:
    """Several of ``choices``; ``label`` names them all ("the job families")."""
    picked = []
    for v in values:
        if not isinstance(v, str) or v not in choices:
            res.errors[name] = f"Please choose from {label} listed."
            return []
        if v not in picked:
            picked.append(v)
    if required and not picked:
        res.errors[name] = f"Please choose at least one of {label}."
    return picked


def clean_candidate_profile(res: Result, form: Any) -> None:
    """The fields both forms ask about a candidate, into ``res.values``: country (ISO code), phone
    (E.164, read in that country's format), city, region, profile URL and current title."""
    v = res.values
    v["country"] = clean_choice(res, form, "country", COUNTRIES, "a country")
    v["phone"] = clean_phone(res, form, "phone", v["country"])
    v["city"] = clean_line(res, form, "city", "the city")
    v["region"] = clean_line(res, form, "region", "the region or state")
    v["linkedin_url"] = clean_url(res, form, "linkedin_url")
    v["current_title"] = clean_line(res, form, "current_title", "the current job title")


def clean_skills(res: Result, form: Any) -> str | None:
    raw = clean_line(res, form, "skills", "the skills")
    if not raw:
        return None
    # Stored ';'-separated (the resolve contract); people type commas.
    parts = [p.strip() for chunk in raw.split(";") for p in chunk.split(",")]
    return ";".join(p for p in parts if p) or None


def clean_url(res: Result, form: Any, name: str) -> str | None:
    """A profile URL in its canonical form (`warmpool.text.profile_url`: http or https, a real host,
    no markup or template syntax; LinkedIn profiles as https://www.linkedin.com/in/<name>)."""
    value = clean_line(res, form, name, "the profile URL")
    if not value:
        return None
    try:
        return profile_url(value)
    except InvalidProfileUrl as exc:
        res.errors[name] = f"Please enter a web address starting with https:// ({exc})."
        return None
