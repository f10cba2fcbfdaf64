"""A self-contained HTML report: summary table plus plots embedded as base64 PNGs (no external files)."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from typing import Optional

from bertrbp import __version__
from bertrbp.report.metrics import COUNT_COLUMNS, METRIC_COLUMNS, MetricsRow

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 100%; }
footer { color: #777; font-size: 0.8em; margin-top: 2em; }
"""


def _cell(key: str, value: Optional[float]) -> str:
    if value is None:
        return "<td>&ndash;</td>"
    if key in COUNT_COLUMNS:
        return f"<td>{int(value)}</td>"
    return f"<td>{value:.3f}</td>"


def _image(title: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"></figure>'


def render(rows: list[MetricsRow], plots: dict[str, Optional[bytes]], title: str) -> str:
    """Whole report as one HTML string; plots that are None are left out."""
    header = "".join(f"<th>{html.escape(h)}</th>" for h in ("RBP", "model") + METRIC_COLUMNS)
    body = "\n".join(
        "<tr>"
        + f'<td class="text">{html.escape(r.rbp)}</td><td class="text">{html.escape(r.model)}</td>'
        + "".join(_cell(k, r.values.get(k)) for k in METRIC_COLUMNS)
        + "</tr>"
        for r in rows
    )
    figures = "\n".join(_image(name, png) for name, png in plots.items() if png is not None)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_rbps = len({r.rbp for r in rows})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{n_rbps} RBP dataset(s), {len(rows)} evaluated model(s). Metrics on each RBP's held-out test split
(AUROC, AUPRC, and accuracy / F1 / MCC at the reported threshold).</p>
<h2>Metrics</h2>
<table><thead><tr>{header}</tr></thead><tbody>
{body}
</tbody></table>
<h2>Plots</h2>
{figures or "<p>No plottable metrics.</p>"}
<footer>bert-rbp {__version__}, generated {stamp}. BERT-RBP: Yamada &amp; Hamada, Bioinformatics 2022,
doi:10.1093/bioadv/vbac023.</footer>
</body></html>
"""
