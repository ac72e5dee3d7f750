-- Every identity run with its figures: records, people, merges, splits, model version, and the
-- review queue's open pairs now. The data-health dashboard shows the latest and the history.
select
    run_id,
    kind,
    started_at,
    records,
    persons as people,
    merges,
    splits,
    model_version,
    review_queue_open
from {{ ref('stg_identity__resolution_runs') }}
