"""What the dashboards show, as plain functions: who may see which page (`access`), the filters every
page honours and the queries over the marts' parquet exports (`marts`, `queries`), small-cell
suppression (`privacy`) and the access log of views that show personal data (`access_log`).
No framework imports: a notebook, a benchmark and a test call the same functions the pages do."""
