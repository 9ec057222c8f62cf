"""HTML view of a drift report: score table (drifted rows in red) and reference-vs-current histograms.

Self-contained: the histograms are PNGs drawn with matplotlib's Agg backend and inlined as base64.
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, List, Optional

from materializers.report_base import html_page

if TYPE_CHECKING:
    from steps.monitoring.drift import ColumnDrift, DriftReport

MAX_PLOTS = 24  # drawing is the slow part of a 100-feature report; show the most drifted columns


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def figure_png(fig) -> str:
    """A matplotlib figure as a base64 PNG string (and closes it)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)  # no bbox_inches="tight": it draws the figure twice
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw_histogram(ax, entry: "ColumnDrift") -> None:
    if entry.kind == "numeric":
        # Variable-width quantile bins: draw densities so wide tail bins do not look tall.
        lefts = [b[0] for b in entry.bins]
        widths = [max(b[1] - b[0], 1e-12) for b in entry.bins]
        for masses, label, color in ((entry.reference, "reference", "#4c72b0"), (entry.current, "current", "#dd8452")):
            ax.bar(lefts, [m / w for m, w in zip(masses, widths)], width=widths, align="edge", alpha=0.5,
                   label=label, color=color, edgecolor=color)
        ax.set_ylabel("density", fontsize=8)
    else:
        x = range(len(entry.bins))
        ax.bar([i - 0.2 for i in x], entry.reference, width=0.4, label="reference", color="#4c72b0")
        ax.bar([i + 0.2 for i in x], entry.current, width=0.4, label="current", color="#dd8452")
        ax.set_xticks(list(x))
        ax.set_xticklabels([str(b)[:14] for b in entry.bins], rotation=35, ha="right", fontsize=7)
        ax.set_ylabel("share", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(f"{entry.column}  (H={entry.hellinger:.3f})", fontsize=9, color="#b00020" if entry.drifted else "#222")
    ax.legend(fontsize=7)


def histograms_png(entries: List["ColumnDrift"], per_row: int = 3) -> str:
    """All histograms in one figure (one render instead of one per column: the slow part of a big report)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows = -(-len(entries) // per_row)
    fig, axes = plt.subplots(n_rows, per_row, figsize=(4.2 * per_row, 2.9 * n_rows), squeeze=False)
    for ax in axes.flat[len(entries):]:
        ax.set_visible(False)
    for ax, entry in zip(axes.flat, entries):
        _draw_histogram(ax, entry)
    # Fixed spacing instead of tight_layout, which measures every tick label and dominates a 24-panel render.
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.35 / (2.9 * n_rows), bottom=0.7 / (2.9 * n_rows),
                        hspace=0.75, wspace=0.3)
    return figure_png(fig)


def drift_report_html(report: "DriftReport") -> str:
    """The full page for a drift report."""
    verdict = "fail'>drift detected" if report.detected else "pass'>no drift"
    summary = (
        f"<p class='{verdict}</p><p>drift share {report.drift_share:.1%} "
        f"({len(report.drifted_columns)} of {len(report.columns)} columns), max Hellinger {report.max_hellinger:.3f}, "
        f"default threshold {report.default_threshold}</p>"
    )
    rows: List[str] = []
    for c in report.columns:
        cls = " class='fail'" if c.drifted else ""
        evidence = f"{c.evidence_algorithm or '–'} p={_fmt(c.evidence_pvalue)}"
        rows.append(
            f"<tr{cls}><td>{html.escape(c.column)}</td><td>{c.kind}</td><td>{c.hellinger:.4f}</td>"
            f"<td>{c.threshold:g}</td><td>{'yes' if c.drifted else 'no'}</td>"
            f"<td>{html.escape(', '.join(c.unseen_categories))}</td><td>{html.escape(evidence)}</td>"
            f"<td>{c.reference_count}</td><td>{c.current_count}</td><td>{html.escape(c.note)}</td></tr>"
        )
    table = (
        "<table><tr><th>column</th><th>kind</th><th>Hellinger</th><th>threshold</th><th>drifted</th>"
        "<th>unseen categories</th><th>whylogs test (evidence)</th><th>reference n</th><th>current n</th>"
        f"<th>note</th></tr>{''.join(rows)}</table>"
    )
    plotted = sorted((c for c in report.columns if c.bins), key=lambda c: (-c.hellinger, c.column))[:MAX_PLOTS]
    images = ""
    if plotted:
        images = f"<img alt='reference vs current histograms' src='data:image/png;base64,{histograms_png(plotted)}'>"
    more = len([c for c in report.columns if c.bins]) - len(plotted)
    tail = f"<p>{more} more columns not drawn (lowest scores).</p>" if more > 0 else ""
    return html_page(report.title, summary + table + "<h3>Reference vs current</h3>" + images + tail)
