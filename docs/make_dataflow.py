"""Draws docs/dataflow.png: python docs/make_dataflow.py (needs matplotlib: pip install -e '.[bench]')."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BOXES = {
    "pyiceberg": (0.5, 5.2, "pyiceberg\nload_catalog, append, scan"),
    "clients": (3.7, 5.2, "pandas / pyarrow / fsspec\nmemcat:// URLs"),
    "duckdb": (6.9, 5.2, "DuckDB\niceberg_scan, SQL views"),
    "catalog": (0.5, 3.6, "MemCatalog\n(pyiceberg SqlCatalog)"),
    "registry": (0.5, 2.0, "registry (SQLAlchemy)\nSQLite memory/file, PostgreSQL"),
    "fileio": (3.7, 3.6, "MemFileIO\nmemcat:// -> pool"),
    "fs": (6.9, 3.6, "memcat:// fsspec\nfilesystem"),
    "pool": (3.7, 1.2, "pool: quota-limited,\nimmutable pyarrow.Buffers"),
}
EDGES = [
    ("pyiceberg", "catalog"),
    ("catalog", "registry"),
    ("catalog", "fileio"),
    ("fileio", "pool"),
    ("clients", "fs"),
    ("duckdb", "fs"),
    ("fs", "pool"),
    ("duckdb", "catalog"),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(10, 6.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(0.6, 6.4)
    ax.axis("off")
    w, h = 2.6, 0.9
    for x, y, label in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc="#e8f1fb", ec="#2b6cb0"))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=9)
    for a, b in EDGES:
        xa, ya, _ = BOXES[a]
        xb, yb, _ = BOXES[b]
        start = (xa + w / 2, ya) if ya > yb else (xa + w, ya + h / 2)
        end = (xb + w / 2, yb + h) if ya > yb else (xb, yb + h / 2)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#444"))
    ax.set_title("memcatalog: how data flows", fontsize=12)
    fig.savefig(Path(__file__).with_name("dataflow.png"), dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
