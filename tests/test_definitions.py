"""The Dagster code location loads and holds the whole flow."""
from __future__ import annotations

import dagster as dg


def test_definitions_load_with_the_whole_flow():
    from assets.definitions import defs

    job = defs.resolve_job_def("warmpool_all")
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for expected in ("raw_ats/candidates", "raw_vendors/resumes", "raw_forms/form_submissions",
                     "intermediate/int_source_records", "identity/source_record_person",
                     "marts/dim_candidates", "marts/fct_applications", "marts/audience_members",
                     "audience_files", "campaign_sends"):
        assert expected in keys, expected
    assert job is not None


def _ancestors(graph, key):
    seen, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_identity_runs_between_the_two_dbt_phases():
    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    identity = dg.AssetKey(["identity", "source_record_person"])
    assert dg.AssetKey(["intermediate", "int_source_records"]) in graph.get(identity).parent_keys
    assert identity in _ancestors(graph, dg.AssetKey(["marts", "audience_members"]))
    assert dg.AssetKey(["marts", "audience_members"]) in _ancestors(graph, dg.AssetKey("campaign_sends"))
