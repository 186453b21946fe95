"""The Evidently side of bench/drift-vs-evidently.ts, in its own process so its peak RSS is its own.

    python evidently_drift.py <reference.parquet> <current.parquet>

Reads both files into pandas (pyarrow), runs Report([DataDriftPreset()]) with Evidently's own test choice, thresholds
and dataset share, and prints one JSON line: times, peak RSS, and per column the method, score and whether Evidently
found drift. Text columns are declared categorical and every other column numerical, as our side types them.
"""

import json
import os
import resource
import sys
import time

# Evidently would otherwise try to send usage telemetry (this machine has no network; a stalled call would be timed).
os.environ["DO_NOT_TRACK"] = "1"

import pandas as pd  # noqa: E402
import evidently  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    reference_file, current_file = sys.argv[1:3]
    started = time.perf_counter()
    reference = pd.read_parquet(reference_file)
    current = pd.read_parquet(current_file)
    loaded = time.perf_counter()
    categorical = [c for c in reference.columns if reference[c].dtype == object]
    numerical = [c for c in reference.columns if c not in categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    finished = time.perf_counter()
    columns = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {"method": config["method"], "value": metric["value"]}
    drifted = set()
    for test in result["tests"]:
        column = test.get("metric_config", {}).get("params", {}).get("column")
        if test["status"] == "FAIL" and column:
            drifted.add(column)
    count = next(m["value"] for m in result["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    print(
        json.dumps(
            {
                "version": evidently.__version__,
                "loadSeconds": loaded - started,
                "reportSeconds": finished - loaded,
                "seconds": finished - started,
                "cpuSeconds": cpu_seconds(),
                # ru_maxrss is in KiB on Linux.
                "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "drifted": [c for c in reference.columns if c in drifted],
                "driftedCount": count["count"],
                "columns": columns,
            }
        )
    )


if __name__ == "__main__":
    main()
