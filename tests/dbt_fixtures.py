"""A small raw warehouse in the shape dlt loads it, for building the dbt project in tests.

Table and column names follow dlt's conventions for the sources Warmpool loads (nested lists become
child tables linked by `_dlt_parent_id` -> `_dlt_id`, nested objects become `a__b` columns, ISO
timestamps become `timestamptz`). The people in it each exercise one contactability rule:

| person | records | expected |
|---|---|---|
| Alice Ng | ATS 101 (US, applied Engineering, rejected) + talentdb T-1 (older) | contactable (legitimate interest) |
| Bob Schmidt | ATS 102 (Germany) + hirewire H-9 | not contactable: no marketing consent (EU) |
| Carol Diaz | talent network #1, confirmed (Canada, Data Scientist) | contactable (opt-in) |
| Dan Roe | talent network #2, pending double opt-in (US) | not contactable: pending_double_opt_in |
| Erin Kay | ATS 103 (US); unsubscribe on her *work* address, later a one-click unsubscribe (web store: preference change + its event) on her personal one | not contactable: suppressed (unsubscribe) |
| Frank Li | ATS 104 (US), active application | not contactable: in_active_application |
| Grace Hall | eurocv E-7 (UK) | not contactable: no marketing consent |
| Heidi Fox | talent network #3, confirmed later (raw_forms.consent_confirmations), then a hard bounce | not contactable: suppressed (hard bounce) |
| Ivan Pope | referral #4 (US) | not contactable: no marketing consent |
| Judy Mo | ATS 105 prospect (US), "Senior Software Engineer" | contactable (legitimate interest) |
| Ken Wu | ATS 106 (US), hired | not contactable: employee |

Carol also has a *soft* bounce, which must not suppress her.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from warmpool.config import DBT_PROJECT_DIR

# The dbt invocations around the Python steps (assets/dbt_project.py): phase 1 before identity, phase 2
# after it (the spellings between), then the segment members (warmpool/segments.py) and the audiences.
PHASE_1 = ["--select", "+int_source_records"]
PHASE_2 = ["--exclude", "+int_source_records", "source:marts.segment_members+"]
AUDIENCES = ["--select", "source:marts.segment_members+"]


def dbt(tmp: Path, *args: str, command: tuple[str, ...] = ("build",), check: bool = True):
    """Run dbt in this process (dbt's Python API) with a private target and log folder under `tmp`;
    a build must succeed with every node passing (``check=False``: the result as it is). The warehouse
    is `WARMPOOL_WAREHOUSE`."""
    from dbt.adapters.factory import reset_adapters  # dbt's import costs seconds: only when a test builds
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner().invoke([
            *command, *args,
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
            "--quiet", "--no-partial-parse",
        ])
    finally:
        reset_adapters()
    if result.exception is not None:
        raise result.exception
    if not check:
        return result
    if command != ("build",):
        assert result.success, command
        return result
    failed = [f"{r.node.name}: {r.status} {r.message}" for r in result.result
              if str(r.status) not in ("success", "pass", "no-op")]
    assert result.success and not failed, failed
    return result

RAW_SQL = r"""
create schema if not exists raw_ats;
create schema if not exists raw_vendors;
create schema if not exists raw_forms;
create schema if not exists raw_email;
create schema if not exists raw_campaigns;

create or replace table raw_ats.candidates as
select * from (values
  (101, 'Alice', 'Ng', 'Acme Corp', 'Backend Engineer', timestamptz '2025-01-10 09:00:00+00', timestamptz '2026-03-01 10:00:00+00', timestamptz '2026-03-01 10:00:00+00', 900, 'Rita Recruiter', 'l1', 'c101'),
  (102, 'Bob', 'Schmidt', 'Bauhaus GmbH', 'Sales Manager', timestamptz '2025-02-01 09:00:00+00', timestamptz '2025-06-01 10:00:00+00', timestamptz '2025-06-01 10:00:00+00', 900, 'Rita Recruiter', 'l1', 'c102'),
  (103, 'Erin', 'Kay', 'Globex', 'Product Manager', timestamptz '2025-03-01 09:00:00+00', timestamptz '2025-09-01 10:00:00+00', timestamptz '2025-09-01 10:00:00+00', null, null, 'l1', 'c103'),
  (104, 'Frank', 'Li', 'Initech', 'Data Analyst', timestamptz '2026-08-01 09:00:00+00', timestamptz '2026-10-01 10:00:00+00', timestamptz '2026-10-20 10:00:00+00', 901, 'Sam Sourcer', 'l1', 'c104'),
  (105, 'Judy', 'Mo', 'Hooli', 'Senior Software Engineer', timestamptz '2026-05-01 09:00:00+00', timestamptz '2026-05-02 10:00:00+00', timestamptz '2026-05-02 10:00:00+00', 901, 'Sam Sourcer', 'l1', 'c105'),
  (106, 'Ken', 'Wu', 'Umbrella', 'Accountant', timestamptz '2025-04-01 09:00:00+00', timestamptz '2025-07-01 10:00:00+00', timestamptz '2025-07-01 10:00:00+00', 900, 'Rita Recruiter', 'l1', 'c106')
) t(id, first_name, last_name, company, title, created_at, updated_at, last_activity, recruiter__id, recruiter__name, _dlt_load_id, _dlt_id);

create or replace table raw_ats.candidates__email_addresses as
select * from (values
  ('alice.work@acme.example', 'work', 'c101', 0, 'c101', 'e1'),
  ('Alice@Example.com', 'personal', 'c101', 1, 'c101', 'e2'),
  ('bob@schmidt.example', 'personal', 'c102', 0, 'c102', 'e3'),
  ('erin@example.com', 'personal', 'c103', 0, 'c103', 'e4'),
  ('erin@globex.example', 'work', 'c103', 1, 'c103', 'e5'),
  ('frank@example.com', 'personal', 'c104', 0, 'c104', 'e6'),
  ('judy@example.com', 'other', 'c105', 0, 'c105', 'e7'),
  ('ken@example.com', 'personal', 'c106', 0, 'c106', 'e8')
) t(value, type, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.candidates__phone_numbers as
select * from (values
  ('+1 415 555 0101', 'mobile', 'c101', 0, 'c101', 'p1'),
  ('+49 30 1234567', 'mobile', 'c102', 0, 'c102', 'p2'),
  ('(212) 555-0104', 'home', 'c104', 0, 'c104', 'p3')
) t(value, type, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.candidates__addresses as
select * from (values
  ('San Francisco, CA, United States', 'home', 'c101', 0, 'c101', 'a1'),
  ('Berlin, Berlin, Germany', 'home', 'c102', 0, 'c102', 'a2'),
  ('Austin, TX, USA', 'home', 'c103', 0, 'c103', 'a3'),
  ('New York, NY, US', 'home', 'c104', 0, 'c104', 'a4'),
  ('Seattle, WA, United States', 'home', 'c105', 0, 'c105', 'a5'),
  ('Chicago, IL, USA', 'home', 'c106', 0, 'c106', 'a6')
) t(value, type, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.candidates__social_media_addresses as
select * from (values
  ('https://twitter.com/alice', 'c101', 0, 'c101', 's1'),
  ('https://www.linkedin.com/in/alice-ng', 'c101', 1, 'c101', 's2')
) t(value, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.candidates__tags as
select * from (values
  ('python', 'c101', 0, 'c101', 't1'),
  ('go', 'c101', 1, 'c101', 't2'),
  ('silver-medalist', 'c101', 2, 'c101', 't3')
) t(value, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.candidates__employments as
select * from (values
  ('Acme Corp', 'Backend Engineer', '2020-01-01', null::varchar, 'c101', 0, 'c101', 'm1'),
  ('Startup', 'Junior Developer', '2015-06-01', '2019-12-31', 'c101', 1, 'c101', 'm2'),
  ('Hooli', 'Senior Software Engineer', '2018-01-01', null::varchar, 'c105', 0, 'c105', 'm3')
) t(company_name, title, start_date, end_date, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.applications as
select * from (values
  (5001, 101, false, timestamptz '2025-01-10 09:00:00+00', timestamptz '2025-02-01 09:00:00+00', timestamptz '2025-02-01 09:00:00+00', 1, 'HireWire Job Board', 900, 'Rita Recruiter', 71, 'Hired someone else', 'rejected', 3, 'Interview', 'x5001'),
  (5002, 102, false, timestamptz '2025-02-01 09:00:00+00', timestamptz '2025-02-20 09:00:00+00', timestamptz '2025-02-20 09:00:00+00', 2, 'Employee Referral', 900, 'Rita Recruiter', 72, 'Not qualified', 'rejected', 1, 'Application Review', 'x5002'),
  (5003, 104, false, timestamptz '2026-08-01 09:00:00+00', null, timestamptz '2026-10-20 10:00:00+00', 1, 'HireWire Job Board', 901, 'Sam Sourcer', null, null, 'active', 3, 'Interview', 'x5003'),
  (5004, 105, true, timestamptz '2026-05-01 09:00:00+00', null, timestamptz '2026-05-02 10:00:00+00', 3, 'Sourced', 901, 'Sam Sourcer', null, null, 'active', null, null, 'x5004'),
  (5005, 106, false, timestamptz '2025-04-01 09:00:00+00', null, timestamptz '2025-06-15 09:00:00+00', 1, 'HireWire Job Board', 900, 'Rita Recruiter', null, null, 'hired', 6, 'Hired', 'x5005')
) t(id, candidate_id, prospect, applied_at, rejected_at, last_activity_at, source__id, source__public_name, credited_to__id, credited_to__name, rejection_reason__id, rejection_reason__name, status, current_stage__id, current_stage__name, _dlt_id);

create or replace table raw_ats.applications__jobs as
select * from (values
  (11, 'Backend Engineer', 'x5001', 0, 'x5001', 'j1'),
  (12, 'Account Executive', 'x5002', 0, 'x5002', 'j2'),
  (13, 'Data Analyst', 'x5003', 0, 'x5003', 'j3'),
  (14, 'Financial Controller', 'x5005', 0, 'x5005', 'j5')
) t(id, name, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.applications__stage_history as
select * from (values
  (1, 'Application Review', timestamptz '2025-01-10 09:00:00+00', timestamptz '2025-01-12 09:00:00+00', 'x5001', 0, 'x5001', 'h1'),
  (2, 'Phone Screen', timestamptz '2025-01-12 09:00:00+00', timestamptz '2025-01-20 09:00:00+00', 'x5001', 1, 'x5001', 'h2'),
  (3, 'Interview', timestamptz '2025-01-20 09:00:00+00', timestamptz '2025-02-01 09:00:00+00', 'x5001', 2, 'x5001', 'h3'),
  (1, 'Application Review', timestamptz '2025-02-01 09:00:00+00', timestamptz '2025-02-20 09:00:00+00', 'x5002', 0, 'x5002', 'h4'),
  (1, 'Application Review', timestamptz '2026-08-01 09:00:00+00', timestamptz '2026-08-03 09:00:00+00', 'x5003', 0, 'x5003', 'h5'),
  (2, 'Phone Screen', timestamptz '2026-08-03 09:00:00+00', timestamptz '2026-09-01 09:00:00+00', 'x5003', 1, 'x5003', 'h6'),
  (3, 'Interview', timestamptz '2026-09-01 09:00:00+00', null, 'x5003', 2, 'x5003', 'h7'),
  (1, 'Application Review', timestamptz '2025-04-01 09:00:00+00', timestamptz '2025-04-03 09:00:00+00', 'x5005', 0, 'x5005', 'h8'),
  (2, 'Phone Screen', timestamptz '2025-04-03 09:00:00+00', timestamptz '2025-04-10 09:00:00+00', 'x5005', 1, 'x5005', 'h9'),
  (3, 'Interview', timestamptz '2025-04-10 09:00:00+00', timestamptz '2025-05-01 09:00:00+00', 'x5005', 2, 'x5005', 'h10'),
  (4, 'Final Interview', timestamptz '2025-05-01 09:00:00+00', timestamptz '2025-05-20 09:00:00+00', 'x5005', 3, 'x5005', 'h11'),
  (5, 'Offer', timestamptz '2025-05-20 09:00:00+00', timestamptz '2025-06-15 09:00:00+00', 'x5005', 4, 'x5005', 'h12'),
  (6, 'Hired', timestamptz '2025-06-15 09:00:00+00', null, 'x5005', 5, 'x5005', 'h13')
) t(stage_id, stage_name, entered_at, exited_at, _dlt_parent_id, _dlt_list_idx, _dlt_root_id, _dlt_id);

create or replace table raw_ats.jobs as
select * from (values
  (11, 'Backend Engineer', 'REQ-11', 'closed', timestamptz '2024-12-01 00:00:00+00', timestamptz '2024-12-02 00:00:00+00', timestamptz '2025-03-01 00:00:00+00', timestamptz '2025-03-01 00:00:00+00', 'Engineering', 'Mid', 'Full-time', 'j11'),
  (12, 'Account Executive', 'REQ-12', 'closed', timestamptz '2025-01-01 00:00:00+00', timestamptz '2025-01-02 00:00:00+00', timestamptz '2025-04-01 00:00:00+00', timestamptz '2025-04-01 00:00:00+00', 'Sales', 'Mid', 'Full-time', 'j12'),
  (13, 'Data Analyst', 'REQ-13', 'open', timestamptz '2026-07-01 00:00:00+00', timestamptz '2026-07-02 00:00:00+00', null, timestamptz '2026-07-02 00:00:00+00', 'Data', 'Junior', 'Full-time', 'j13'),
  (14, 'Financial Controller', 'REQ-14', 'closed', timestamptz '2025-03-01 00:00:00+00', timestamptz '2025-03-02 00:00:00+00', timestamptz '2025-06-20 00:00:00+00', timestamptz '2025-06-20 00:00:00+00', 'Finance', 'Senior', 'Full-time', 'j14')
) t(id, name, requisition_id, status, created_at, opened_at, closed_at, updated_at, custom_fields__job_family, custom_fields__seniority, custom_fields__employment_type, _dlt_id);

create or replace table raw_ats.users as
select * from (values
  (900, 'Rita Recruiter', 'Rita', 'Recruiter', 'rita@warmpool.example', timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00', false, false, 'E900', 'u900'),
  (901, 'Sam Sourcer', 'Sam', 'Sourcer', 'sam@warmpool.example', timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00', false, true, 'E901', 'u901')
) t(id, name, first_name, last_name, primary_email_address, created_at, updated_at, disabled, site_admin, employee_id, _dlt_id);

create or replace table raw_ats.sources as
select * from (values
  (1, 'HireWire Job Board', 1, 'Job Boards', 's1'),
  (2, 'Employee Referral', 2, 'Referrals', 's2'),
  (3, 'Sourced', 4, 'Prospecting', 's3')
) t(id, name, type__id, type__name, _dlt_id);

create or replace table raw_ats.offers as
select * from (values
  (801, 1, 5005, 106, 14, timestamptz '2025-05-20 00:00:00+00', timestamptz '2025-06-15 00:00:00+00', timestamptz '2025-05-21 00:00:00+00', timestamptz '2025-06-15 00:00:00+00', '2025-07-01', 'accepted', 'o801')
) t(id, version, application_id, candidate_id, job_id, created_at, updated_at, sent_at, resolved_at, starts_at, status, _dlt_id);

create or replace table raw_ats.rejection_reasons as
select * from (values
  (71, 'Hired someone else', 1, 'We rejected them', 'r71'),
  (72, 'Not qualified', 1, 'We rejected them', 'r72')
) t(id, name, type__id, type__name, _dlt_id);

create or replace table raw_vendors.resumes as
select * from (values
  ('talentdb', 'T-1', 'Alice', 'Ng', 'alice@example.com', '415-555-0101', 'San Francisco', 'CA', 'US', null, 'Software Engineer', 'Acme', 'python;go;sql', '9', '2024-11-01', 'talentdb_2025-01.csv', 2, date '2025-01-05', 4.0, 'v1'),
  ('hirewire', 'H-9', 'Bob', 'Schmidt', 'bob@schmidt.example', null, 'Berlin', null, 'Germany', null, 'Senior Sales Manager', 'Bauhaus GmbH', 'negotiation', '12', '2025-07-01T00:00:00Z', 'hirewire_2025-07.jsonl', 1, date '2025-07-05', 2.5, 'v2'),
  ('eurocv', 'E-7', 'Grace', 'Hall', 'grace@example.co.uk', '+44 20 7946 0000', 'London', null, 'United Kingdom', 'https://linkedin.com/in/gracehall', 'Marketing Lead', 'Brit Co', 'seo;content', '7', '2025-05-15', 'eurocv_2025-05.xlsx', 3, date '2025-05-20', 9.0, 'v3')
) t(vendor, vendor_record_id, first_name, last_name, email, phone, city, region, country, linkedin_url, current_title, current_company, skills, years_experience, updated_at, file_name, file_row, purchased_at, cost, _dlt_id);

create or replace table raw_vendors.contracts as
select * from (values
  ('talentdb', 'TalentDB Resume Search', 'resume_database', 'TDB-2024-01', date '2024-01-01', date '2026-12-31', 12000.0, 3000, 4.0),
  ('hirewire', 'HireWire Job Board', 'job_board', 'HW-2024-07', date '2024-07-01', date '2026-06-30', 8000.0, 2000, 2.5),
  ('eurocv', 'EuroCV Agency Network', 'agency', 'ECV-2025-02', date '2025-02-01', date '2027-01-31', 0.0, 0, 9.0)
) t(vendor, vendor_name, vendor_kind, contract_id, starts_on, ends_on, annual_fee, credits_per_year, cost_per_resume);

create or replace table raw_forms.form_submissions as
select * from (values
  (1, 'talent_network', timestamptz '2026-01-05 12:00:00+00', 'Carol', 'Diaz', 'carol@example.ca', '+1 604 555 0199', 'Vancouver', 'BC', 'Canada', null, 'Data Scientist', 'Maple AI', 'python;ml', 'Data', '6', null, 1, 'v1', 'h1', timestamptz '2026-01-05 12:10:00+00', '203.0.113.5', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', null, null, null),
  (2, 'talent_network', timestamptz '2026-02-05 12:00:00+00', 'Dan', 'Roe', 'dan@example.com', null, 'Boston', 'MA', 'US', null, 'Frontend Developer', 'Webco', 'react', 'Engineering', '4', null, 1, 'v1', 'h1', null, '203.0.113.6', 'Mozilla/5.0 (Macintosh) Safari/605.1', null, null, null),
  (3, 'talent_network', timestamptz '2026-02-07 12:00:00+00', 'Heidi', 'Fox', 'heidi@example.com', null, 'Denver', 'CO', 'USA', null, 'Platform Engineer', 'Cloudy', 'k8s', 'Engineering', '8', null, 1, 'v1', 'h1', null, '203.0.113.7', 'Mozilla/5.0 (Windows NT 10.0) Firefox/128.0', null, null, null),
  (4, 'referral', timestamptz '2026-03-01 12:00:00+00', 'Ivan', 'Pope', 'ivan@example.com', null, 'Miami', 'FL', 'US', null, 'Backend Engineer', 'Fintech', null, null, null, null, 0, null, null, null, '198.51.100.20', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', 'Rita Recruiter', 'rita@warmpool.example', 'former colleague')
) t(submission_id, form, submitted_at, first_name, last_name, email, phone, city, region, country, linkedin_url, current_title, current_company, skills, job_families, years_experience, resume_text, consent_marketing, consent_wording_version, consent_wording_hash, confirmed_at, ip, user_agent, referrer_name, referrer_email, relationship);

create or replace table raw_forms.consent_confirmations as
select * from (values
  (1, 3, 'nonce-heidi', timestamptz '2026-02-07 12:05:00+00', '203.0.113.8', 'Mozilla/5.0 (Android 14) Firefox/128.0')
) t(confirmation_seq, submission_id, token_nonce, confirmed_at, ip, user_agent);

create or replace table raw_forms.preference_changes as
select * from (values
  (1, 'erin@example.com', null, 'c_old', null, null, 1, timestamptz '2026-05-01 08:00:00.123+00', 'one_click', '198.51.100.7', 'GoogleImageProxy one-click')
) t(change_seq, email, person_id, campaign_id, topics, frequency, unsubscribed_all, changed_at, source, ip, user_agent);

create or replace table raw_email.email_events as
select * from (values
  (1, 'ev-1', 'mailgun', 'delivered', 'erin@globex.example', 'c_old', 'm1', timestamptz '2026-04-01 00:00:00+00', null, null, 0, '{}'),
  (2, 'ev-2', 'mailgun', 'unsubscribe', 'ERIN@globex.example', 'c_old', 'm1', timestamptz '2026-04-02 00:00:00+00', null, null, 0, '{}'),
  (3, 'ev-3', 'mailgun', 'bounce', 'heidi@example.com', 'c_old', 'm2', timestamptz '2026-04-01 00:00:00+00', null, 'hard', 0, '{}'),
  (4, 'ev-4', 'mailgun', 'bounce', 'carol@example.ca', 'c_old', 'm3', timestamptz '2026-04-01 00:00:00+00', null, 'soft', 0, '{}'),
  (5, 'ev-5', 'mailgun', 'open', 'carol@example.ca', 'c_old', 'm3', timestamptz '2026-04-03 00:00:00+00', null, null, 0, '{}'),
  (6, 'ev-6', 'mailgun', 'click', 'alice@example.com', 'c_old', 'm4', timestamptz '2026-04-03 00:00:00+00', 'https://jobs.example/1', null, 0, '{}'),
  (7, 'warmpool-web:unsubscribe:e1', 'warmpool-web', 'unsubscribe', 'erin@example.com', 'c_old', null, timestamptz '2026-05-01 08:00:00.123+00', null, null, 0, '{}')
) t(received_seq, provider_event_id, provider, event, email, campaign_id, message_id, occurred_at, url, bounce_type, is_machine_open, payload);

create or replace table raw_campaigns.campaigns as
select * from (values
  ('eng-nurture', 'Engineering nurture', 'nurture', 'Hello {{first_name}}', 'nurture.html', 'v1', timestamptz '2026-11-01 00:00:00+00', 'engineering-3y'),
  ('data-na', 'Data and engineering in North America', 'invite_to_apply', 'Open roles', 'invite.html', 'v1', timestamptz '2026-11-01 00:00:00+00', 'data-eng-na'),
  ('everyone', 'Everyone', 'nurture', 'News', 'news.html', 'v1', timestamptz '2026-11-01 00:00:00+00', 'everyone'),
  ('senior-eu', 'Senior people in Europe', 'nurture', 'Europe', 'eu.html', 'v1', timestamptz '2026-11-01 00:00:00+00', 'senior-eu'),
  ('in-canada', 'People in Canada', 'nurture', 'Hello Canada', 'ca.html', 'v1', timestamptz '2026-11-01 00:00:00+00', 'in-canada')
) t(campaign_id, name, kind, subject, template, content_version, starts_at, segment);

-- segments as warmpool/segments.py stores them (normalised conditions as JSON)
create or replace table raw_campaigns.segments as
select * from (values
  ('engineering-3y', 1, 'h1', 'Engineers, 3+ years', '{"all": [{"job_family": ["Engineering"]}, {"years_experience": {"min": 3}}]}'),
  ('data-eng-na', 1, 'h2', 'Data and engineering in North America', '{"all": [{"job_family": ["Data", "Engineering"]}, {"country": ["CA", "US"]}]}'),
  ('everyone', 1, 'h3', 'Everyone', '{"all": []}'),
  ('senior-eu', 1, 'h4', 'Senior people in Europe', '{"all": [{"country": ["DE", "GB"]}, {"years_experience": {"min": 5}}]}'),
  ('in-canada', 1, 'h5', 'People in Canada', '{"country": ["CA"]}')
) t(segment, version, definition_hash, description, definition);
"""

# Stand-in for identity resolution (NOT the Splink step): one person per normalised email,
# and one per record without an email.
STAND_IN_IDENTITY_SQL = r"""
create schema if not exists identity;
create or replace table identity.source_record_person as
with records as (
    select source, source_record_id,
           coalesce(nullif(lower(trim(email)), ''), source || ':' || source_record_id) as match_key
    from intermediate.int_source_records
)
select source, source_record_id,
       'P-' || substr(md5(match_key), 1, 12) as person_id,
       count(*) over (partition by match_key) as cluster_size,
       timestamptz '2026-11-01 00:00:00+00' as resolved_at
from records;
"""

# Expected results for the fixture, by the person's (lower-cased) email.
CONTACTABLE = {"alice@example.com", "carol@example.ca", "judy@example.com"}
NOT_CONTACTABLE = {
    "bob@schmidt.example": "no_marketing_consent",
    "dan@example.com": "pending_double_opt_in",
    "erin@example.com": "suppressed",
    "frank@example.com": "in_active_application",
    "grace@example.co.uk": "no_marketing_consent",
    "heidi@example.com": "suppressed",
    "ivan@example.com": "no_marketing_consent",
    "ken@example.com": "employee",
}
EXPECTED_AUDIENCES = {
    "eng-nurture": {"alice@example.com", "judy@example.com"},
    "data-na": {"alice@example.com", "carol@example.ca", "judy@example.com"},
    "everyone": {"alice@example.com", "carol@example.ca", "judy@example.com"},
    "senior-eu": set(),
    "in-canada": {"carol@example.ca"},  # a campaign drawing on a segment (segment_members)
}


def build_raw_warehouse(path: Path, without: tuple[str, ...] = ()) -> Path:
    """Create the raw_* schemas with the fixture rows in a DuckDB file at `path`; the tables named
    in `without` are dropped again (dlt creates a table only with its first row)."""
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(RAW_SQL)
        for table in without:
            con.execute(f"drop table {table}")
    return path


def write_stand_in_identity(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(STAND_IN_IDENTITY_SQL)
