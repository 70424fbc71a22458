"""Ratios, targets, a markdown table and a plot of one benchmark run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memcatalog.bench.curves import Curve
from memcatalog.bench.workloads import LIMIT, Result

PEER_NAMES = ["sql-tmpfs", "sql-memoryfs"]


@dataclass
class Check:
    workload: str
    against: str
    ratio: float  # memcatalog / other, for times; other / memcatalog for rates
    target: float  # the ratio must be at most this
    note: str = ""

    @property
    def met(self) -> bool:
        return self.ratio <= self.target


# workload -> list of (against, target): against is "best peer", a peer name, or LIMIT
TARGETS: dict[str, list[tuple[str, float]]] = {
    "bulk append": [("best peer", 1.0), (LIMIT, 1.6)],
    "full scan to Arrow": [("best peer", 0.9), (LIMIT, 1.3)],
    "DuckDB iceberg_scan aggregate": [("sql-tmpfs", 1.2)],
    "small append, median (100 rows)": [("best peer", 0.9)],
    "load_table": [("sql-tmpfs", 0.1)],
}


def checks(results: list[Result]) -> list[Check]:
    out: list[Check] = []
    for r in results:
        key = "load_table" if r.workload.startswith("load_table") else r.workload
        if r.workload == "memory":
            out.append(
                Check("memory: RSS growth / bytes stored", "bytes stored", r.values["RSS growth / pool bytes"], 1.15)
            )
            out.append(
                Check(
                    "memory: reading every file back", "RSS after load", r.values["reading every file back adds"], 0.10
                )
            )
            continue
        for against, target in TARGETS.get(key, []):
            mine = r.values["memcatalog"]
            if against == "best peer":
                best_name = min(PEER_NAMES, key=lambda p: r.values[p])
                other, label = r.values[best_name], f"best peer ({best_name})"
            else:
                other, label = r.values[against], against
            out.append(Check(r.workload, label, mine / other, target))
    return out


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "/s":
        return f"{value:.1f}/s"
    return f"{value:.3f}"


def markdown(results: list[Result], command: str, environment: str) -> str:
    columns = ["memcatalog", *PEER_NAMES, LIMIT]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` ({environment}). Every number is the median of several runs, all peers",
        "measured in the same run on the same data. Lower is better for times; ratios are memcatalog / other.",
        "",
        "| workload | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for r in results:
        if r.workload == "memory":
            continue
        cells = [_fmt(r.values[c], r.unit) if c in r.values else "" for c in columns]
        lines.append(f"| {r.workload} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", "", "| workload | against | ratio | target | met |", "|---|---|---|---|---|"]
    for c in checks(results):
        lines.append(f"| {c.workload} | {c.against} | {c.ratio:.2f} | <= {c.target} | {'yes' if c.met else '**no**'} |")
    lines += ["", "## Details", ""]
    for r in results:
        if r.extra:
            lines.append(f"- {r.workload}: " + ", ".join(f"{k} = {v}" for k, v in r.extra.items()))
    lines += [
        "",
        "![ratios](benchmarks.png)",
        "",
        "Why each missed target is missed, with profiles: [performance.md](performance.md).",
        "",
    ]
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> None:
    try:
        import matplotlib
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("the benchmark plot needs matplotlib: pip install 'memcatalog[bench]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = checks(results)
    labels = [f"{c.workload}\nvs {c.against}" for c in found]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(found) + 1.5))
    colors = ["#2f855a" if c.met else "#c53030" for c in found]
    ax.barh(range(len(found)), [c.ratio for c in found], color=colors)
    ax.scatter([c.target for c in found], range(len(found)), marker="|", s=400, color="black", label="target (at most)")
    ax.set_yticks(range(len(found)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ratio (memcatalog / other; lower is better)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("memcatalog against its peers, same run")
    fig.savefig(path, dpi=110, bbox_inches="tight")


# ---- curves (memcatalog bench --curves) ------------------------------------------------------------------------

FLAT_TARGET = 1.5  # the last checkpoint's commit latency over the first, for memcatalog


def growth(curve: Curve, peer: str = "memcatalog") -> float:
    """Value at the largest x over the value at the smallest: how much the cost grew."""
    values = curve.series[peer]
    return values[-1] / values[0]


def curve_findings(curves: list[Curve]) -> list[str]:
    """The sentences docs/benchmarks.md states: growth of memcatalog's commits, and the ratio to the peers."""
    lines = []
    for curve in curves:
        if not curve.title.startswith("commit latency"):
            continue
        first, last = curve.xs[0], curve.xs[-1]
        for peer in curve.series:
            met = ""
            if peer == "memcatalog":
                met = f" (target <= {FLAT_TARGET}: {'met' if growth(curve, peer) <= FLAT_TARGET else '**missed**'})"
            lines.append(
                f"- {curve.title}: {peer} at {last:,} snapshots = {growth(curve, peer):.2f}x its latency "
                f"at {first}{met}"
            )
        if "memcatalog" not in curve.series:
            continue
        mine = curve.at("memcatalog", last)
        for peer in (p for p in PEER_NAMES if p in curve.series):  # a run of some series only has fewer
            lines.append(
                f"- {curve.title}: memcatalog / {peer} at {last:,} snapshots = {mine / curve.at(peer, last):.3f} "
                f"({_fmt(mine, 's')} against {_fmt(curve.at(peer, last), 's')})"
            )
    return lines


def curves_markdown(curves: list[Curve], image: str) -> str:
    lines = ["## Curves", "", *curve_findings(curves), ""]
    for curve in curves:
        names = list(curve.series)
        lines += [f"### {curve.title}", "", f"| {curve.x_label} | " + " | ".join(names) + " |"]
        lines.append("|---" * (len(names) + 1) + "|")
        for i, x in enumerate(curve.xs):
            lines.append(f"| {x:,} | " + " | ".join(_fmt(curve.series[n][i], curve.unit) for n in names) + " |")
        if curve.extra:
            lines += ["", ", ".join(f"{k} = {v}" for k, v in curve.extra.items())]
        lines.append("")
    lines += [f"![curves]({image})", ""]
    return "\n".join(lines)


def plot_curves(curves: list[Curve], path: Path) -> None:
    try:
        import matplotlib
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("the benchmark plot needs matplotlib: pip install 'memcatalog[bench]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 3
    rows = (len(curves) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    for ax, curve in zip(axes.flat, curves, strict=False):
        for name, values in curve.series.items():
            scale = 1000.0 if curve.unit == "s" else 1.0
            ax.plot(curve.xs, [v * scale for v in values], marker="o", markersize=3, label=name)
        ax.set_xscale("log")
        ax.set_xticks(curve.xs, [f"{x:,}" for x in curve.xs], fontsize=7)
        ax.minorticks_off()
        if curve.unit == "s":
            ax.set_yscale("log")
        ax.set_xlabel(curve.x_label)
        ax.set_ylabel("ms" if curve.unit == "s" else "commits per second")
        ax.set_title(curve.title, fontsize=8)
        ax.legend(fontsize=6)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
