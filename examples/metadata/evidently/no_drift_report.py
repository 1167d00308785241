"""A drift report from Evidently 0.7.23 with no drift: reference and current
drawn from the same distribution (seeded), columns as in the shared fixture."""
import json, sys
import numpy as np, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

def frame(rng, n):
    return pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": rng.normal(60000, 15000, n).round().astype(int),
        "segment": rng.choice(["retail", "smb", "enterprise"], n, p=[0.6, 0.3, 0.1]),
    })

rng = np.random.default_rng(42)
ref, cur = frame(rng, 200), frame(rng, 200)
snap = Report([DataDriftPreset()]).run(cur, ref)
json.dump(snap.dict(), sys.stdout, indent=2)
