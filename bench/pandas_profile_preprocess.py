"""The pandas side of bench/profile-vs-pandas.ts: the same profile and preprocessing, the idiomatic pandas way.

Profile: per column count, nulls, distinct, min/max/mean/std, 7 quantiles, a 20-bin histogram (numeric) or the top 10
values (categorical), Pearson correlations between numeric columns. Preprocess: split by a seeded hash of the row
number, median imputation and standardization fitted on train, one-hot encoding of the training categories, Parquet out.
Prints one JSON line: seconds per phase (wall and process CPU) and the peak RSS.
"""
import json
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd

path, target = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
df = pd.read_csv(path)
t_read, c_read = time.perf_counter(), time.process_time()

profile = {}
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != target]
categorical = [c for c in df.columns if c not in numeric]
for c in df.columns:
    s = df[c]
    entry = {"count": int(s.count()), "nulls": int(s.isna().sum()), "distinct": int(s.nunique())}
    if c in numeric:
        v = s.dropna().to_numpy()
        entry.update(min=float(v.min()), max=float(v.max()), mean=float(v.mean()), std=float(v.std(ddof=1)))
        entry["quantiles"] = np.quantile(v, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]).tolist()
        entry["histogram"] = np.histogram(v, bins=20)[0].tolist()
    else:
        entry["top"] = s.value_counts().head(10).to_dict()
    profile[c] = entry
profile["__corr__"] = df[numeric].corr().to_numpy().tolist()
t_profile, c_profile = time.perf_counter(), time.process_time()

rows = np.arange(len(df), dtype=np.uint64)
u = ((rows * np.uint64(2654435761) + np.uint64(42)) % np.uint64(1_000_000)) / 1_000_000.0
split = np.where(u < 0.2, "test", np.where(u < 0.3, "validation", "train"))
train = df[split == "train"]
out = pd.DataFrame(index=df.index)
for c in numeric:
    median, mean, std = train[c].median(), train[c].mean(), train[c].std(ddof=0) or 1.0
    out[c] = (df[c].fillna(median) - mean) / std
for c in categorical:
    if c == target:
        continue
    cats = sorted(train[c].fillna("__missing__").astype(str).value_counts().head(50).index)
    values = df[c].fillna("__missing__").astype(str)
    for cat in cats:
        out[f"{c}={cat}"] = (values == cat).astype("float64")
    out[f"{c}=__unknown__"] = (~values.isin(cats)).astype("float64")
out["__label"] = df[target].astype(str).map({v: i for i, v in enumerate(sorted(df[target].astype(str).unique()))})
with tempfile.TemporaryDirectory() as tmp:
    for name in ("train", "validation", "test"):
        out[split == name].to_parquet(f"{tmp}/{name}.parquet", index=False)
t_pre, c_pre = time.perf_counter(), time.process_time()

print(json.dumps({
    "readSeconds": t_read - t0,
    "profileSeconds": t_profile - t_read,
    "preprocessSeconds": t_pre - t_profile,
    "totalSeconds": t_pre - t0,
    "cpuSeconds": {"read": c_read - c0, "profile": c_profile - c_read, "preprocess": c_pre - c_profile},
    "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
