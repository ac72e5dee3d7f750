"""The queries behind each dashboard page: sums and ratios of mart columns under the page filters.

Every figure a page shows comes from one of these functions, and each reads one mart (its parquet
export): nothing is re-derived from person-level rows. Ratios are the marts' own definitions applied
to the filtered rows (e.g. cost per hire = spend / hires, rpt_source_roi's description).
"""
from __future__ import annotations

from warmpool.reporting.marts import Filters, MartReader, Result

ATTRIBUTION_MODELS = {"ats_source": "ATS source of the application", "first_touch": "First touch",
                      "last_touch": "Last touch", "every_touch": "Every touch (equal shares)"}
FUNNEL_STEPS = (("pool_people", "In the pool"), ("contacted_people", "Contacted"), ("engaged_people", "Engaged"),
                ("applied_people", "Applied"), ("interviewed_people", "Interviewed"), ("offered_people", "Offered"),
                ("hired_people", "Hired"))
FUNNEL_BREAKDOWNS = {"cohort_month": "Month they joined the pool", "job_family": "Job family",
                     "first_source": "First source", "country_code": "Country"}
POOL_BREAKDOWNS = {"source": "Source", "job_family": "Job family", "country_code": "Country"}


# ---- filter choices ---------------------------------------------------------------------------------
def filter_choices(reader: MartReader) -> dict[str, list]:
    """The values the sidebar offers: months with data, job families, countries and sources of the pool."""
    frame = reader.query("rpt_talent_pool_growth", """
        select min(snapshot_date) as first_day, max(snapshot_date) as last_day from {rows}""").frame
    out = {"first_day": frame["first_day"].iloc[0], "last_day": frame["last_day"].iloc[0]}
    for key, column in (("job_families", "job_family"), ("countries", "country_code"), ("sources", "source")):
        values = reader.query("rpt_talent_pool_growth",
                              f"select distinct {column} from {{rows}} where {column} is not null order by 1").frame
        out[key] = values[column].tolist()
    return out


# ---- leadership / ROI -------------------------------------------------------------------------------
def roi_headline(reader: MartReader, filters: Filters) -> Result:
    """Hires, known spend, cost per hire where the cost is known, and average days to hire (rpt_source_roi)."""
    return reader.query("rpt_source_roi", """
        select
            coalesce(sum(hires), 0) as hires,
            coalesce(sum(applications), 0) as applications,
            sum(spend) as spend,
            sum(spend) / nullif(sum(case when spend is not null then hires end), 0) as cost_per_hire,
            sum(avg_days_to_hire * hires) / nullif(sum(case when avg_days_to_hire is not null then hires end), 0)
                as avg_days_to_hire
        from {rows}""", filters)


def roi_by_month(reader: MartReader, filters: Filters, by: str = "channel") -> Result:
    """Hires and spend per month and channel (or source / vendor)."""
    column = ROI_BREAKDOWNS[by]
    return reader.query("rpt_source_roi", f"""
        select period_month, {column} as breakdown, sum(hires) as hires, sum(spend) as spend,
               sum(applications) as applications
        from {{rows}} group by 1, 2 order by 1, 2""", filters)


def roi_by_source(reader: MartReader, filters: Filters) -> Result:
    """Per ATS source over the period: applications, hires, spend, cost per hire, days to hire."""
    return reader.query("rpt_source_roi", """
        select source_name, any_value(channel) as channel, any_value(vendor) as vendor,
               sum(applications) as applications, sum(hires) as hires, sum(resumes_bought) as resumes_bought,
               sum(spend) as spend,
               case when sum(hires) > 0 and sum(spend) > 0 then sum(spend) / sum(hires) end as cost_per_hire,
               sum(avg_days_to_hire * hires) / nullif(sum(case when avg_days_to_hire is not null then hires end), 0)
                   as avg_days_to_hire
        from {rows} group by 1 order by hires desc, source_name""", filters)


def hires_by_attribution(reader: MartReader, filters: Filters, model: str) -> Result:
    if model not in ATTRIBUTION_MODELS:
        raise ValueError(f"unknown attribution model {model!r}; one of {sorted(ATTRIBUTION_MODELS)}")
    return reader.query("rpt_hire_attribution", """
        select credited_source, sum(hires) as hires
        from {rows} where attribution_model = ? group by 1 order by hires desc, credited_source""",
                        filters, [model])


