"""`dbt-segment report`: the page a browser renders says what the bookkeeping tables say."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import WRITE_KEY_ENV, segment, write_seed

MODELS_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users
              action: identify
              profile_space: default
              max_deleted_percent: null
              fields: {user_id: id, traits: [email, plan]}
            - name: subscriptions
              action: subscriptions
              profile_space: default
              max_deleted_percent: null
              fields: {user_id: id, email: email, email_subscription_status: email_status}
"""
HEADER = "id,email,plan,email_status"
DAY_1 = [
    (1, "a@x.io", "pro", "subscribed"),
    (2, "b@x.io", "free", "MAYBE"),
    (3, "c@x.io", "free", "unsubscribed"),
    (4, "d@x.io", "pro", "MAYBE"),
    (5, "e@x.io", "free", "true"),
    (5, "e2@x.io", "free", "true"),  # a duplicated key
    (None, "n@x.io", "free", "true"),  # a null key
]
# day 2: one email changes, a row with another unknown status arrives
DAY_2 = [(1, "a2@x.io", "pro", "subscribed"), *DAY_1[1:], (6, "f@x.io", "free", "NOPE")]
# day 3: a plan changes, captured and not synced yet
DAY_3 = [DAY_2[0], DAY_2[1], (3, "c@x.io", "pro", "unsubscribed"), *DAY_2[3:]]

COUNTS = ("sent", "acknowledged", "rejected", "failed")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []  # type: list[Node | str]

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, **wanted: str) -> list[Node]:
        """Descendants with these attribute values (`data_x` for data-x), tag or `class_`."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                attrs = {k.replace("-", "_"): v for k, v in child.attrs.items()}
                attrs["tag"] = child.tag
                classes = (attrs.pop("class", None) or "").split()
                if all(
                    v in classes if k == "class_" else attrs.get(k) == v for k, v in wanted.items()
                ):
                    found.append(child)
                found += child.find(**wanted)
        return found

    def metric(self, name: str) -> str:
        (node,) = self.find(data_metric=name)
        return node.text().strip()

    def number(self, name: str) -> int:
        return int(self.metric(name).replace(",", ""))


class DomTree(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is not installed, and this test renders the report with it: "
            "run `bash scripts/ensure_chromium.sh` (`make test` does)"
        )
    return path


def headless(page: Path, profile_dir: Path, *args: str) -> str:
    """Run headless Chromium on the page (as root it needs --no-sandbox); its stdout."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile_dir}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Tables:
    """The bookkeeping tables, read with plain SQL: what the page must say."""

    def __init__(self, project: Any):
        self.project = project
        self.schema = f"{project.test_schema}_segment"

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.project.run_sql(sql, fetch="all")]

    def runs(self, mapping: str) -> list[tuple]:
        return self.rows(
            "select run_id, status, sent, acknowledged, rejected, failed, invalid_keys "
            f"from {self.schema}.segment_runs where mapping_name = '{mapping}' "
            "order by started_at"
        )

    def pending(self, mapping: str) -> dict[str, int]:
        prefix = f"{self.schema}.{mapping}"
        counted = dict(
            self.rows(
                f"select p.__sp_op, count(*) from {prefix}__pending as p where not exists "
                f"(select 1 from {prefix}__acks as a where a.record_key = p.__sp_key "
                "and a.change_version = p.__sp_version) group by p.__sp_op"
            )
        )
        return {op: int(counted.get(op, 0)) for op in ("added", "updated", "deleted")}

    def issues(self, mapping: str) -> dict[tuple[str, str], set[str]]:
        keys: dict[tuple[str, str], set[str]] = {}
        for kind, reason, key in self.rows(
            "select kind, reason, record_key from "
            f"{self.schema}.segment_record_issues where mapping_name = '{mapping}'"
        ):
            keys.setdefault((kind, reason), set()).add(key)
        return keys

    def latest_issue_reason(self, mapping: str) -> str:
        return self.rows(
            f"select reason from {self.schema}.segment_record_issues where mapping_name = "
            f"'{mapping}' order by last_seen desc, reason limit 1"
        )[0][0]

    def invalid(self, mapping: str) -> list[tuple]:
        return sorted(
            (
                (key, reason, int(n))
                for key, reason, n in self.rows(
                    f"select record_key, reason, row_count from {self.schema}.{mapping}__invalid"
                )
            ),
            key=null_first,
        )


def null_first(row: tuple) -> tuple:
    return (row[0] is not None, row[0] or "", *row[1:])


def sync_day(project: Any, rows: list[tuple]) -> tuple[int, Any]:
    write_seed(project, "raw_users", HEADER, rows)
    run_dbt(["run"])
    return segment(project, "sync")


