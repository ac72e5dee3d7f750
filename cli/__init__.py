"""The application layer: the `warmpool` command line and the demo runner.

The only package allowed to import everything (domain, pipelines, Dagster assets, the web service,
the sandbox); the import contracts in pyproject.toml keep every other package inside its boundary.
"""
import os

# polars allocates through jemalloc, which by default keeps freed pages for 0.5-1.5 s before giving
# them back; a run over millions of records frees and re-allocates whole columns faster than that,
# so its peak memory was the sum of frames already dropped (at 1M records, reading the export
# peaked at 1.2 GB for a 0.6 GB frame). Returning pages at once costs no measurable time. Set
# before polars is first imported (it reads this once); a value the user set is kept.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
