{{ config(severity='warn') }}
{#- A person any of whose records names a country has an ISO 3166 code: a spelling neither pycountry
    nor the override seed country_aliases knows shows up here (add it to the seed). A warning, not
    an error: one stray spelling must not stop the audiences. -#}
select golden.person_id, records.country
from {{ ref('int_candidates_golden') }} as golden
inner join {{ ref('int_candidate_records_resolved') }} as records on golden.person_id = records.person_id
where golden.country_code is null and records.country is not null
