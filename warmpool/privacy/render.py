"""Files a person or an auditor can read: the access export as JSON plus an HTML page, and CSV
files for the auditor's exports. Every file is written atomically with owner-only permissions."""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable

import jinja2

from warmpool.campaigns.audience import safe_cell

_PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What {{ company }} holds about you</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f2f2}h2{margin-top:2rem}</style></head><body>
<h1>What {{ company }} holds about you</h1>
<p>Asked as <strong>{{ data.asked_as }}</strong>, on {{ data.generated_at }}.
{% if not data.found %}We hold nothing about this address or id.{% endif %}</p>
{% if data.person_ids %}<p>Your person id(s): {{ data.person_ids | join(", ") }}</p>{% endif %}
{% if data.source_records %}<h2>Where your records came from</h2><table><tr><th>source</th><th>record id</th></tr>
{% for r in data.source_records %}<tr><td>{{ r.source }}</td><td>{{ r.source_record_id }}</td></tr>{% endfor %}</table>{% endif %}
{% for store, places in data.stores.items() %}<h2>{{ store }}</h2>
{% if places is mapping %}{% for place, rows in places.items() %}<h3>{{ place }}</h3>{{ table(rows) }}{% endfor %}
{% else %}{{ table(places) }}{% endif %}{% endfor %}
{% if data.consent_wording %}<h2>The consent wording you agreed to</h2><table><tr><th>version</th><th>wording</th><th>SHA-256</th></tr>
{% for version, w in data.consent_wording.items() %}<tr><td>{{ version }}</td><td>{{ w.text }}</td><td>{{ w.sha256 }}</td></tr>{% endfor %}</table>{% endif %}
{% if data.legal_hold %}<h2>Kept under a legal hold</h2>{{ table(data.legal_hold) }}{% endif %}
<h2>Every place Warmpool keeps data about people</h2>{{ table(data.where_each_store_lives) }}
</body></html>""")


def _table(rows: Any) -> Any:
    rows = rows if isinstance(rows, list) else [rows]
    columns = list(dict.fromkeys(k for r in rows if isinstance(r, dict) for k in r))
    return _PAGE.environment.from_string(
        "<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>{% for r in rows %}<tr>"
        "{% for c in columns %}<td>{{ r.get(c, '') if r is mapping else r }}</td>{% endfor %}</tr>{% endfor %}"
        "</table>").render(columns=columns or ["value"], rows=rows)


def plain(value: Any) -> Any:
    """JSON-ready: timestamps as ISO-8601, decimals as text, bytes as hex."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def write_private(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)  # personal data: the owner only
    os.replace(tmp, path)
    return path


def render_access_export(data: dict[str, Any], company: str = "Warmpool") -> tuple[str, str]:
    """The access export as (JSON, HTML) text."""
    as_json = json.dumps(data, indent=2, ensure_ascii=False, default=plain, sort_keys=False)
    return as_json, _PAGE.render(data=json.loads(as_json), company=company, table=_table)


def write_access_export(data: dict[str, Any], output: Path, company: str = "Warmpool") -> tuple[Path, Path]:
    """``output`` (JSON) and the same beside it as ``.html``."""
    output = Path(output)
    as_json, html = render_access_export(data, company)
    json_path = write_private(output if output.suffix == ".json" else output.with_suffix(".json"), as_json)
    return json_path, write_private(json_path.with_suffix(".html"), html)


def access_export_archive(data: dict[str, Any], company: str = "Warmpool") -> bytes:
    """The access export as one download: a zip of ``my-data.json`` and ``my-data.html``."""
    as_json, html = render_access_export(data, company)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("my-data.json", as_json)
        archive.writestr("my-data.html", html)
    return buffer.getvalue()


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> Path:
    """A CSV an auditor opens in a spreadsheet: every cell quoted and neutralised against formulas
    (the audience files' rule), nested values as JSON."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(json.dumps(v, default=plain, sort_keys=True) if isinstance(v, (dict, list))
                                   else v if v is None or isinstance(v, (str, int, float)) else plain(v))
                         for v in (row.get(c) for c in columns)])
    return write_private(path, out.getvalue())
