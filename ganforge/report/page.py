"""The report's HTML: one self-contained page (charts and grids embedded as data URIs, the style and the slider's
few lines of script inline), so it opens from disk with no network and no external asset."""
from __future__ import annotations

import base64
import json
from html import escape

from .charts import draw, draw_runs
from .contents import Chart, RunContents

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1320px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #ddd; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; } .charts img { width: calc(50% - 4px); min-width: 400px; }
table { border-collapse: collapse; font-size: .9em; } td, th { border: 1px solid #ddd; padding: 3px 8px;
text-align: left; vertical-align: top; } th { background: #f4f4f4; } td.num { text-align: right;
font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: .8em; overflow: auto; max-height: 32em; font-size: .85em; }
#grid { image-rendering: pixelated; max-width: min(100%, 720px); border: 1px solid #ddd; }
.slider { display: flex; align-items: center; gap: 1em; margin: .5em 0; } .slider input { width: 480px; }
.note { color: #666; font-size: .9em; }
"""

# The sample slider: the grids' data URIs sit in a JSON block; moving the slider shows grid i and its step.
SLIDER_SCRIPT = """
(function () {
  var grids = JSON.parse(document.getElementById('grid-data').textContent);
  var slider = document.getElementById('grid-slider'), img = document.getElementById('grid'),
      label = document.getElementById('grid-step');
  function show(i) { img.src = grids[i].src; label.textContent = 'step ' + grids[i].step; }
  slider.addEventListener('input', function () { show(+slider.value); });
  show(+slider.value);
})();
"""


def run_page(run: RunContents) -> str:
    """The report of one run."""
    title = f"ganforge run {run.name}"
    family = run.config.get("family", "?")
    sub = (f"{escape(str(family))} on {escape(str(run.info.get('dataset', '?')))} · step {run.last_step} of "
           f"{escape(str(run.config.get('train', {}).get('steps', '?')))} · {escape(str(run.path))}")
    body = [f"<h1>{escape(title)}</h1>", f'<p class="sub">{sub}</p>',
            _section("Training curves", _charts_html([(c.key, c.title, draw(c)) for c in run.charts()])
                     if run.metrics else '<p class="note">No metrics logged yet (metrics.jsonl is empty).</p>'),
            _section("Samples over training", _slider_html(run)),
            _section("The doctor's diagnoses", _diagnoses_html(run.diagnoses)),
            _section("Evaluation", _evaluation_html(run)),
            _section("Provenance", _table(["", ""], [list(kv) for kv in run.provenance().items()],
                                          show_header=False, table_id="provenance")),
            _section("Checkpoints", f"<p>{escape(', '.join(run.checkpoints)) or 'none'}</p>"),
            _section("Resolved config (config.yaml)", f"<pre id=\"config\">{escape(run.config_text)}</pre>")]
    script = SLIDER_SCRIPT if run.grids else ""
    return _document(title, "\n".join(body), script)


def comparison_page(runs: list[RunContents]) -> str:
    """Several runs on the same axes (a colour per run) and their final numbers in one table."""
    names = _unique_names(runs)
    by_key: dict[str, dict[str, Chart]] = {}
    for name, run in zip(names, runs):
        for chart in run.charts():
            by_key.setdefault(chart.key, {})[name] = chart
    charts = []
    for key, per_run in by_key.items():
        first = next(iter(per_run.values()))
        charts.append((key, first.title, draw_runs(first.title, first.ylabel, per_run)))
    finals = [run.final_numbers() for run in runs]
    keys = list(dict.fromkeys(k for f in finals for k in f))
    rows = [[k] + [_number(f.get(k)) for f in finals] for k in keys]
    lasts = "".join(
        f'<figure><img alt="last grid of {escape(n)}" src="{_png_uri(r.grids[-1].path)}">'
        f"<figcaption>{escape(n)}, step {r.grids[-1].step}</figcaption></figure>" for n, r in zip(names, runs)
        if r.grids)
    about = _table(["run", "folder", "family", "dataset", "step reached"],
                   [[n, str(r.path), str(r.config.get("family")), str(r.info.get("dataset", "?")), str(r.last_step)]
                    for n, r in zip(names, runs)])
    body = [f"<h1>ganforge: {len(runs)} runs compared</h1>", _section("Runs", about),
            _section("Training curves", _charts_html(charts)),
            _section("Final numbers", _table(["metric"] + names, rows, numeric_from=1)),
            _section("Last samples", f'<div class="charts">{lasts}</div>' if lasts else "<p>none</p>")]
    return _document(f"ganforge: {', '.join(names)}", "\n".join(body), "")


# ---- pieces -----------------------------------------------------------------------------------------------------
def _document(title: str, body: str, script: str) -> str:
    tail = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body>\n{body}\n{tail}</body></html>\n")


def _section(title: str, inner: str) -> str:
    return f"<h2>{escape(title)}</h2>\n{inner}"


def _charts_html(charts: list[tuple[str, str, str]]) -> str:
    if not charts:
        return '<p class="note">Nothing to draw yet.</p>'
    return '<div class="charts">' + "".join(
        f'<img class="chart" id="chart-{escape(key)}" alt="{escape(title)}" src="{uri}">'
        for key, title, uri in charts) + "</div>"


def _png_uri(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _slider_html(run: RunContents) -> str:
    if not run.grids:
        return '<p class="note">No sample grids written yet.</p>'
    data = [{"step": g.step, "src": _png_uri(g.path)} for g in run.grids]
    shown = (f"the slider holds {len(run.grids)} of the {run.grids_total} grids the run wrote, picked evenly "
             "through training" if run.grids_total > len(run.grids) else
             f"the slider holds all {run.grids_total} grids the run wrote")
    last = len(run.grids) - 1
    # JSON inside <script>: "</" would end the block early, so it is written as "<\\/"
    payload = json.dumps(data).replace("</", "<\\/")
    return (f'<p class="note">Each grid: {escape(run.grid_caption)}; {shown}.</p>'
            f'<div class="slider"><input type="range" id="grid-slider" min="0" max="{last}" value="{last}" '
            f'step="1" aria-label="training step"><span id="grid-step">step {run.grids[last].step}</span></div>'
            f'<img id="grid" alt="sample grid" src="{data[last]["src"]}">'
            f'<script type="application/json" id="grid-data">{payload}</script>')


def _diagnoses_html(diagnoses: list[dict]) -> str:
    if not diagnoses:
        return "<p>The doctor found nothing to report.</p>"
    rows = []
    for d in diagnoses:
        finding, _, remedies = str(d.get("message", "")).partition(" Remedies: ")
        rows.append([str(d.get("step", "?")), str(d.get("code", "?")), finding, remedies.rstrip(".") or "—"])
    return _table(["step", "diagnosis", "finding", "remedies"], rows, table_id="diagnoses")


def _evaluation_html(run: RunContents) -> str:
    parts = []
    if run.evaluator:
        parts.append(f'<p id="evaluator">Scored by the {escape(run.evaluator_line())}.</p>')
    if run.evaluation:
        rows = [[k, _number(v)] for k, v in run.evaluation.items()
                if k != "provenance" and isinstance(v, (int, float)) and not isinstance(v, bool)]
        prov = run.evaluation.get("provenance", {})
        if prov.get("not_evaluated"):
            parts.append(f"<p>Not evaluated: {escape(str(prov['not_evaluated']))}.</p>")
        if rows:
            parts.append("<p>The final evaluation (eval.json):</p>" + _table(["metric", "value"], rows, numeric_from=1))
    if not parts:
        return '<p class="note">No evaluation in this run (eval.every and eval.final are off).</p>'
    return "\n".join(parts)


def _number(v) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _table(columns: list[str], rows: list[list[str]], numeric_from: int | None = None, show_header: bool = True,
           table_id: str | None = None) -> str:
    """An HTML table of text cells (escaped); cells from column `numeric_from` on are right-aligned numbers."""
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in columns) + "</tr>" if show_header else ""
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if numeric_from is not None and i >= numeric_from else ""}>'
                         f"{escape(str(c))}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}>{head}{body}</table>"


def _unique_names(runs: list[RunContents]) -> list[str]:
    """Each run's folder name, or its path where two runs share a name."""
    names = [r.name for r in runs]
    return [str(r.path) if names.count(r.name) > 1 else r.name for r in runs]
