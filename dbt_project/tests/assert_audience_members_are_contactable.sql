-- Nobody lands in an audience unless dim_candidates says they may be contacted.
-- An asset check on audience_members in Dagster (a singular test on two models names the one it checks).
{{ config(meta={'dagster': {'ref': {'name': 'audience_members'}}}) }}
select audience_members.campaign_id, audience_members.person_id
from {{ ref('audience_members') }} as audience_members
left join {{ ref('dim_candidates') }} as dim_candidates
    on audience_members.person_id = dim_candidates.person_id
where not coalesce(dim_candidates.is_contactable, false)
