"""Why is this one person? The records, and Splink's waterfall for each link that holds them together.

The evidence shown is the evidence the last resolve run used: the per-comparison levels and term
frequency adjustments are read from ``RECORD_PAIRS`` (stored by that run), and the weights of each
level come from the saved model, exactly how Splink's waterfall chart computes them. So the numbers
add up to the match weight the run clustered on; nothing is re-estimated here.

"Holding together" = the links the clustering actually used (strongest evidence first, see
``clustering.constrained_clusters``): n records are held by n - 1 links. ``all_pairs`` shows every
stored pair among the records instead (including weaker ones and near misses).
"""
from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from splink import DuckDBAPI, Linker

from warmpool.identity.clustering import constrained_clusters
from warmpool.identity.features import features_for_model, splink_table
from warmpool.identity.keys import ordered_pair, record_keys, show_key
from warmpool.identity.model import TrainedModel, load_model
from warmpool.identity.normalize import to_contract_frame
from warmpool.identity.review import current_person_id
from warmpool.identity.scoring import pair_settings
from warmpool.identity.store import IdentityStore

_RECORD_COLUMNS = ("first_name", "last_name", "email", "phone", "city", "region", "country", "linkedin_url",
                   "current_title", "current_company", "updated_at")


@dataclass
class LinkExplanation:
    left: str
    right: str
    how: str                     # evidence | review_link | pair (all_pairs view)
    match_weight: float | None
    match_probability: float | None
    rows: list[dict] = field(default_factory=list)   # Splink waterfall rows (prior, comparisons, final)
    note: str = ""


