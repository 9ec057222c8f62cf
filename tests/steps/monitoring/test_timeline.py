"""The simulation timeline renders as a PNG file and as a self-contained report."""

import pytest

from steps.monitoring.timeline import DayResult, SimulationTimeline, plot_timeline

DAYS = [
    DayResult(day, 0.0 if day < 3 else 0.6, 0.05 if day < 3 else 0.3, None if day == 0 else (0.8 if day < 4 else 0.7),
              "retrain" if day == 4 else ("alert" if day == 3 else "none"), "1" if day < 5 else "2",
              deployed="2" if day == 4 else None)
    for day in range(7)
]


def test_plot_is_a_png(tmp_path):
    path = plot_timeline(DAYS, tmp_path / "out" / "timeline.png", drift_from=3)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_report_round_trip_and_html():
    report = SimulationTimeline(DAYS, drift_from=3, notes=["retrain on day 4 promoted version 2"])
    assert SimulationTimeline.from_json(report.to_json()) == report
    page = report.to_html()
    assert "data:image/png;base64," in page and page.count("<tr") == len(DAYS) + 1
    assert "retrain on day 4 promoted version 2" in page
    assert "<th>new champion</th>" in page and "<td>retrain</td><td>1</td><td>2</td>" in page


def test_axis_shows_whole_days_and_the_new_champion():
    from steps.monitoring.timeline import _draw

    fig = _draw(DAYS, drift_from=3)
    top, bottom = fig.axes
    assert list(bottom.get_xticks()) == list(range(7))
    assert any(t.get_text() == "v2" for t in bottom.texts)
    assert any(line.get_xdata()[0] == 4.5 for line in bottom.get_lines())


def test_empty_timeline_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no days to plot"):
        plot_timeline([], tmp_path / "x.png")