def vendor_contracts(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_vendor_utilization", """
        select vendor_name, vendor_kind, period_year, credits_per_year, credits_used, credits_unused,
               credit_utilization, annual_fee, spend, already_in_pool_resumes, already_in_pool_spend,
               repeat_purchases, hires
        from {rows} order by vendor_name, period_year""", filters)


def pool_growth(reader: MartReader, filters: Filters, by: str = "source") -> Result:
    """New people per month by source, job family or country."""
    if by not in POOL_BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    return reader.query("rpt_talent_pool_growth", f"""
        select date_trunc('month', snapshot_date)::date as month, coalesce({by}, '(unknown)') as breakdown,
               sum(new_people) as new_people
        from {{rows}} group by 1, 2 order by 1, 2""", filters)


def pool_size(reader: MartReader, filters: Filters) -> Result:
    """People who joined in the period, and the pool at its end (every segment's new people up to then)."""
    in_period = reader.query("rpt_talent_pool_growth", "select coalesce(sum(new_people), 0) as joined from {rows}",
                             filters)
    to_end = Filters(None, filters.period_end, filters.job_families, filters.countries, filters.sources)
    total = reader.query("rpt_talent_pool_growth", "select coalesce(sum(new_people), 0) as pool from {rows}", to_end)
    frame = in_period.frame.assign(pool=total.frame["pool"].iloc[0])
    return Result(frame, in_period.not_applied)


# ---- funnel -----------------------------------------------------------------------------------------
def funnel_totals(reader: MartReader, filters: Filters) -> Result:
    sums = ", ".join(f"coalesce(sum({col}), 0) as {col}" for col, _ in FUNNEL_STEPS)
    return reader.query("rpt_funnel", f"select {sums} from {{rows}}", filters)


def funnel_by(reader: MartReader, filters: Filters, by: str) -> Result:
    if by not in FUNNEL_BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    sums = ", ".join(f"sum({col}) as {col}" for col, _ in FUNNEL_STEPS)
    key = "strftime(cohort_month, '%Y-%m')" if by == "cohort_month" else f"coalesce({by}, '(unknown)')"
    return reader.query("rpt_funnel", f"select {key} as breakdown, {sums} from {{rows}} group by 1 order by 1",
                        filters)


def heat_bands(reader: MartReader, filters: Filters) -> Result:
    """People in the pool by engagement heat band (rpt_funnel: pool_people by heat_band)."""
    return reader.query("rpt_funnel", """
        select heat_band, sum(pool_people) as people from {rows} group by 1
        order by list_position(['hot', 'warm', 'cold', 'inactive'], heat_band)""", filters)


# ---- campaigns --------------------------------------------------------------------------------------
def campaign_performance(reader: MartReader, filters: Filters) -> Result:
    """Per campaign (and variant / sequence step when the mart has them): the message funnel and the health rates."""
    columns = reader.columns("rpt_campaign_performance")
    keys = ["campaign_name"] + [c for c in ("variant", "sequence_step") if c in columns]
    select_keys = ", ".join(keys)
    return reader.query("rpt_campaign_performance", f"""
        select {select_keys}, min(first_sent_at) as first_sent_at,
               sum(sent) as sent, sum(delivered) as delivered, sum(opened) as opened,
               sum(machine_opened_only) as machine_opened_only, sum(clicked) as clicked,
               sum(applied_people) as applied_people, sum(hired_people) as hired_people,
               sum(bounced) as bounced, sum(unsubscribed) as unsubscribed, sum(complained) as complained,
               sum(bounced) / nullif(sum(sent), 0) as bounce_rate,
               sum(unsubscribed) / nullif(sum(delivered), 0) as unsubscribe_rate,
               sum(complained) / nullif(sum(delivered), 0) as complaint_rate,
               sum(opened) / nullif(sum(delivered), 0) as human_open_rate,
               sum(clicked) / nullif(sum(delivered), 0) as click_rate
        from {{rows}} group by {select_keys} order by first_sent_at, {select_keys}""", filters)


SEGMENT_BREAKDOWNS = {"job_family": "Job family", "country_code": "Country"}


def segment_sizes(reader: MartReader, filters: Filters) -> Result:
    """People in each segment (rpt_segment_sizes summed over its job families and countries)."""
    return reader.query("rpt_segment_sizes", """
        select segment, max(segment_version) as segment_version, sum(people) as people
        from {rows} group by 1 order by people desc, segment""", filters)


def segment_breakdown(reader: MartReader, filters: Filters, by: str, segment: str | None = None) -> Result:
    """People per segment and job family (or country); one segment's rows only when ``segment`` is given."""
    if by not in SEGMENT_BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; one of {sorted(SEGMENT_BREAKDOWNS)}")
    extra = "where segment = ?" if segment else ""
    return reader.query("rpt_segment_sizes", f"""
        select segment, coalesce({by}, '(unknown)') as breakdown, sum(people) as people
        from {{rows}} {extra} group by 1, 2 order by segment, people desc, breakdown""",
                        filters, [segment] if segment else [])


# ---- sourcing and recruiters ------------------------------------------------------------------------
def recruiter_activity_by_month(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_recruiter_activity", """
        select period_month, sum(prospects_added) as prospects_added,
               sum(sourced_applications) as sourced_applications, sum(stage_moves) as stage_moves,
               sum(offers) as offers, sum(hires) as hires
        from {rows} group by 1 order by 1""", filters)


def recruiter_activity_by_recruiter(reader: MartReader, filters: Filters) -> Result:
    """Per recruiter (names: personal data, for roles that may see it)."""
    return reader.query("rpt_recruiter_activity", """
        select full_name as recruiter, sum(prospects_added) as prospects_added,
               sum(sourced_applications) as sourced_applications, sum(stage_moves) as stage_moves,
               sum(offers) as offers, sum(hires) as hires
        from {rows} group by 1 order by hires desc, sourced_applications desc, recruiter""", filters)


def silver_medalists_by_family(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_silver_medalists", """
        select coalesce(job_family, '(unknown)') as job_family, count(distinct person_id) as people,
               count(distinct person_id) filter (where is_contactable) as contactable_people
        from {rows} group by 1 order by people desc""", filters)


def open_jobs_by_family(reader: MartReader, filters: Filters) -> Result:
    return reader.query("dim_jobs", """
        select coalesce(job_family, '(unknown)') as job_family, count(*) as open_jobs,
               string_agg(job_name, '; ' order by job_name) as jobs
        from {rows} where lower(status) = 'open' group by 1 order by open_jobs desc""",
                        Filters(job_families=filters.job_families))


def silver_medalist_rows(reader: MartReader, filters: Filters, job_family: str | None = None) -> Result:
    """The people behind the silver-medalist chart (names: personal data)."""
    extra = "where coalesce(job_family, '(unknown)') = ?" if job_family else ""
    return reader.query("rpt_silver_medalists", f"""
        select first_name, last_name, job_family, job_name as silver_medal_job, furthest_stage, rejected_at,
               rejection_reason, heat_band, is_contactable
        from {{rows}} {extra} order by rejected_at desc""", filters, [job_family] if job_family else [])


REFERRAL_STEPS = {"referrals": "Referrals", "referred_people": "People referred", "applied_people": "Applied",
                  "interviewed_people": "Interviewed", "hired_people": "Hired"}


# rows combined: the steps summed, days to hire weighted by the people hired (rpt_referrals' description)
_REFERRAL_SUMS = ", ".join(f"coalesce(sum({col}), 0) as {col}" for col in REFERRAL_STEPS) + """,
    sum(avg_days_to_hire * hired_people) / nullif(sum(case when avg_days_to_hire is not null
        then hired_people end), 0) as avg_days_to_hire"""


def referral_totals(reader: MartReader, filters: Filters) -> Result:
    """Referrals made in the period and what became of the people referred (rpt_referrals)."""
    return reader.query("rpt_referrals", f"select {_REFERRAL_SUMS} from {{rows}}", filters)


def referrals_by_month(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_referrals", f"select referral_month, {_REFERRAL_SUMS} from {{rows}} group by 1 order by 1",
                        filters)


def referrals_by_referrer(reader: MartReader, filters: Filters) -> Result:
    """Per referrer (names: personal data, for roles that may see it)."""
    return reader.query("rpt_referrals", f"""
        select coalesce(max(referrer_name), referrer_email, '(not given)') as referrer, referrer_email, {_REFERRAL_SUMS}
        from {{rows}} group by referrer_email order by hired_people desc, referrals desc, referrer""", filters)


# ---- EEO ------------------------------------------------------------------------------------------
EEO_DIMENSIONS = {"gender": "Gender", "race": "Race / ethnicity"}
EEO_OUTCOMES = {"in_process": "In process", "rejected": "Rejected", "hired": "Hired"}


def eeo_applicants(reader: MartReader, filters: Filters, dimension: str) -> Result:
    """Applicants per year, job family, answer and outcome (rpt_eeo_applicants' own cells, null where the
    mart withheld one) in the years and job families chosen. Never summed across cells: a sum over a
    withheld cell is unknown, and a sum over the cells shown alone would understate it."""
    if dimension not in EEO_DIMENSIONS:
        raise ValueError(f"unknown EEO dimension {dimension!r}; one of {sorted(EEO_DIMENSIONS)}")
    return reader.query("rpt_eeo_applicants", """
        select applied_year, job_family, category, outcome, applicants
        from {rows} where dimension = ? order by applied_year desc, job_family, category, outcome""",
                        filters, [dimension])


# ---- data health ------------------------------------------------------------------------------------
def source_health(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_data_health", "select * from {rows} order by source", filters)


def quarantine_reasons(reader: MartReader, filters: Filters) -> Result:
    return reader.query("rpt_quarantine_reasons",
                        "select * from {rows} order by quarantined_rows desc, source, reason", filters)


def identity_runs(reader: MartReader) -> Result:
    return reader.query("rpt_identity_runs", "select * from {rows} order by started_at desc")


ROI_BREAKDOWNS = {"channel": "channel", "source": "source_name", "vendor": "coalesce(vendor, '(not a vendor)')"}


def roi_rows(reader: MartReader, filters: Filters, by: str, value: str) -> Result:
    """The rpt_source_roi rows behind one bar of a breakdown (a channel, source or vendor), month by month."""
    return reader.query("rpt_source_roi", f"""
        select period_month, source_name, channel, vendor, applications, hires, resumes_bought, spend,
               cost_per_hire, avg_days_to_hire
        from {{rows}} where {ROI_BREAKDOWNS[by]} = ? order by period_month, source_name""", filters, [value])
