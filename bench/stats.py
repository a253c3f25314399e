"""Pure helpers of the benchmark runner: figures over several runs, ratios, target verdicts
and the printed table. No I/O here (the smoke test runs these)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured quantity over ``runs`` runs: median, min and max, in ``unit``."""

    median: float
    min: float
    max: float
    runs: int
    unit: str = "msg/s"

    def as_dict(self) -> dict[str, Any]:
        return {
            "median": round(self.median, 3),
            "min": round(self.min, 3),
            "max": round(self.max, 3),
            "runs": self.runs,
            "unit": self.unit,
        }


def summarise(samples: Iterable[float], unit: str = "msg/s") -> Figure:
    """The median, min and max of ``samples`` (at least one)."""
    values = [float(v) for v in samples]
    if not values:
        raise ValueError("no samples to summarise")
    return Figure(statistics.median(values), min(values), max(values), len(values), unit)


def ratio(value: Figure | float | None, ceiling: Figure | float | None) -> float | None:
    """``value / ceiling`` on medians; ``None`` when either is missing or the ceiling is 0."""
    v = value.median if isinstance(value, Figure) else value
    c = ceiling.median if isinstance(ceiling, Figure) else ceiling
    if v is None or c is None or c == 0:
        return None
    return v / c


@dataclass(frozen=True)
class Target:
    """A goal the runner reports as met or not (never enforced): ``value >= threshold`` (or
    ``<=`` when ``at_most``)."""

    name: str
    threshold: float
    value: float | None
    at_most: bool = False
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        ok = self.value <= self.threshold if self.at_most else self.value >= self.threshold
        return "met" if ok else "NOT met"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "value": None if self.value is None else round(self.value, 4),
            "comparison": "<=" if self.at_most else ">=",
            "verdict": self.verdict,
            "note": self.note,
        }


#: What a row's reference is, and so how its ratio reads.
#: ``ceiling``: an upper bound of the same work (the ratio is a share of it, at most 100 %);
#: ``baseline``: a naive way of doing the same work (the ratio is a speed-up over it);
#: ``peer``: another product doing the same work (the ratio is how many times its rate).
COMPARISONS = ("ceiling", "baseline", "peer")


@dataclass
class Row:
    """One line of the results table: a benchmark's figure, what it is compared with (a
    ceiling, a naive baseline or a peer, see :data:`COMPARISONS`) and their ratio; or a
    reason it was not measured."""

    bench: str
    name: str
    figure: Figure | None = None
    ceiling: Figure | float | None = None
    ceiling_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | not available yet: … | skipped: … | error: …
    comparison: str = "ceiling"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}: {self.comparison!r}")

    @property
    def ratio(self) -> float | None:
        return ratio(self.figure, self.ceiling)

    @property
    def over_ceiling(self) -> bool:
        """A ceiling row whose figure is above its ceiling: that "ceiling" is no upper bound
        of the same work (a mistake in the benchmark, flagged in the table)."""
        r = self.ratio
        return self.comparison == "ceiling" and r is not None and r > 1.0

    def as_dict(self) -> dict[str, Any]:
        ceiling = self.ceiling
        return {
            "bench": self.bench,
            "name": self.name,
            "status": self.status,
            "figure": self.figure.as_dict() if self.figure else None,
            "comparison": self.comparison,
            "ceiling": ceiling.as_dict() if isinstance(ceiling, Figure) else ceiling,
            "ceiling_label": self.ceiling_label,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "ratio_text": fmt_comparison(self.comparison, self.ratio),
            "over_ceiling": self.over_ceiling,
            "extra": self.extra,
        }


def fmt_num(value: float | None, digits: int = 0) -> str:
    """``12,345`` / ``1.5`` style; ``-`` for ``None``."""
    if value is None:
        return "-"
    if digits == 0 and abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:,.{max(digits, 1)}f}"


def fmt_figure(fig: Figure | float | None) -> str:
    """``1,234 (1,200-1,300)`` for a figure over several runs, the number alone for one run."""
    if fig is None:
        return "-"
    if not isinstance(fig, Figure):
        return fmt_num(fig)
    if fig.runs == 1 or fig.min == fig.max:
        return fmt_num(fig.median)
    return f"{fmt_num(fig.median)} ({fmt_num(fig.min)}-{fmt_num(fig.max)})"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def fmt_times(value: float | None) -> str:
    """``2.35×`` (a speed-up or a ratio to a peer); ``-`` for ``None``."""
    return "-" if value is None else f"{value:.2f}×"


def fmt_comparison(comparison: str, value: float | None) -> str:
    """A ratio as its comparison reads: ``48 % of ceiling`` (``112 % of ceiling: NOT an upper
    bound`` when over it), ``5.26× baseline``, ``2.35× peer``."""
    if value is None:
        return "-"
    if comparison == "ceiling":
        text = f"{fmt_ratio(value)} of ceiling"
        return text + ": NOT an upper bound" if value > 1.0 else text
    return f"{fmt_times(value)} {comparison}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    for row in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


def results_table(rows: Sequence[Row]) -> str:
    """The runner's table: benchmark, figure (median (min-max)), unit, what it is compared
    with (a ceiling, a naive baseline or a peer, measured in the same run), ratio, notes."""
    body = []
    for r in rows:
        if r.status != "ok":
            status = r.status if len(r.status) <= 90 else r.status[:87] + "..."
            body.append([r.bench, r.name, "-", "", "", "", status])
            continue
        unit = r.figure.unit if r.figure else ""
        reference = ""
        if r.ceiling is not None:
            label = f"{r.comparison}: {r.ceiling_label}" if r.ceiling_label else r.comparison
            reference = f"{fmt_figure(r.ceiling)} ({label})"
        body.append(
            [
                r.bench,
                r.name,
                fmt_figure(r.figure),
                unit,
                reference,
                fmt_comparison(r.comparison, r.ratio),
                ", ".join(f"{k}={v}" for k, v in r.extra.items() if k in _SHOWN_EXTRA),
            ]
        )
    return format_table(
        ["bench", "case", "figure", "unit", "compared with (same run)", "ratio", "notes"], body
    )


#: Extra keys short enough for the table (everything is in the JSON).
_SHOWN_EXTRA = ("peak_rss_mb", "ideal", "raw_loop", "sink", "messages", "note")


def targets_table(targets: Sequence[Target]) -> str:
    body = [
        [
            t.name,
            ("<= " if t.at_most else ">= ") + f"{t.threshold:g}",
            "-" if t.value is None else fmt_num(t.value, 0 if abs(t.value) >= 100 else 2),
            t.verdict + (f" ({t.note})" if t.note else ""),
        ]
        for t in targets
    ]
    return format_table(["target", "wanted", "measured", "verdict"], body)
