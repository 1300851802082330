"""Side-by-side table of webgpu (Tessera) and PyTorch rows from one GPU run.

    python3 apps/bench/gpu/compare.py webgpu.json torch.json
"""
import json, sys

tess = {(r["suite"], r["case"]): r for r in json.load(open(sys.argv[1]))}
torch = {(r["suite"], r["case"]): r for r in json.load(open(sys.argv[2]))}
print(f"{'case':30s} {'tessera ms':>11s} {'pytorch ms':>11s} {'tessera/pytorch speed':>22s}  throughput (tessera | pytorch)")
for key, t in tess.items():
    p = torch.get(key)
    if not p:
        continue
    unit = "GFLOP/s" if "gflops" in t else "GB/s"
    k = "gflops" if "gflops" in t else "gbps"
    print(f"{t['case']:30s} {t['median_ms']:11.3f} {p['median_ms']:11.3f} {p['median_ms'] / t['median_ms']:21.1%}  {t[k]:.0f} | {p[k]:.0f} {unit}")