def check_mapping(section: Node, tables: Tables, mapping: str) -> None:
    """Every figure of one mapping's section against the tables."""
    runs = tables.runs(mapping)
    bars = section.find(class_="run")
    assert [
        (
            g.attrs["data-run-id"],
            g.attrs["data-status"],
            *(int(g.attrs[f"data-{c}"]) for c in COUNTS),
        )
        for g in bars
    ] == [run[:6] for run in runs]
    table_rows = section.find(class_="run-row")
    assert [
        (
            tr.attrs["data-run-id"],
            *(tr.number(c) for c in (*COUNTS, "invalid-keys")),
        )
        for tr in reversed(table_rows)
    ] == [(run[0], *run[2:]) for run in runs]
    last = runs[-1]
    assert (section.number("last-acknowledged"), section.number("last-rejected")) == last[3:5]
    assert section.number("last-failed") == last[5]

    pending = tables.pending(mapping)
    assert {op: section.number(f"pending-{op}") for op in pending} == pending
    assert section.number("pending") == sum(pending.values())

    issues = tables.issues(mapping)
    shown = section.find(class_="reason")
    assert len(shown) == min(5, len(issues))
    for tr in shown:
        keys = issues[(tr.attrs["data-kind"], tr.metric("reason"))]
        assert tr.number("rows") == len(keys)
        samples = [code.text() for code in tr.find(data_metric="sample-keys")[0].find(tag="code")]
        assert len(samples) == min(5, len(keys)) and set(samples) <= keys
    counts = [tr.number("rows") for tr in shown]
    assert counts == sorted(counts, reverse=True)

    invalid = tables.invalid(mapping)
    assert section.number("invalid-rows") == sum(n for _, _, n in invalid)
    shown_keys = [
        (
            None if tr.find(tag="i") else tr.metric("record-key"),
            tr.metric("reason"),
            tr.number("rows"),
        )
        for tr in section.find(class_="invalid-key")
    ]
    assert sorted(shown_keys, key=null_first) == invalid


@pytest.mark.usefixtures("sandbox")
class TestSyncReport:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": MODELS_YML}

    def test_report_page_rendered_by_chromium_shows_the_bookkeeping_tables_numbers(
        self, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run_dbt(["deps"])
        code, _ = sync_day(project, DAY_1)
        assert code == 1  # 'MAYBE' is no subscription status: two rows rejected
        monkeypatch.setenv(WRITE_KEY_ENV, "a-revoked-key")
        code, _ = sync_day(project, DAY_2)
        assert code != 0  # the profile space refuses the key: the users' changes fail
        monkeypatch.setenv(WRITE_KEY_ENV, "test-write-key")
        code, _ = segment(project, "sync")
        assert code == 1
        write_seed(project, "raw_users", HEADER, DAY_3)
        run_dbt(["run"])  # captured, not synced: pending now

        code, document = segment(project, "report")
        assert code == 0, document
        page = Path(project.project_root) / "target" / "segment_report.html"
        assert document == {"report": str(page)}
        html = page.read_text()
        # self-contained: nothing for a browser to fetch, nothing to run
        for needle in ("<script", "<link", "src=", "url(", "@import", "<iframe", "<img"):
            assert needle not in html.lower(), needle

        dom = DomTree(headless(page, tmp_path / "chromium", "--dump-dom")).root
        tables = Tables(project)
        sections = {s.attrs["data-mapping"]: s for s in dom.find(class_="mapping")}
        assert sorted(sections) == ["subscriptions", "users"]
        for mapping, section in sections.items():
            check_mapping(section, tables, mapping)
            (row,) = dom.find(tag="tr", data_mapping=mapping)
            assert row.number("pending") == sum(tables.pending(mapping).values())
            assert row.number("open-issues") == sum(map(len, tables.issues(mapping).values()))

        # the scenario produced what the page is for: rejections with reasons, failures,
        # invalid keys, something pending and a last error per mapping
        subscriptions, users = sections["subscriptions"], sections["users"]
        assert tables.pending("subscriptions")["added"] == 3
        assert tables.pending("users") == {"added": 0, "updated": 1, "deleted": 0}
        assert any("MAYBE" in tr.metric("reason") for tr in subscriptions.find(class_="reason"))
        assert any(int(g.attrs["data-failed"]) for g in users.find(class_="run"))
        assert users.number("invalid-rows") == 3  # two rows of key 5, one null key
        (error,) = subscriptions.find(class_="last-error")
        assert error.attrs["data-status"] == tables.runs("subscriptions")[-1][1] == "partial"
        assert error.metric("error-message") == tables.latest_issue_reason("subscriptions")
        assert error.attrs["data-resolved"] == "false"
        (error,) = users.find(class_="last-error")
        assert (error.attrs["data-status"], error.attrs["data-resolved"]) == ("error", "true")
        assert "later sync succeeded" in error.metric("error-message")

        shot = tmp_path / "segment_report.png"
        headless(page, tmp_path / "chromium", f"--screenshot={shot}", "--window-size=1200,1600")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
