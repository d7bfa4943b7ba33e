"""Progress lines: an honest rate per mapping, and a first and a last line for every mapping."""

from __future__ import annotations

import io
from dataclasses import dataclass

from dbt_segment_profiles.report import Reporter


@dataclass
class Counts:
    """The fields of a MappingResult that progress reads."""

    mapping: str
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0


def reporter(tty: bool = False) -> tuple[Reporter, io.StringIO]:
    err = io.StringIO()
    r = Reporter(out=io.StringIO())
    r.err, r._tty = err, tty
    return r, err


def lines(err: io.StringIO) -> list[str]:
    return err.getvalue().splitlines()


def test_rate_counts_from_the_mapping_start_not_from_the_first_callback() -> None:
    r, err = reporter()
    users = Counts("users")
    r.progress_start(users, 10_000, now=100.0)
    users.acknowledged = 2_500
    r.progress(users, 10_000, now=105.0)  # the first batch took 5 s
    assert lines(err) == ["users: 2,500/10,000 settled (2,500 acknowledged), 500 rows/s, ETA 15s"]


def test_no_rate_before_a_second_has_passed() -> None:
    r, err = reporter()
    users = Counts("users", acknowledged=2_500)
    r.progress_start(users, 10_000, now=100.0)
    r.progress(users, 10_000, now=100.000001)
    assert lines(err) == ["users: 2,500/10,000 settled (2,500 acknowledged), — rows/s, ETA —"]


def test_without_a_start_the_first_callback_gives_no_rate_and_later_ones_count_after_it() -> None:
    r, err = reporter()
    users = Counts("users", acknowledged=2_500)
    r.progress(users, 100_000, now=50.0)
    users.acknowledged = 7_500
    r.progress(users, 100_000, now=60.0)
    assert lines(err) == [
        "users: 2,500/100,000 settled (2,500 acknowledged), — rows/s, ETA —",
        "users: 7,500/100,000 settled (7,500 acknowledged), 500 rows/s, ETA 185s",
    ]


def test_a_failure_after_41_seconds_shows_its_slow_rate_and_says_it_failed() -> None:
    r, err = reporter()
    signups = Counts("signups")
    r.progress_start(signups, 1, now=0.0)
    signups.failed = 1
    r.progress(signups, 1, now=41.0)
    assert lines(err) == [
        "signups: done, 1/1 settled (0 acknowledged, 1 failed) in 41.0s, 0.0 rows/s"
    ]


def test_lines_are_throttled_per_mapping_and_each_mapping_gets_a_first_and_last_line() -> None:
    r, err = reporter()
    users, signups = Counts("users"), Counts("signups")
    r.progress_start(users, 3_000, now=0.0)
    for second, done in ((2.0, 1_000), (4.0, 2_000), (6.0, 3_000)):
        users.acknowledged = done
        r.progress(users, 3_000, now=second)
    # the next mapping settles all its rows within the throttle interval of the previous line
    r.progress_start(signups, 10, now=6.1)
    signups.acknowledged, signups.rejected = 8, 2
    r.progress(signups, 10, now=6.2)
    r.progress_done(signups, 10, now=6.3)  # already said: no second last line
    assert lines(err) == [
        "users: 1,000/3,000 settled (1,000 acknowledged), 500 rows/s, ETA 4s",
        "users: done, 3,000/3,000 settled (3,000 acknowledged) in 6.0s, 500 rows/s",
        "signups: done, 10/10 settled (8 acknowledged, 2 rejected) in 0.1s, — rows/s",
    ]


def test_a_mapping_stopped_early_gets_its_last_line_from_progress_done() -> None:
    r, err = reporter()
    users = Counts("users")
    r.progress_start(users, 5_000, now=0.0)
    users.acknowledged = 2_500
    r.progress(users, 5_000, now=2.0)
    r.progress(users, 5_000, now=3.0)  # throttled
    r.progress_done(users, 5_000, now=4.0)
    assert lines(err)[-1] == (
        "users: stopped, 2,500/5,000 settled (2,500 acknowledged) in 4.0s, 625 rows/s"
    )


def test_the_next_mapping_closes_a_previous_one_left_unfinished() -> None:
    r, err = reporter()
    users, signups = Counts("users"), Counts("signups", acknowledged=10)
    r.progress_start(users, 200, now=0.0)
    users.acknowledged = 100
    r.progress(users, 200, now=2.0)
    r.progress(signups, 10, now=3.0)
    assert lines(err) == [
        "users: 100/200 settled (100 acknowledged), 50.0 rows/s, ETA 2s",
        "users: stopped, 100/200 settled (100 acknowledged) in 2.0s, 50.0 rows/s",
        "signups: done, 10/10 settled (10 acknowledged) in 0.0s, — rows/s",
    ]


def test_on_a_terminal_each_mapping_keeps_its_last_bar_on_a_line_of_its_own() -> None:
    r, err = reporter(tty=True)
    users, signups = Counts("users"), Counts("signups")
    r.progress_start(users, 4, now=0.0)
    users.acknowledged = 2
    r.progress(users, 4, now=1.0)
    users.acknowledged, users.failed = 3, 1
    r.progress(users, 4, now=2.0)
    r.progress_start(signups, 1, now=2.0)
    signups.acknowledged = 1
    r.progress(signups, 1, now=2.5)
    bars = err.getvalue().split("\r")[1:]
    assert [b.replace("\x1b[K", "") for b in bars] == [
        f"users: [{'#' * 15:<30}] 2/4 2.0 rows/s ETA 1s",
        f"users: [{'#' * 30}] 4/4 2.0 rows/s in 2.0s, 1 failed\n",
        f"signups: [{'#' * 30}] 1/1 — rows/s in 0.5s\n",
    ]


def test_json_and_quiet_print_no_progress() -> None:
    for flags in ({"json_output": True}, {"quiet": True}):
        r = Reporter(out=io.StringIO(), **flags)
        r.err = io.StringIO()
        r.progress(Counts("users", acknowledged=1), 1, now=5.0)
        assert r.err.getvalue() == ""
