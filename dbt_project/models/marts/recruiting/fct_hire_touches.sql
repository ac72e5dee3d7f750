select
    application_id,
    person_id,
    hired_at,
    touch_number,
    touch_count,
    touched_at,
    touch_type,
    source,
    ats_source_name,
    campaign_id,
    touch_position,
    linear_credit
from {{ ref('int_hire_touches') }}
