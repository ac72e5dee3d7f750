"""The dashboard pages: key (as in config/dashboards.yaml), script, title and icon. The app builds its
navigation from this; tests/test_dbt_project.py checks each has its dbt exposure (`dashboard_<key>`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DashboardPage:
    key: str
    script: str       # relative to dashboards/
    title: str
    icon: str
    url_path: str

    @property
    def path(self) -> Path:
        return HERE / self.script


PAGES = (
    DashboardPage("leadership", "views/leadership.py", "Leadership & ROI", ":material/insights:", "leadership"),
    DashboardPage("sourcing", "views/sourcing.py", "Sourcing & recruiters", ":material/person_search:", "sourcing"),
    DashboardPage("campaigns", "views/campaigns.py", "Campaigns", ":material/campaign:", "campaigns"),
    DashboardPage("funnel", "views/funnel.py", "Funnel", ":material/filter_alt:", "funnel"),
    DashboardPage("eeo", "views/eeo.py", "EEO applicants", ":material/diversity_3:", "eeo"),
    DashboardPage("data_health", "views/data_health.py", "Data health", ":material/monitor_heart:", "data-health"),
    # the recruiter pages read the search index (warmpool.search) and keep their own search audit log
    DashboardPage("search", "search_page.py", "Recruiter search", ":material/search:", "search"),
    DashboardPage("lookup", "lookup_page.py", "Search first", ":material/how_to_reg:", "lookup"),
)
