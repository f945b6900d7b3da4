"""Charts drawn with matplotlib's Agg backend at build time, as PNG data URIs the page embeds: the page needs no
script and no network to show them. A `Figure` is made directly (not through pyplot), so drawing touches no
global backend state and works in any thread or process."""
from __future__ import annotations

import base64
import io

from .contents import Chart

DPI = 100
SIZE = (6.4, 3.2)  # inches: 640 × 320 pixels at DPI, two to a row on a wide screen
# One colour per run in a comparison, the rest (line styles) per curve; tab10 is colour-blind friendlier than
# the default cycle's neighbours and survives greyscale printing reasonably.
RUN_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
               "#7f7f7f", "#bcbd22"]
STYLES = ["-", "--", ":", "-."]


def png_data_uri(fig) -> str:
    """The matplotlib figure as a data:image/png;base64 URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: see draw_runs

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def draw(chart: Chart) -> str:
    """One run's chart: a colour per curve, the doctor's diagnoses as dotted vertical lines."""
    return draw_runs(chart.title, chart.ylabel, {"": chart}, per_run_colour=False)


def draw_runs(title: str, ylabel: str, charts: dict[str, Chart], per_run_colour: bool = True) -> str:
    """The same chart of several runs on the same axes: `charts` maps a run's name to its chart; with
    `per_run_colour` each run has one colour and each curve of it a line style."""
    # lazy: matplotlib takes half a second to import, which every `ganforge` command would pay (training imports
    # this package) while only the end of a run and `ganforge report` draw
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI)
    # fixed margins: a layout engine would take more time than the drawing (about half of it, measured)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.15)
    ax = fig.add_subplot()
    values = [v for c in charts.values() for _, ys in c.series.values() for v in ys]
    # a log axis only where the values span more than two decades: there a linear one would flatten the small
    # ones, elsewhere its tick labels only cost room
    log_y = (bool(values) and all(c.log_y for c in charts.values()) and min(values) > 0
             and max(values) / min(values) > 100)
    for r, (run, chart) in enumerate(charts.items()):
        for i, (name, (steps, values)) in enumerate(chart.series.items()):
            label = f"{run}: {name}" if run else name
            style = {"color": RUN_COLOURS[r % len(RUN_COLOURS)], "linestyle": STYLES[i % len(STYLES)]} \
                if per_run_colour else {"color": RUN_COLOURS[i % len(RUN_COLOURS)]}
            ax.plot(steps, values, label=label, linewidth=1.3, marker="o" if len(steps) < 12 else None,
                    markersize=3, **style)
        for floor_name, value in chart.floors.items():
            ax.axhline(value, color="#555555", linestyle="--", linewidth=1, label=f"{run}: {floor_name}" if run
                       else floor_name)
        for k, step in enumerate(chart.marks):
            ax.axvline(step, color="#e08000", linestyle=":", linewidth=1,
                       label="a diagnosis" if k == 0 and r == 0 else None)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return png_data_uri(fig)
