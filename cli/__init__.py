"""The application layer: the `warmpool` command line and the demo runner.

The only package allowed to import everything (domain, pipelines, Dagster assets, the web service,
the sandbox); the import contracts in pyproject.toml keep every other package inside its boundary.
"""
