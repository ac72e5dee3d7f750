{#- Every resume text a person gave, newest first per person: what search indexes beside the golden profile. -#}
select
    person_id,
    source,
    source_record_id,
    resume_text,
    received_at
from {{ ref('int_candidate_resumes') }}
where person_id is not null
