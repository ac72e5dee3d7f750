{%- set columns = relation_column_names(source('identity', 'resolution_runs')) -%}
{%- set queue_columns = relation_column_names(source('identity', 'review_queue')) -%}
-- Identity runs with the review queue's open pairs now (the same figure on every row: the queue is
-- refreshed by each run and each decision). No rows before the first identity run.
with

source as (

    {{ select_source_rows(source('identity', 'resolution_runs'), columns) }}

),

queue as (

    {{ select_source_rows(source('identity', 'review_queue'), queue_columns) }}

),

open_pairs as (

    {% if queue_columns -%}
    select cast(count(*) as bigint) as review_queue_open from queue where status = 'open'
    {%- else -%}
    select cast(0 as bigint) as review_queue_open
    {%- endif %}

),

renamed as (

    select
        {{ optional_column(columns, 'run_id', 'varchar') }} as run_id,
        {{ optional_column(columns, 'kind', 'varchar') }} as kind,
        {{ optional_column(columns, 'started_at', 'timestamp') }} as started_at,
        {{ optional_column(columns, 'records', 'bigint') }} as records,
        {{ optional_column(columns, 'persons', 'bigint') }} as persons,
        {{ optional_column(columns, 'merges', 'bigint') }} as merges,
        {{ optional_column(columns, 'splits', 'bigint') }} as splits,
        {{ optional_column(columns, 'model_version', 'integer') }} as model_version,
        open_pairs.review_queue_open

    from source
    cross join open_pairs

)

select * from renamed
