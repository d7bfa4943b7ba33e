"""`dbt-segment report`: one self-contained HTML page of the sync history.

`render_report` is a pure function of the gathered `SyncReport`: inline CSS and inline SVG, no
script, no font, image or style fetched from anywhere, every text escaped. `write_report` is the
edge: it reads the tables and writes `target/segment_report.html`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path

from ..context import Context
from ..mappings import Mapping
from .charts import runs_chart
from .report_data import (
    LastError,
    MappingReport,
    SyncReport,
    gather_report,
)

REPORT_FILE = "segment_report.html"

CSS = """
:root { --ack: #2e7d32; --rej: #f0a500; --fail: #c62828; --sent: #1f5fbf; --ink: #1d2330;
  --muted: #5f6b7a; --line: #e3e7ee; --card: #ffffff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui,
  -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
header { padding: 20px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
.meta, .sub { color: var(--muted); }
main { padding: 0 32px 32px; max-width: 1100px; }
section, .overview { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
h2 { margin: 0; font-size: 18px; } h3 { margin: 18px 0 6px; font-size: 14px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0 4px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .value.warn { color: #b37400; } .card .value.bad { color: var(--fail); }
.card .detail { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  font-weight: 600; color: #fff; background: var(--muted); }
.badge.success { background: var(--ack); } .badge.partial { background: var(--rej); }
.badge.error, .badge.blocked { background: var(--fail); }
.last-error { border-left: 4px solid var(--fail); background: #fdf1f1; padding: 8px 12px;
  margin-top: 12px; border-radius: 0 6px 6px 0; }
.last-error.resolved { border-left-color: #9aa5b4; background: #f1f3f6; }
.last-error .message { white-space: pre-wrap; overflow-wrap: anywhere; }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #eef1f5;
  padding: 0 4px; border-radius: 3px; margin-right: 4px; }
.chart { width: 100%; height: auto; display: block; margin-top: 8px; }
.chart .grid { stroke: var(--line); } .chart .axis { stroke: #9aa5b4; }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .band { fill: transparent; } .chart .run:hover .band { fill: #eef3fb; }
.chart .ack { fill: var(--ack); } .chart .rej { fill: var(--rej); }
.chart .fail { fill: var(--fail); }
.chart .sent { fill: none; stroke: var(--sent); stroke-width: 2; pointer-events: none; }
.chart .sent-dot { fill: var(--sent); pointer-events: none; }
.chart [class^="status-"] { fill: var(--fail); } .chart .status-partial { fill: var(--rej); }
.legend { color: var(--muted); font-size: 12px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 4px; vertical-align: -1px; }
.empty { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: var(--muted); margin-top: 14px; }
a { color: var(--sent); text-decoration: none; }
"""


def _n(value: int) -> str:
    return f"{value:,}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def _num(metric: str, value: int) -> str:
    return f'<td class="num" data-metric="{metric}">{_n(value)}</td>'


def render_report(report: SyncReport) -> str:
    """The whole page, as text: the same report always renders the same page."""
    title = f"Segment sync report: {report.project_name}"
    body = [
        f"<header><h1>{escape(title)}</h1>"
        f'<div class="meta">target <b>{escape(report.target_name)}</b> · bookkeeping schema '
        f"<b>{escape(report.schema)}</b> · generated {_when(report.generated_at)} UTC · "
        f'<span data-metric="mapping-count">{len(report.mappings)}</span> mapping(s)</div>'
        "</header><main>",
        _overview(report),
        *(_mapping_section(m) for m in report.mappings),
        "</main>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def _overview(report: SyncReport) -> str:
    if not report.mappings:
        return '<div class="overview"><p class="empty">No mappings selected.</p></div>'
    rows = []
    for m in report.mappings:
        last = m.runs[-1] if m.runs else None
        rows.append(
            f'<tr data-mapping="{escape(m.name)}"><td><a href="#mapping-{escape(m.name)}">'
            f"{escape(m.name)}</a></td><td>{escape(m.action)} → {escape(m.profile_space)}</td>"
            f"<td>{_badge(last.status) + ' ' + _when(last.started_at) if last else '—'}</td>"
            + _num("pending", sum(m.pending.values()))
            + _num("open-issues", m.open_issues)
            + _num("invalid-rows", m.invalid_rows)
            + "</tr>"
        )
    return (
        '<div class="overview"><table><thead><tr><th>mapping</th><th>action → space</th>'
        '<th>last sync</th><th class="num">pending now</th><th class="num">rows not '
        'acknowledged</th><th class="num">invalid-key rows</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _card(label: str, metric: str, value: int, detail: str = "", alarm: str = "") -> str:
    """A figure; `alarm` (warn, bad) colours it when it is not zero."""
    css = f"value {alarm}" if alarm and value else "value"
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="{css}" data-metric="{metric}">{_n(value)}</div>'
        f'<div class="detail">{detail}</div></div>'
    )


def _mapping_section(m: MappingReport) -> str:
    name = escape(m.name)
    last = m.runs[-1] if m.runs else None
    pending_detail = " · ".join(
        f'{op} <span data-metric="pending-{op}">{_n(n)}</span>' for op, n in m.pending.items()
    )
    last_detail = f"{_badge(last.status)} {_when(last.started_at)}" if last else "never synced"
    cards = [
        _card("pending now", "pending", sum(m.pending.values()), pending_detail),
        _card(
            "acknowledged, last sync",
            "last-acknowledged",
            last.acknowledged if last else 0,
            last_detail,
        ),
        _card("rejected, last sync", "last-rejected", last.rejected if last else 0, "", "warn"),
        _card("failed, last sync", "last-failed", last.failed if last else 0, "", "bad"),
        _card(
            "invalid-key rows",
            "invalid-rows",
            m.invalid_rows,
            f"{_n(m.invalid_key_count)} key(s), not sent",
            "warn",
        ),
    ]
    return (
        f'<section class="mapping" id="mapping-{name}" data-mapping="{name}">'
        f'<h2>{name}</h2><div class="sub">model {escape(m.model_name)} · {escape(m.action)}'
        f" → profile space {escape(m.profile_space)}</div>"
        f'<div class="cards">{"".join(cards)}</div>'
        + _last_error(m.last_error)
        + f"<h3>Runs over time (last {len(m.runs)})</h3>"
        + runs_chart(m.runs, f"runs of {m.name}: sent, acknowledged, rejected, failed")
        + _legend()
        + _reasons(m)
        + _invalid_keys(m)
        + _runs_table(m)
        + "</section>"
    )


def _legend() -> str:
    items = (("ack", "acknowledged"), ("rej", "rejected"), ("fail", "failed"), ("sent", "sent"))
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i class="swatch" style="background: var(--{key})"></i>{label}</span>'
            for key, label in items
        )
        + "<span>• below a bar: the sync did not fully succeed</span></div>"
    )


def _last_error(error: LastError | None) -> str:
    if error is None:
        return ""
    run = f" · run <code>{escape(error.run_id)}</code>" if error.run_id else ""
    css, title = ("last-error", "Last error")
    if error.resolved:
        css, title = "last-error resolved", "Last error, resolved"
    return (
        f'<div class="{css}" data-status="{escape(error.status)}" '
        f'data-resolved="{str(error.resolved).lower()}"><b>{title}</b> '
        f"{_badge(error.status)} {_when(error.at)}{run}"
        f'<div class="message" data-metric="error-message">{escape(error.message)}</div></div>'
    )


def _reasons(m: MappingReport) -> str:
    head = "<h3>Top reasons rows are not acknowledged</h3>"
    if not m.top_reasons:
        return head + '<p class="empty">None: every sent row was acknowledged.</p>'
    rows = "".join(
        f'<tr class="reason" data-kind="{escape(r.kind)}"><td>{escape(r.kind)}</td>'
        f'<td data-metric="reason">{escape(r.reason)}</td>'
        + _num("rows", r.rows)
        + '<td data-metric="sample-keys">'
        + "".join(f"<code>{escape(key)}</code>" for key in r.sample_keys)
        + "</td></tr>"
        for r in m.top_reasons
    )
    return (
        head + '<table><thead><tr><th>kind</th><th>reason</th><th class="num">rows</th>'
        f"<th>sample keys</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _invalid_keys(m: MappingReport) -> str:
    head = "<h3>Invalid keys (last capture)</h3>"
    if not m.invalid_keys:
        return head + '<p class="empty">None: every row had a unique, non-null key.</p>'
    rows = "".join(
        '<tr class="invalid-key"><td data-metric="record-key">'
        + (f"<code>{escape(k.record_key)}</code>" if k.record_key is not None else "<i>null</i>")
        + f'</td><td data-metric="reason">{escape(k.reason)}</td>'
        + _num("rows", k.row_count)
        + "</tr>"
        for k in m.invalid_keys
    )
    more = m.invalid_key_count - len(m.invalid_keys)
    tail = f'<p class="sub">and {_n(more)} more key(s)</p>' if more > 0 else ""
    return (
        head + '<table><thead><tr><th>key</th><th>reason</th><th class="num">rows</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>{tail}"
    )


def _runs_table(m: MappingReport) -> str:
    if not m.runs:
        return ""
    rows = "".join(
        f'<tr class="run-row" data-run-id="{escape(r.run_id)}"><td>{_when(r.started_at)}</td>'
        f"<td>{_badge(r.status)}</td>"
        + _num("sent", r.sent)
        + _num("acknowledged", r.acknowledged)
        + _num("rejected", r.rejected)
        + _num("failed", r.failed)
        + _num("invalid-keys", r.invalid_keys)
        + "</tr>"
        for r in reversed(m.runs)
    )
    return (
        f"<details><summary>The {len(m.runs)} run(s) in the chart, latest first</summary>"
        '<table><thead><tr><th>started</th><th>status</th><th class="num">sent</th>'
        '<th class="num">acknowledged</th><th class="num">rejected</th>'
        '<th class="num">failed</th><th class="num">invalid keys</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )


def write_report(ctx: Context, mappings: list[Mapping], runs_per_mapping: int = 50) -> Path:
    """Read the bookkeeping tables, write the page into the target path; the page's path."""
    project = ctx.project
    report = gather_report(
        ctx.warehouse,
        mappings,
        project.name,
        project.target_name,
        runs_per_mapping,
    )
    path = Path(project.target_path) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report), encoding="utf-8")
    return path
