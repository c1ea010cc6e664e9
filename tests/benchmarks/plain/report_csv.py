"""The plain script `optbench report --format csv` is measured against: read every trial of a store with
sqlite3 and json, and print one CSV row per problem and optimizer with the median final value."""

from __future__ import annotations

import csv
import json
import sqlite3
import statistics
import sys
from collections import defaultdict


def main(path: str) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (payload,) in con.execute("SELECT result FROM trials WHERE state = 'complete'"):
        result = json.loads(payload)
        spec = result["spec"]
        if result.get("final_value") is not None:
            cells[(spec["problem"], spec["optimizer"])].append(float(result["final_value"]))
    writer = csv.writer(sys.stdout)
    writer.writerow(["problem", "optimizer", "trials", "median_final"])
    for (problem, optimizer), values in sorted(cells.items()):
        writer.writerow([problem, optimizer, len(values), statistics.median(values)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
