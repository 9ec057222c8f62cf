"""Per-variant requests, errors and latency of a deployment under an A/B test, from the ingress access log.

The local nginx writes one JSON line per request of a deployment under test (local_ingress.LOG_FORMAT):
`{"t": epoch s, "d": deployment, "v": champion|challenger|shadow, "s": HTTP status, "rt": upstream seconds,
"u": path}`. Only prediction requests count; an error is a 5xx (the model failed or was down), a 4xx is the
client's. Latency is nginx's upstream response time, the daemon's answer time as a client sees it minus the network.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List

PREDICT_SUFFIX = "/predictions"


def p99(values: List[float]) -> float:
    """Nearest-rank 99th percentile (no interpolation: a figure that was really measured)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def variant_traffic(log: Path, deployment: str, since: float) -> Dict[str, Dict[str, Any]]:
    """{variant: {'requests', 'errors', 'p99_ms'}} of `deployment`'s prediction requests logged at or after
    `since`."""
    counts: Dict[str, Dict[str, Any]] = {}
    latencies: Dict[str, List[float]] = {}
    if not Path(log).is_file():
        return counts
    with open(log, errors="replace") as lines:
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:  # a line being written
                continue
            if rec.get("d") != deployment or rec.get("t", 0) < since or not str(rec.get("u", "")).endswith(
                    PREDICT_SUFFIX):
                continue
            variant = rec.get("v") or "unknown"
            entry = counts.setdefault(variant, {"requests": 0, "errors": 0, "p99_ms": None})
            entry["requests"] += 1
            entry["errors"] += int(rec.get("s", 0)) >= 500
            try:  # "0.004" or "0.001, 0.003" (nginx retried) or "" (no upstream): the last attempt counts
                latencies.setdefault(variant, []).append(float(str(rec.get("rt", "")).split(",")[-1]) * 1000)
            except ValueError:
                pass
    for variant, values in latencies.items():
        counts[variant]["p99_ms"] = round(p99(values), 3) if values else None
    return counts
