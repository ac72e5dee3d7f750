"""`python -m pipelines.ats`: one ATS run with the current settings (the crash tests run it as a subprocess)."""
import json

from pipelines.ats import run_ats

print(json.dumps(run_ats()))