@dataclass
class Explanation:
    person_id: str
    asked_id: str
    records: pl.DataFrame
    links: list[LinkExplanation]
    chart: object | None = None   # splink WaterfallChart over the links with evidence
    decisions: list[tuple[str, str, str]] = field(default_factory=list)

    def format_text(self) -> str:
        out = []
        head = f"Person {self.person_id}: {self.records.height} source record(s)"
        if self.asked_id != self.person_id:
            head += f"  ({self.asked_id} was merged into it; that id keeps working through identity.person_id_map)"
        out.append(head)
        out.append("")
        out.append("Records")
        for r in self.records.iter_rows(named=True):
            name = " ".join(x for x in (r.get("first_name"), r.get("last_name")) if x) or "(no name)"
            place = ", ".join(x for x in (r.get("city"), r.get("region"), r.get("country")) if x)
            bits = [x for x in (r.get("email"), r.get("phone"), place, r.get("current_title"),
                                r.get("current_company")) if x]
            out.append(f"  {r['source']}:{r['source_record_id']:<14} {name:<26} {' | '.join(bits)}")
        if not self.links:
            out.append("")
            out.append("A single record: nothing links it to anything else.")
        else:
            out.append("")
            out.append(f"Links holding the person together ({len(self.links)}, strongest first)")
        for i, link in enumerate(self.links, 1):
            out.append("")
            score = ""
            if link.match_weight is not None:
                score = f"  match weight {link.match_weight:+.2f}  probability {link.match_probability:.5f}"
            how = {"review_link": "  [linked by a reviewer]", "evidence": "", "pair": ""}.get(link.how, "")
            out.append(f"[{i}] {show_key(link.left)}  <->  {show_key(link.right)}{score}{how}")
            if link.note:
                out.append(f"    {link.note}")
            if link.rows:
                out.append(f"    {'comparison':<16} {'level':<40} {'left':<24} {'right':<24} {'weight':>8} {'bayes f.':>10}")
                for row in link.rows:
                    out.append(_format_row(row))
        for a, b, d in self.decisions:
            out.append(f"Reviewer decision in force: {d} {show_key(a)} / {show_key(b)}")
        return "\n".join(out)

    def write_html(self, path: Path | str) -> str:
        """Splink's waterfall chart, self-contained (its JavaScript inlined: works offline); a plain
        HTML table when there is nothing to chart or the chart would need a CDN. Returns the kind."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.chart is not None:
            page = self.chart.to_html(inline=True)
            if "cdn.jsdelivr" not in page and "https://" not in page.split("<script", 1)[0]:
                path.write_text(page, encoding="utf-8")
                return "splink waterfall chart"
        path.write_text(self.html_table(), encoding="utf-8")
        return "html table"

    def html_table(self) -> str:
        e = html.escape
        parts = [f"<html><head><meta charset='utf-8'><title>{e(self.person_id)}</title></head><body>",
                 f"<h1>Person {e(self.person_id)}</h1><pre>{e(self.format_text())}</pre></body></html>"]
        return "".join(parts)


def _short(value, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "~"


def _format_row(row: dict) -> str:
    name = row["column_name"]
    weight = row.get("log2_bayes_factor")
    bf = row.get("bayes_factor")
    if name == "Final score":
        p = 2 ** weight / (1 + 2 ** weight) if weight is not None else float("nan")
        return f"    {'= total':<16} {'match weight / probability':<40} {'':<24} {'':<24} {weight:>+8.2f} {p:>10.5f}"
    label = row.get("label_for_charts") or ""
    return (f"    {_short(name, 16):<16} {_short(label, 40):<40} {_short(row.get('value_l'), 24):<24} "
            f"{_short(row.get('value_r'), 24):<24} {weight:>+8.2f} {_bf(bf):>10}")


def _bf(bf) -> str:
    if bf is None:
        return ""
    if bf == 0 or math.isinf(bf):
        return f"{bf:.3g}"
    return f"{bf:,.3g}" if bf >= 0.01 else f"1/{1 / bf:,.3g}"


def _waterfall_linker(features: pl.DataFrame, model: TrainedModel, pool_records: int) -> Linker:
    """A linker over the person's features with the run's settings (waterfall needs both retain flags).

    The prior is the one the run used (scaled to the pool's size), so the waterfall adds up to the
    stored match weight.
    """
    db_api = DuckDBAPI()
    return Linker(db_api.register(features.to_arrow(), table_name="person_records"),
                  pair_settings(model, pool_records), log_level=logging.WARNING)


def explain_person(con, person_id: str, *, all_pairs: bool = False, model: TrainedModel | None = None) -> Explanation:
    """The records of ``person_id`` (any id ever issued) and the evidence linking them. Read-only."""
    model = model or load_model()
    store = IdentityStore(con)
    pid = current_person_id(store, person_id)
    records = store.person_source_records(pid)
    records = records.unique(subset=["source", "source_record_id"], keep="first", maintain_order=True)
    current = records.select("source", "source_record_id").with_columns(pl.lit(pid).alias("person_id"))
    keys = record_keys(records).to_list()
    stored = store.pairs_of(current)
    links, separates = store.decisions()
    in_person = set(keys)
    decisions = [(a, b, "link") for a, b in links if a in in_person and b in in_person]
    decisions += [(a, b, "separate") for a, b in separates if a in in_person and b in in_person]
    if all_pairs:
        chosen = [] if stored is None else [
            (a, b, "pair") for a, b in zip(record_keys(stored, "source_l", "source_record_id_l").to_list(),
                                           record_keys(stored, "source_r", "source_record_id_r").to_list())]
    else:
        chosen = constrained_clusters(keys, stored, model.threshold_match_probability, links, separates).held_by
    by_pair = {}
    if stored is not None:
        for row, a, b in zip(stored.iter_rows(named=True),
                             record_keys(stored, "source_l", "source_record_id_l").to_list(),
                             record_keys(stored, "source_r", "source_record_id_r").to_list()):
            by_pair[(a, b)] = row

    norm = features_for_model(to_contract_frame(records), model)
    feat = pl.from_arrow(splink_table(norm))
    feat_rows = dict(zip(record_keys(norm).to_list(), feat.iter_rows(named=True)))

    out_links: list[LinkExplanation] = []
    chart_records: list[dict] = []
    for a, b, how in chosen:
        a, b = ordered_pair(a, b)
        pair = by_pair.get((a, b))
        if pair is None:
            out_links.append(LinkExplanation(a, b, how, None, None,
                                             note="no model evidence stored for this pair (joined by a reviewer's link)"))
            continue
        rec = {"match_weight": pair["match_weight"], "match_probability": pair["match_probability"]}
        for col, value in feat_rows[a].items():
            rec[f"{col}_l"] = value
        for col, value in feat_rows[b].items():
            rec[f"{col}_r"] = value
        rec.update({k: v for k, v in pair.items() if k.startswith(("gamma_", "mw_"))})
        out_links.append(LinkExplanation(a, b, how, pair["match_weight"], pair["match_probability"]))
        chart_records.append(rec)

    chart = None
    if chart_records:
        linker = _waterfall_linker(feat, model, store.assignment_count())
        try:
            chart = linker.visualisations.waterfall_chart(chart_records, filter_nulls=True)
            rows = [r if isinstance(r, dict) else r.as_dict() for r in chart.raw_records]
        except KeyError as exc:  # the stored pairs come from a run with other comparisons
            rows, chart = [], None
            for link in out_links:
                link.note = f"the last run used another model ({exc} missing): re-run resolve to explain"
        with_evidence = [link for link in out_links if link.match_weight is not None]
        for row in rows:
            n = row["record_number"]
            # same filter as the chart: missing values and zero term-frequency adjustments say nothing
            if row.get("comparison_vector_value") == -1 or (
                    row.get("term_frequency_adjustment") and not row.get("log2_bayes_factor")):
                continue
            with_evidence[n].rows.append(row)
    return Explanation(person_id=pid, asked_id=person_id, records=records.select(
        "source", "source_record_id", *[c for c in _RECORD_COLUMNS if c in records.columns]),
        links=out_links, chart=chart, decisions=decisions)
