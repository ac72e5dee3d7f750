-- No EEO count of fewer than eeo_min_cell people (default 11) reaches a dashboard, and no
-- suppressed cell carries its count.
select *
from {{ ref('rpt_eeo_applicants') }}
where (not is_suppressed and (applicants is null or applicants < {{ var('eeo_min_cell', 11) }}))
   or (is_suppressed and applicants is not null)
