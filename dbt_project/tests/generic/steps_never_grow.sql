{#- A funnel: each of `columns` (in order) is at most the one before it, on every row. -#}
{% test steps_never_grow(model, columns) %}
select *
from {{ model }}
where {% for column in columns[1:] %}{{ column }} > {{ columns[loop.index0] }}{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
