"""What the forms ask, and strict validation of what comes back (no regexes for emails or phones)."""
from __future__ import annotations

import hashlib
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from warmpool.emails import InvalidEmail, normalize_email

# Consent wording is versioned: the version and a hash of the exact text are stored with each
# submission, so what a person agreed to can be shown later. Change the text -> bump the version.
CONSENT_VERSION = "tn-2026-01"
CONSENT_TEXT = (
    "I agree that Warmpool may keep my details in its talent network and email me about jobs, "
    "hiring events and news that match my interests. I can withdraw at any time with the "
    "unsubscribe link in every email or in the preference centre."
)
CONSENT_HASH = hashlib.sha256(CONSENT_TEXT.encode("utf-8")).hexdigest()

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
MAX_RESUME_CHARS = 200_000
MAX_DOCX_UNCOMPRESSED = 30 * 1024 * 1024  # zip-bomb guard
MAX_PDF_PAGES = 30


@dataclass
class Result:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


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
            res.errors[name] = f"Please enter your {label}." if not name.startswith("ref") else f"Please enter the {label}."
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        res.errors[name] = f"The {label} contains characters we cannot accept (line breaks or control characters)."
        return None
    if len(value) > MAX_LEN.get(name, 200):
        res.errors[name] = f"The {label} is too long (at most {MAX_LEN.get(name, 200)} characters)."
        return None
    return value


def clean_email(res: Result, form: Any, name: str, label: str = "email address", required: bool = True) -> str | None:
    value = _text(form, name)
    if not value:
        if required:
            res.errors[name] = f"Please enter an {label}."
        return None
    try:
        # SMTPUTF8 local parts are refused because not every relay carries them.
        return normalize_email(value, ascii_only=True)
    except InvalidEmail as exc:
        res.errors[name] = f"This {label} does not look right: {exc}"
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
            res.errors[name] = f"Please choose a {label}."
        return None
    if value not in choices:
        res.errors[name] = f"Please choose a {label} from the list."
        return None
    return value


def clean_multi(res: Result, values: list[str], name: str, choices: dict[str, str], label: str,
                required: bool = False) -> list[str]:
    picked = []
    for v in values:
        if not isinstance(v, str) or v not in choices:
            res.errors[name] = f"Please choose {label} from the list."
            return []
        if v not in picked:
            picked.append(v)
    if required and not picked:
        res.errors[name] = f"Please choose at least one of the {label}."
    return picked


def clean_candidate_profile(res: Result, form: Any) -> None:
    """The fields both forms ask about a candidate, into ``res.values``: country (ISO code), phone
    (E.164, read in that country's format), city, region, profile URL and current title."""
    v = res.values
    v["country"] = clean_choice(res, form, "country", COUNTRIES, "country")
    v["phone"] = clean_phone(res, form, "phone", v["country"])
    v["city"] = clean_line(res, form, "city", "city")
    v["region"] = clean_line(res, form, "region", "region or state")
    v["linkedin_url"] = clean_url(res, form, "linkedin_url")
    v["current_title"] = clean_line(res, form, "current_title", "current job title")


def clean_skills(res: Result, form: Any) -> str | None:
    raw = clean_line(res, form, "skills", "skills")
    if not raw:
        return None
    # Stored ';'-separated (the resolve contract); people type commas.
    parts = [p.strip() for chunk in raw.split(";") for p in chunk.split(",")]
    return ";".join(p for p in parts if p) or None


def clean_url(res: Result, form: Any, name: str) -> str | None:
    value = clean_line(res, form, name, "profile URL")
    if not value:
        return None
    try:
        parts = urlsplit(value if "://" in value else "https://" + value)
        parts.port  # raises on a malformed host or port
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(ch.isspace() for ch in value)
    except ValueError:  # e.g. a bracketed host that is not an IPv6 address
        ok = False
    if not ok:
        res.errors[name] = "Please enter a web address starting with https://."
        return None
    return parts.geturl()


# --- resume upload ------------------------------------------------------------------------------

class ResumeError(ValueError):
    pass


def sniff_and_extract(data: bytes) -> tuple[str, str]:
    """(kind, text) from the file's bytes. The name and the browser's content type are ignored:
    the type is what the bytes say it is."""
    if not data:
        raise ResumeError("The file is empty.")
    if data.startswith(b"%PDF-"):
        return "pdf", _pdf_text(data)
    if data.startswith(b"PK\x03\x04"):
        return "docx", _docx_text(data)
    return "txt", _txt_text(data)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader  # lazy: only a PDF upload needs it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ResumeError("The PDF is password protected.")
        text = "\n".join((page.extract_text() or "") for page in reader.pages[:MAX_PDF_PAGES])
    except ResumeError:
        raise
    except Exception as exc:  # pypdf raises many types on broken files
        raise ResumeError("The PDF could not be read.") from exc
    return _finish(text)


def _docx_text(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if "word/document.xml" not in names:
                raise ResumeError("Only Word .docx files are accepted among zipped formats.")
            if sum(i.file_size for i in zf.infolist()) > MAX_DOCX_UNCOMPRESSED:
                raise ResumeError("The document is too large once unpacked.")
    except zipfile.BadZipFile as exc:
        raise ResumeError("The document could not be read.") from exc
    try:
        import docx  # lazy: only a Word upload needs python-docx

        document = docx.Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                parts.append("\t".join(cell.text for cell in row.cells))
    except Exception as exc:
        raise ResumeError("The document could not be read.") from exc
    return _finish("\n".join(parts))


def _txt_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ResumeError("Please upload a PDF, Word (.docx) or plain-text file.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return _finish(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ResumeError("The text file's encoding is not supported; please save it as UTF-8.")


def _finish(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ResumeError("No text could be found in the file (scanned images cannot be read).")
    return text[:MAX_RESUME_CHARS]
