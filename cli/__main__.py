"""`python -m cli ...` is the `warmpool` command."""
from cli.main import app

app()
