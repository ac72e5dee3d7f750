-- written by warmpool/spellings.py between dbt's two phases (the rule's one owner is Python)
select * from {{ source('spellings', 'name_spellings') }}
