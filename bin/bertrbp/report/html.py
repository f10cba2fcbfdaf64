"""A self-contained HTML report a user can trust a model by: verdict banners first, then a compact overview
table (each model beside its RBP's k-mer floor), then one collapsed section per RBP with ROC/PR curves, per-epoch
training curves, run parameters and software versions. Charts are inline SVG (report.svg); no external files,
no network, and a few lines of optional JavaScript (sorting, opening a section from a link).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime, timezone

from bertrbp import __version__
from bertrbp.report import svg
from bertrbp.report.inputs import finite_number
from bertrbp.report.metrics import MAIN_MODEL, MetricsRow
from bertrbp.report.verdict import ADVICE, BELOW_FLOOR, COLLAPSED, HEADLINES, OK, STALLED, UNKNOWN

VERDICT_COLORS = {COLLAPSED: "#b71c1c", STALLED: "#c62828", BELOW_FLOOR: "#e65100", OK: "#2e7d32", UNKNOWN: "#757575"}
MODEL_COLORS = {
    MAIN_MODEL: "#1565c0",
    "baseline": "#ef6c00",
    "kmer": "#616161",
    "kmer-pos": "#8d6e63",
    "kmer-gbt": "#5d4037",
    "cnn": "#2e7d32",
}
PALETTE = ("#6a1b9a", "#00838f", "#ad1457", "#827717", "#4e342e", "#283593")
ORDER = (COLLAPSED, STALLED, BELOW_FLOOR, OK, UNKNOWN)
MAX_WEAK_BANNERS = 5  # more models below their k-mer floor than this: one banner listing them

STYLE = """
:root { --fail: #c62828; --warn: #e65100; --ok: #2e7d32; --line: #d9d9d9; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1.2em 1.5em 3em;
       max-width: 1240px; color: #222; line-height: 1.4; background: #fafafa; }
h1 { margin: 0.2em 0 0.1em; font-size: 1.7em; } h2 { margin: 1.6em 0 0.5em; font-size: 1.25em; }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; }
.lede { color: #444; margin: 0.2em 0 0.8em; max-width: 70em; }
a { color: #1565c0; }
.tally { display: flex; flex-wrap: wrap; gap: 0.5em; margin: 0.6em 0; }
.chip { border-radius: 999px; padding: 0.25em 0.9em; color: #fff; font-weight: 600; font-size: 0.9em; }
.banner { border-radius: 6px; padding: 0.7em 1em; margin: 0.6em 0; }
.banner.fail { background: var(--fail); color: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.25); }
.banner.fail a { color: #fff; }
.banner.warn { background: #fff3e0; border-left: 6px solid var(--warn); color: #4e2600; }
.banner.good { background: #e8f5e9; border-left: 6px solid var(--ok); color: #1b5e20; }
.banner .title { font-size: 1.08em; font-weight: 700; }
.banner ul { margin: 0.3em 0 0.2em 1.2em; padding: 0; } .banner li { margin: 0.1em 0; }
.banner .advice { margin-top: 0.3em; font-style: italic; }
.banner .instead { margin-top: 0.3em; font-weight: 600; }
.badge { display: inline-block; border-radius: 4px; padding: 0.05em 0.5em; color: #fff; font-size: 0.78em;
         font-weight: 700; letter-spacing: 0.02em; white-space: nowrap; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-size: 0.86em; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 0.32em 0.42em; text-align: right; white-space: nowrap; }
th { background: #f1f3f5; position: sticky; top: 0; font-weight: 600; cursor: pointer; user-select: none; }
td.text, th.text { text-align: left; }
tr.fail td { background: #fdecea; } tr.fail td:first-child { box-shadow: inset 5px 0 var(--fail); }
tr.warn td { background: #fff6ec; } tr.warn td:first-child { box-shadow: inset 5px 0 var(--warn); }
tr.floor td { color: #555; }
.up { color: var(--ok); font-weight: 600; } .down { color: var(--fail); font-weight: 600; }
.muted { color: #777; } .small { font-size: 0.82em; }
.charts { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 0.6em 0; }
.charts svg { border: 1px solid #e3e3e3; border-radius: 4px; background: #fff; }
details.rbp { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 0.45em 0; }
details.rbp.fail { border-color: var(--fail); border-left: 6px solid var(--fail); }
details.rbp.warn { border-left: 6px solid var(--warn); }
details.rbp > summary { padding: 0.55em 0.9em; cursor: pointer; font-weight: 600; }
details.rbp > summary .badge { margin-left: 0.4em; }
details.rbp > summary .auc { font-weight: 400; color: #555; margin-left: 0.6em; font-size: 0.9em; }
details.rbp[open] > summary { border-bottom: 1px solid var(--line); }
.body { padding: 0.3em 1em 1em; }
div.params { display: inline-block; max-width: 100%; } table.params { width: auto; }
table.params td:first-child, table.params th:first-child { text-align: left; color: #444; }
table.params td { white-space: normal; text-align: left; }
.toolbar { margin: 0.4em 0; } .toolbar button { font: inherit; font-size: 0.85em; padding: 0.2em 0.7em; }
dl.guide dt { font-weight: 700; margin-top: 0.5em; } dl.guide dd { margin: 0.1em 0 0 1.2em; color: #333; }
footer { color: #777; font-size: 0.8em; margin-top: 2.5em; border-top: 1px solid var(--line); padding-top: 0.6em; }
"""

SCRIPT = """
function openFromHash(){var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);
 if(el&&el.tagName==='DETAILS'){el.open=true;}}
window.addEventListener('hashchange',openFromHash);openFromHash();
function setAll(open){document.querySelectorAll('details.rbp').forEach(function(d){d.open=open;});}
document.querySelectorAll('table.sortable th').forEach(function(th,col){th.addEventListener('click',function(){
 var body=th.closest('table').tBodies[0];var rows=Array.from(body.rows);var dir=th.dataset.dir==='asc'?-1:1;
 th.dataset.dir=dir===1?'asc':'desc';rows.sort(function(a,b){var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;
 var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*dir;
 return String(x).localeCompare(String(y))*dir;});rows.forEach(function(r){body.appendChild(r);});});});
"""

GUIDE = """
<dl class="guide">
<dt>COLLAPSED</dt><dd>The model answers (nearly) the same for every sequence or ranks them no better than chance
(AUROC within 0.02 of 0.5), on the validation set during finetune or on the test set. Do not use it.</dd>
<dt>STALLED</dt><dd>The model barely moved from the class prior: its loss is no better than always predicting the
class frequencies and its probabilities hardly vary, or every test prediction falls on one side of the threshold
(MCC 0). Its ranking may be usable; its probabilities and its thresholded calls are not.</dd>
<dt>BELOW K-MER FLOOR</dt><dd>Its test AUROC is not above that of a logistic regression on 1-5-mer counts of the
same RBP (the model tagged <code>kmer</code>, or a finetune run with <code>model_kind: kmer</code>): it learned nothing
a k-mer count cannot.</dd>
<dt>LEARNED</dt><dd>None of the above. The margin over the k-mer floor says how much the model adds.</dd>
<dt>Curves</dt><dd>ROC and precision-recall curves come from the test predictions; per-epoch curves from finetune's
history (training loss per epoch, validation loss and AUROC; the ring marks the kept epoch). The red dashed
<em>class prior</em> line is the loss of a constant predictor: a validation loss on that line means nothing was
learned.</dd>
</dl>
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _num(value: float | None, digits: int = 3) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _plain(value: float | None, digits: int = 3) -> str:
    """A number for SVG text (escaped later, so no HTML entities)."""
    return "–" if value is None else f"{value:.{digits}f}"


def _slug(name: str, used: set[str]) -> str:
    base = "rbp-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


def model_colors(rows: Iterable[MetricsRow]) -> dict[str, str]:
    """One stable colour per model tag across the whole page."""
    colors: dict[str, str] = {}
    spare = iter(PALETTE * 10)
    for row in rows:
        if row.model not in colors:
            colors[row.model] = MODEL_COLORS.get(row.model) or next(spare)
    return colors


def _badge(level: str, text: str | None = None) -> str:
    return f'<span class="badge" style="background:{VERDICT_COLORS[level]}">{_e(text or HEADLINES[level])}</span>'


def _row_class(row: MetricsRow) -> str:
    level = row.verdict.level if row.verdict else UNKNOWN
    if level in (COLLAPSED, STALLED):
        return "fail"
    if level == BELOW_FLOOR:
        return "warn"
    return "floor" if row.is_floor else ""


def _td(value: float | None, digits: int = 3, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    if value is None:
        return f'<td data-v=""{cls}>&ndash;</td>'
    return f'<td data-v="{value:.6g}"{cls}>{value:.{digits}f}</td>'


def _counts(n: float | None, bound: float | None) -> str:
    if n is None:
        return '<td data-v="">&ndash;</td>'
    of = f" ({int(bound)})" if bound is not None else ""
    return f'<td data-v="{int(n)}">{int(n)}{of}</td>'


def _margin_td(row: MetricsRow) -> str:
    margin = row.margin
    if row.is_floor:
        return '<td data-v="" class="muted">floor</td>'
    if margin is None:
        return '<td data-v="">&ndash;</td>'
    css = "up" if margin > 0 else "down"
    return f'<td data-v="{margin:.6g}" class="{css}">{margin:+.3f}</td>'


def _epochs_td(row: MetricsRow) -> str:
    training = row.training
    if training is None:
        return '<td data-v="">&ndash;</td>'
    return (
        f'<td data-v="{training.kept_epoch or 0}" title="kept epoch / epochs run">'
        f'{training.kept_epoch or "&ndash;"} / {len(training.history)}</td>'
    )


TABLE_HEAD = (
    "model",
    "kind",
    "verdict",
    "test AUROC",
    "k-mer floor",
    "vs floor",
    "AUPRC",
    "acc.",
    "F1",
    "MCC",
    "n (bound)",
    "val AUROC",
    "epoch",
)


def _table(rows: list[MetricsRow], slugs: dict[str, str], with_rbp: bool) -> str:
    head = (["RBP"] if with_rbp else []) + list(TABLE_HEAD)
    header = "".join(
        f'<th class="{"text" if h in ("RBP", "model", "kind", "verdict") else ""}">{_e(h)}</th>' for h in head
    )
    lines = []
    for row in rows:
        level = row.verdict.level if row.verdict else UNKNOWN
        v = row.values
        cells = []
        if with_rbp:
            cells.append(f'<td class="text" data-v="{_e(row.rbp)}"><a href="#{slugs[row.rbp]}">{_e(row.rbp)}</a></td>')
        kind = row.kind or ("k-mer floor" if row.is_floor else "")
        cells += [
            f'<td class="text" data-v="{_e(row.model)}">{_e(row.model)}</td>',
            f'<td class="text" data-v="{_e(kind)}">{_e(kind) or "&ndash;"}</td>',
            f'<td class="text" data-v="{ORDER.index(level)}">{_badge(level)}</td>',
            _td(v.get("auroc")),
            _td(row.floor_auroc),
            _margin_td(row),
            _td(v.get("auprc")),
            _td(v.get("accuracy")),
            _td(v.get("f1")),
            _td(v.get("mcc")),
            _counts(v.get("n"), v.get("n_positive")),
            _td(row.training.value("val_auroc") if row.training else None),
            _epochs_td(row),
        ]
        lines.append(f'<tr class="{_row_class(row)}">{"".join(cells)}</tr>')
    return (
        f'<div class="table-wrap"><table class="sortable"><thead><tr>{header}</tr></thead><tbody>\n'
        + "\n".join(lines)
        + "\n</tbody></table></div>"
    )


def _banner(row: MetricsRow, slug: str | None, better: MetricsRow | None = None) -> str:
    verdict = row.verdict
    css = "fail" if verdict.failed else "warn"
    link = f' &middot; <a href="#{slug}">details</a>' if slug else ""
    auroc = row.auroc
    score = f" &middot; test AUROC {auroc:.3f}" if auroc is not None else ""
    floor = f", k-mer floor {row.floor_auroc:.3f}" if row.floor_auroc is not None and not row.is_floor else ""
    reasons = "".join(f"<li>{_e(r)}</li>" for r in verdict.reasons)
    instead = (
        f'<div class="instead">Use instead: the {_e(better.model)} model of {_e(row.rbp)} in this report '
        f"({_e(better.kind) + ', ' if better.kind else ''}test AUROC {better.auroc:.3f}, {HEADLINES[OK].lower()})."
        "</div>"
        if better is not None
        else ""
    )
    return (
        f'<div class="banner {css}" role="alert"><div class="title">{_e(verdict.headline)}: {_e(row.rbp)} '
        f"&mdash; {_e(row.model)} model{score}{floor}{link}</div><ul>{reasons}</ul>{instead}"
        f'<div class="advice">{_e(verdict.advice)}</div></div>'
    )


def _instead_note(row: MetricsRow, rows: list[MetricsRow]) -> str:
    better = better_model(row, rows)
    return f"; use {_e(better.model)} ({better.auroc:.3f})" if better is not None else ""


def better_model(row: MetricsRow, rows: list[MetricsRow]) -> MetricsRow | None:
    """The same RBP's model judged ``ok`` with the highest test AUROC (above ``row``'s when ``row`` is only below its
    floor; a stalled or collapsed ``row`` may rank well, but its probabilities are unusable): what a user should
    take when ``row`` is not to be trusted and the report already holds something that is."""
    trusted = [
        r
        for r in rows
        if r is not row and r.rbp == row.rbp and r.verdict and r.verdict.level == OK and r.auroc is not None
    ]
    best = max(trusted, key=lambda r: r.auroc, default=None)
    if best is None or row.verdict.failed or row.auroc is None:
        return best
    # below the floor: a better model, or the floor itself at a tie ("not above the floor" includes equal)
    return best if best.auroc > row.auroc or (best.is_floor and best.auroc == row.auroc) else None


def _tally(rows: list[MetricsRow]) -> str:
    counts = {level: 0 for level in ORDER}
    for row in rows:
        counts[row.verdict.level if row.verdict else UNKNOWN] += 1
    words = {
        COLLAPSED: "collapsed",
        STALLED: "stalled",
        BELOW_FLOOR: "below the k-mer floor",
        OK: "learned",
        UNKNOWN: "not judged",
    }
    chips = [
        f'<span class="chip" style="background:{VERDICT_COLORS[level]}">{counts[level]} {words[level]}</span>'
        for level in ORDER
        if counts[level]
    ]
    return f'<div class="tally">{"".join(chips)}</div>'


def _problems(rows: list[MetricsRow], slugs: dict[str, str]) -> str:
    failed = [r for r in rows if r.verdict and r.verdict.failed]
    weak = [r for r in rows if r.verdict and r.verdict.level == BELOW_FLOOR]
    if not failed and not weak:
        judged = [r for r in rows if r.verdict and r.verdict.level == OK]
        if judged:
            return (
                '<div class="banner good"><div class="title">No model stalled or collapsed, and every model is '
                "above its k-mer floor (where one was given).</div></div>"
            )
        return ""
    parts = [f"<h2>Models not to trust ({len(failed) + len(weak)})</h2>"]
    parts += [_banner(r, slugs[r.rbp], better_model(r, rows)) for r in failed]
    if len(weak) <= MAX_WEAK_BANNERS:
        parts += [_banner(r, slugs[r.rbp], better_model(r, rows)) for r in weak]
    else:  # many models under their floor: one amber banner, one line each, so the table stays near the top
        items = "".join(
            f'<li><a href="#{slugs[r.rbp]}">{_e(r.rbp)}</a> &mdash; {_e(r.model)}: test AUROC '
            f"{_num(r.auroc)} vs k-mer floor {_num(r.floor_auroc)} ({r.margin:+.3f}){_instead_note(r, rows)}</li>"
            for r in weak
        )
        parts.append(
            f'<div class="banner warn"><div class="title">{len(weak)} models are {HEADLINES[BELOW_FLOOR]}'
            f'</div><ul>{items}</ul><div class="advice">{_e(ADVICE[BELOW_FLOOR])}</div></div>'
        )
    return "\n".join(parts)


def _overview_charts(rows: list[MetricsRow], colors: dict[str, str]) -> str:
    scored = [r for r in rows if r.auroc is not None]
    if not scored:
        return ""
    low = min(0.4, min(r.auroc for r in scored) - 0.02)
    legend = [
        (HEADLINES[level].lower(), VERDICT_COLORS[level])
        for level in ORDER
        if any(r.verdict and r.verdict.level == level for r in scored)
    ]
    groups = []
    for model in dict.fromkeys(r.model for r in scored):
        dots = [
            svg.Dot(
                r.auroc,
                0,
                VERDICT_COLORS[r.verdict.level],
                f"{r.rbp} ({r.model}): AUROC {r.auroc:.3f}, {r.verdict.headline}",
            )
            for r in scored
            if r.model == model
        ]
        groups.append((model, dots))
    charts = [
        svg.strip_chart(
            "Test AUROC per model (one dot per RBP)",
            groups,
            "test AUROC",
            (low, 1.0),
            guides=[svg.Guide(0.5, "chance")],
            legend=legend,
        )
    ]
    against = [r for r in scored if r.margin is not None]
    if against:
        lo = min(low, min(r.floor_auroc for r in against) - 0.02)
        dots = [
            svg.Dot(
                r.floor_auroc,
                r.auroc,
                VERDICT_COLORS[r.verdict.level],
                f"{r.rbp} ({r.model}): {r.auroc:.3f} vs k-mer floor {r.floor_auroc:.3f} ({r.margin:+.3f})",
            )
            for r in against
        ]
        charts.append(
            svg.scatter_chart(
                "Each model vs its RBP's k-mer floor",
                dots,
                "k-mer floor test AUROC",
                "model test AUROC",
                (lo, 1.0),
                (lo, 1.0),
                legend=legend,
            )
        )
    return f'<div class="charts">{"".join(charts)}</div>'


def _rbp_charts(group: list[MetricsRow], colors: dict[str, str]) -> str:
    charts = []
    scored = [r for r in group if r.scores is not None]
    if scored:
        roc = [
            svg.Series(
                f"{r.model} (AUROC {_plain(r.values.get('auroc'))})", *r.scores.roc, colors[r.model], dashed=r.is_floor
            )
            for r in scored
        ]
        charts.append(
            svg.line_chart(
                "ROC (test set)",
                roc,
                "false positive rate",
                "true positive rate",
                (0.0, 1.0),
                (0.0, 1.0),
                diagonal=True,
            )
        )
        pr = [
            svg.Series(
                f"{r.model} (AUPRC {_plain(r.values.get('auprc'))})", *r.scores.pr, colors[r.model], dashed=r.is_floor
            )
            for r in scored
        ]
        share = scored[0].scores.positive_fraction
        charts.append(
            svg.line_chart(
                "Precision-recall (test set)",
                pr,
                "recall",
                "precision",
                (0.0, 1.0),
                (0.0, 1.02),
                guides=[svg.Guide(share, f"chance (bound share {share:.2f})")],
            )
        )
    # the k-mer floor is one fit, not epochs: its training loss is not comparable, so it shows as a guide line
    trained = [
        r
        for r in group
        if r.training is not None and r.training.history and not (r.is_floor and len(r.training.history) == 1)
    ]
    floor = next((r for r in group if r.is_floor and r.training is not None), None)
    if trained:
        loss_series = []
        for r in trained:
            epochs = r.training.epoch_numbers
            loss_series.append(
                svg.Series(
                    f"{r.model} train loss",
                    epochs,
                    [finite_number(h.get("train_loss")) for h in r.training.history],
                    colors[r.model],
                    points=True,
                )
            )
            loss_series.append(
                svg.Series(
                    f"{r.model} validation loss",
                    epochs,
                    [finite_number(h.get("val_loss")) for h in r.training.history],
                    colors[r.model],
                    dashed=True,
                    points=True,
                    mark=_index_of(epochs, r.training.kept_epoch),
                )
            )
        prior = next(
            (
                finite_number(r.training.diagnosis.get("class_prior_entropy"))
                for r in trained
                if finite_number(r.training.diagnosis.get("class_prior_entropy")) is not None
            ),
            None,
        )
        guides = [svg.Guide(prior, "class prior (constant predictor)", "#c62828")] if prior is not None else []
        charts.append(
            svg.line_chart(
                "Loss per epoch", loss_series, "epoch", "cross-entropy (nats)", guides=guides, integer_x=True
            )
        )
        auc_series = []
        for r in trained:
            epochs = r.training.epoch_numbers
            auc_series.append(
                svg.Series(
                    f"{r.model} validation AUROC",
                    epochs,
                    [finite_number(h.get("val_auroc")) for h in r.training.history],
                    colors[r.model],
                    dashed=r.is_floor,
                    points=True,
                    mark=_index_of(epochs, r.training.kept_epoch),
                )
            )
        guides = [svg.Guide(0.5, "chance")]
        floor_val = floor.training.value("val_auroc") if floor is not None and floor not in trained else None
        if floor_val is not None:
            guides.append(svg.Guide(floor_val, f"k-mer floor, validation ({floor_val:.3f})", colors[floor.model]))
        values = [y for s in auc_series for y in s.ys if y is not None] + [g.y for g in guides]
        low = min([0.45] + [v - 0.03 for v in values])
        charts.append(
            svg.line_chart(
                "Validation AUROC per epoch",
                auc_series,
                "epoch",
                "AUROC",
                y_range=(low, 1.0),
                guides=guides,
                integer_x=True,
            )
        )
    if not charts:
        return (
            '<p class="muted small">No curves: give this RBP\'s predictions (--predictions) for ROC/PR and its '
            "finetune run (--training) for per-epoch curves.</p>"
        )
    return f'<div class="charts">{"".join(charts)}</div>'


def _index_of(epochs: list, kept: int | None) -> int | None:
    return epochs.index(kept) if kept in epochs else None


def _show(value: object) -> str:
    """A card value as escaped text; missing or null as a dash (the k-mer model has no learning rate or batch)."""
    if value is None or value == "":
        return "&ndash;"
    if isinstance(value, float):
        return _e(f"{value:g}")
    return _e(value)


def _early_stopping(run) -> str:
    stopping = run.early_stopping
    if not stopping:
        return "&ndash;"
    patience = stopping.get("patience")
    if not patience:
        return "off"
    stopped = f", stopped early after epoch {len(run.history)}" if stopping.get("stopped_early") else ", ran to the end"
    floor = f", not before step {stopping['min_steps']}" if stopping.get("min_steps") else ""
    return _e(f"patience {patience} on {stopping.get('metric') or 'validation loss'}{floor}{stopped}")


def _planned_epochs(run, hp: dict) -> str:
    """The epochs the run was set to: --epochs, or more where the step floor (--min-steps) asked for more."""
    planned = (run.early_stopping or {}).get("planned_epochs")
    if planned is None or planned == hp.get("epochs"):
        return _show(hp.get("epochs"))
    return _e(f"{planned} ({hp.get('epochs')} asked, more for at least {hp.get('min_steps')} steps)")


def _param_rows(card: dict, run) -> dict[str, str]:
    """The run parameters a reader needs to reproduce or judge a model, from its model card."""
    hp = card.get("hyperparameters") or {}
    data = card.get("data") or {}
    counts = data.get("counts") or {}

    def pair(c: dict) -> str:
        return _e(f"{c.get('label_1', '?')} bound / {c.get('label_0', '?')} unbound") if c else "&ndash;"

    files = data.get("train_files") or []
    file_text = "<br>".join(
        f"{_e(str(f.get('path', '')).rsplit('/', 1)[-1])} <span class='muted'>sha256 "
        f"{_e(str(f.get('sha256', ''))[:12])}</span>"
        for f in files
        if isinstance(f, dict)
    )
    batch, accum = hp.get("batch_size"), hp.get("grad_accum")
    wall = card.get("wall_seconds")
    kept = (card.get("metrics") or {}).get("kept", hp.get("keep"))
    rows = {
        "start": _show((card.get("load_report") or {}).get("summary") or card.get("model_source")),
        "model source / kind": f"{_show(card.get('model_source'))} / {_show(run.model_kind or card.get('model_kind'))}",
        "k-mer size k": _show(card.get("k")),
        "optimizer": _show(hp.get("optimizer")),
        "learning rate": _show(hp.get("lr"))
        + (
            f" <span class='muted'>({_show(hp['lr_policy'])} policy)</span>"
            if hp.get("lr_policy") and hp.get("lr") is not None
            else ""
        ),
        "epochs (run / planned)": f"{len(run.history)} / {_planned_epochs(run, hp)}",
        "early stopping": _early_stopping(run),
        "kept": f"{_show(kept)}, epoch {_show(run.kept_epoch)}",
        "batch &times; accumulation": _e(f"{batch} × {accum or 1}") if batch is not None else "&ndash;",
        "warmup / weight decay": f"{_show(hp.get('warmup_ratio'))} / {_show(hp.get('weight_decay'))}",
        "dropout": _show(hp.get("dropout")),
        "seed": _show(card.get("seed", hp.get("seed"))),
        "training data": pair(counts.get("train") or {}),
        "validation data": pair(counts.get("validation") or {})
        + (f"<br><span class='muted'>{_e(data.get('validation_source') or '')}</span>" if data else ""),
        "training files": file_text or "&ndash;",
        "device / bf16 / threads": f"{_show(card.get('device'))} / {_show(card.get('bf16'))} / "
        f"{_show(card.get('threads'))}",
        "wall time": _e(f"{wall:.0f} s") if isinstance(wall, (int, float)) else "&ndash;",
    }
    for name, version in (card.get("software") or {}).items():
        rows[_e(name)] = _show(version)
    return rows


def _params(group: list[MetricsRow]) -> str:
    runs = [r for r in group if r.training is not None]
    if not runs:
        return (
            '<p class="muted small">Run parameters and software versions come from the finetune run: give '
            "--training RBP[.tag]=FINETUNE_DIR.</p>"
        )
    tables = {r.model: _param_rows(r.training.card or {}, r.training) for r in runs}
    keys = list(dict.fromkeys(k for t in tables.values() for k in t))
    header = "<th>parameter</th>" + "".join(f"<th class='text'>{_e(m)}</th>" for m in tables)
    body = "".join(
        f"<tr><td>{k}</td>" + "".join(f"<td>{t.get(k, '&ndash;')}</td>" for t in tables.values()) + "</tr>"
        for k in keys
    )
    sources = "; ".join(f"{_e(r.model)}: {_e(r.training.source)}" for r in runs)
    missing = [r.model for r in runs if r.training.card is None]
    note = (
        (
            f"<p class='muted small'>No model card for {_e(', '.join(missing))}: give the finetune folder or its "
            "model_card.json.</p>"
        )
        if missing
        else ""
    )
    return (
        f"<h3>Run parameters and software versions</h3><div class='table-wrap params'><table class='params'>"
        f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>{note}"
        f"<p class='muted small'>From {sources}</p>"
    )


def _rbp_section(rbp: str, group: list[MetricsRow], slug: str, colors: dict[str, str], slugs: dict[str, str]) -> str:
    levels = [r.verdict.level for r in group if r.verdict]
    css = (
        "fail" if any(level in (COLLAPSED, STALLED) for level in levels) else ("warn" if BELOW_FLOOR in levels else "")
    )
    badges = "".join(_badge(r.verdict.level, f"{r.model}: {r.verdict.headline}") for r in group if r.verdict)
    main = next(
        (r for r in group if r.model == MAIN_MODEL and r.auroc is not None),
        next((r for r in group if r.auroc is not None), None),
    )
    floor = next((r for r in group if r.is_floor and r.auroc is not None), None)
    auc = ""
    if main is not None:
        auc = f"{_e(main.model)} AUROC {main.auroc:.3f}"
        if floor is not None and floor is not main:
            auc += f", k-mer floor {floor.auroc:.3f}"
    banners = "".join(_banner(r, None, better_model(r, group)) for r in group if r.verdict and r.verdict.failed)
    return (
        f'<details class="rbp {css}" id="{slug}"><summary>{_e(rbp)}{badges}<span class="auc">{auc}</span>'
        f'</summary><div class="body">{banners}{_table(group, slugs, with_rbp=False)}'
        f"{_rbp_charts(group, colors)}{_params(group)}</div></details>"
    )


def render(rows: list[MetricsRow], title: str) -> str:
    """The whole report as one HTML string."""
    colors = model_colors(rows)
    used: set[str] = set()
    rbps = list(dict.fromkeys(r.rbp for r in rows))
    slugs = {rbp: _slug(rbp, used) for rbp in rbps}
    groups = {rbp: [r for r in rows if r.rbp == rbp] for rbp in rbps}
    sections = "\n".join(_rbp_section(rbp, groups[rbp], slugs[rbp], colors, slugs) for rbp in rbps)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    thresholds = {r.values.get("threshold") for r in rows if r.values.get("threshold") is not None}
    at = f" at threshold {thresholds.pop():g}" if len(thresholds) == 1 else ""
    floors = sum(1 for rbp in rbps if any(r.is_floor for r in groups[rbp]))
    hint = (
        ""
        if floors
        else " <strong>No k-mer floor given:</strong> train <code>bertrbp-finetune --model kmer</code>"
        " per RBP and name it <code>RBP.kmer</code> to see what each model adds over 1-5-mer counts."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{STYLE}{svg.STYLE}</style></head>
<body>
<header><h1>{_e(title)}</h1>
<p class="lede">{len(rbps)} RBP dataset(s), {len(rows)} model(s), {floors} with a k-mer floor. Test-split metrics
(AUROC, AUPRC; accuracy, F1 and MCC{at}); verdicts from finetune's collapse/stall checks, the same checks on the
test predictions, and the k-mer floor. <a href="#guide">How to read this report</a>.{hint}</p>
{_tally(rows)}</header>
{_problems(rows, slugs)}
<h2>Overview</h2>
{_table(rows, slugs, with_rbp=True)}
{_overview_charts(rows, colors)}
<h2>Per RBP</h2>
<div class="toolbar"><button type="button" onclick="setAll(true)">expand all</button>
<button type="button" onclick="setAll(false)">collapse all</button></div>
{sections}
<h2 id="guide">How to read this report</h2>
{GUIDE}
<footer>bert-rbp {_e(__version__)} (bertrbp-summary), generated {stamp}. BERT-RBP: Yamada &amp; Hamada,
Bioinformatics Advances 2022, doi:10.1093/bioadv/vbac023.</footer>
<script>{SCRIPT}</script>
</body></html>
"""
