"""The sync report's renderer: a pure function of the gathered data, escaping every text."""

from __future__ import annotations

from datetime import datetime, timezone

from dbt_segment_profiles.reporting.charts import nice_step, runs_chart
from dbt_segment_profiles.reporting.html_report import render_report
from dbt_segment_profiles.reporting.report_data import (
    InvalidKey,
    LastError,
    MappingReport,
    ReasonSummary,
    RunPoint,
    SyncReport,
)

HOSTILE = '<script>alert("x")</script>'
AT = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def a_report(runs: tuple[RunPoint, ...]) -> SyncReport:
    mapping = MappingReport(
        name="users",
        model_name="dim_users",
        action="identify",
        profile_space="default",
        runs=runs,
        pending={"added": 1200, "updated": 0, "deleted": 3},
        open_issues=1,
        top_reasons=(ReasonSummary("rejected", HOSTILE, 1, ('k"><img src=x>',)),),
        invalid_rows=2,
        invalid_keys=(InvalidKey(None, "primary key id is NULL", 2),),
        invalid_key_count=1,
        last_error=LastError("partial", AT, HOSTILE, "run-1"),
    )
    return SyncReport("p&q", "dev", "analytics_segment", AT, (mapping,))


def test_every_text_from_the_tables_is_escaped_and_nothing_is_fetched_or_run() -> None:
    runs = (RunPoint("run-1", AT, "partial", 5, 4, 1, 0, 0),)
    page = render_report(a_report(runs))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "k&quot;&gt;&lt;img src=x&gt;" in page and "p&amp;q" in page
    assert "http" not in page and "url(" not in page
    # pending now, in the overview and on the mapping's card
    assert page.count('data-metric="pending">1,203<') == 2
    assert render_report(a_report(runs)) == page


def test_a_mapping_never_synced_shows_no_chart() -> None:
    page = render_report(a_report(()))
    assert "No sync recorded yet." in page and "<svg" not in page


def test_the_chart_draws_one_group_per_run_on_round_ticks() -> None:
    runs = tuple(RunPoint(f"r{i}", AT, "success", 7 * i, 7 * i, 0, 0, 0) for i in range(1, 5))
    svg = runs_chart(runs, "t")
    assert svg.count('<g class="run"') == 4 and 'data-sent="28"' in svg
    assert ">30</text>" in svg and ">10</text>" in svg  # ticks of 10 up to 30
    assert [nice_step(v) for v in (0, 1, 1.5, 3, 7, 12, 250, 1001)] == [
        1,
        1,
        2,
        5,
        10,
        20,
        500,
        2000,
    ]
