"""The simulation timeline: drift and accuracy per day, retrains and champion changes, as a PNG and a report."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Union

from materializers.report_base import Report, html_page


@dataclass
class DayResult:
    """One simulated day. `accuracy` is None until that day's labels are known. `champion_version` scored the day's
    batch; `deployed` is the version that became champion at the end of the day (after a retrain), if any."""

    day: int
    drift_share: float
    max_hellinger: float
    accuracy: Optional[float]
    action: str
    champion_version: Optional[str]
    deployed: Optional[str] = None


def _draw(days: List[DayResult], drift_from: Optional[int] = None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(days, key=lambda d: d.day)
    x = [d.day for d in ordered]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(x, [d.drift_share for d in ordered], "o-", label="drift share", color="#dd8452")
    top.plot(x, [d.max_hellinger for d in ordered], "s--", label="max Hellinger", color="#c44e52")
    top.set_ylabel("drift")
    top.set_ylim(0, 1.05)
    labelled = [d for d in ordered if d.accuracy is not None]
    bottom.plot([d.day for d in labelled], [d.accuracy for d in labelled], "o-", color="#4c72b0",
                label="batch accuracy")
    bottom.set_ylabel("accuracy")
    bottom.set_xlabel("day")
    for ax in (top, bottom):
        if drift_from is not None:
            ax.axvline(drift_from - 0.5, color="grey", linestyle=":", label="drift injected" if ax is top else None)
        for d in ordered:
            if d.action == "retrain":
                ax.axvline(d.day, color="#c44e52", alpha=0.25, linewidth=6)
            elif d.action == "alert":
                ax.axvline(d.day, color="#ccb974", alpha=0.25, linewidth=6)
            elif d.action == "rejected":
                ax.axvline(d.day, color="grey", alpha=0.25, linewidth=6)
        ax.grid(alpha=0.3)
    deployed = [d for d in ordered if d.deployed]
    for i, d in enumerate(deployed):  # a new champion serves from the next day on
        for ax in (top, bottom):
            ax.axvline(d.day + 0.5, color="#1b7f3b", linestyle="--", linewidth=1.2,
                       label="new champion" if ax is bottom and i == 0 else None)
        bottom.annotate(f"v{d.deployed}", (d.day + 0.5, 1.0), xycoords=("data", "axes fraction"),
                        textcoords="offset points", xytext=(3, -12), fontsize=8, color="#1b7f3b")
    bottom.set_xticks(x)  # whole days only
    bottom.set_xlim(min(x) - 0.6, max(x) + (0.9 if deployed and deployed[-1].day == max(x) else 0.6))
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="lower left", fontsize=8)
    top.set_title("Monitoring timeline (shaded: red = retrain, yellow = alert, grey = batch rejected; green = new champion)",
                  fontsize=10)
    fig.tight_layout()
    return fig


def plot_timeline(days: List[DayResult], path: Union[str, Path], drift_from: Optional[int] = None) -> Path:
    """Writes the timeline (drift scores and accuracy per day) as a PNG at `path`."""
    import matplotlib.pyplot as plt

    if not days:
        raise ValueError("no days to plot")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _draw(days, drift_from)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


@dataclass
class SimulationTimeline(Report):
    """The days of a simulation, shown in the dashboard as the timeline plot and a table."""

    title: ClassVar[str] = "Simulation timeline"

    days: List[DayResult]
    drift_from: Optional[int] = None
    notes: List[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "SimulationTimeline":
        data = dict(data)
        data["days"] = [d if isinstance(d, DayResult) else DayResult(**d) for d in data["days"]]
        return cls(**data)

    def png_base64(self) -> str:
        import matplotlib.pyplot as plt

        fig = _draw(self.days, self.drift_from)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def to_html(self) -> str:
        image = f"<img alt='timeline' src='data:image/png;base64,{self.png_base64()}'>" if self.days else ""
        columns = ("day", "drift share", "max Hellinger", "accuracy", "action", "champion", "new champion")
        header = "".join(f"<th>{k}</th>" for k in columns)
        rows = "".join(
            f"<tr{' class=fail' if d.action != 'none' else ''}><td>{d.day}</td><td>{d.drift_share:.2f}</td>"
            f"<td>{d.max_hellinger:.3f}</td><td>{'–' if d.accuracy is None else f'{d.accuracy:.3f}'}</td>"
            f"<td>{html.escape(d.action)}</td><td>{html.escape(str(d.champion_version))}</td>"
            f"<td>{html.escape(d.deployed or '')}</td></tr>"
            for d in sorted(self.days, key=lambda d: d.day)
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return html_page(self.title, f"{image}<table><tr>{header}</tr>{rows}</table><ul>{notes}</ul>")

    def to_dict(self) -> Dict[str, Any]:
        return {"days": [asdict(d) for d in self.days], "drift_from": self.drift_from, "notes": list(self.notes)}
