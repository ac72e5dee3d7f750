-- A contactable person always has a valid marketing address (the one the consent covers) and
-- marketing consent, and is not suppressed.
select person_id
from {{ ref('dim_candidates') }}
where is_contactable
    and (
        not has_marketing_consent
        or is_suppressed
        or marketing_email is null
        or marketing_email is null
        or not_contactable_reason is not null
    )
