select
    position_id,
    person_id,
    company_name,
    title,
    started_on,
    ended_on,
    first_observed_at,
    last_observed_at,
    sources,
    mention_count
from {{ ref('int_candidate_work_history') }}
