"""Side-by-side table of webgpu (Tessera) and PyTorch rows from one GPU run.

    python3 apps/bench/gpu/compare.py webgpu.json torch.json

Rows pair by (suite, case). Tessera rows that have no PyTorch twin of their own (float16
storage, float16 / quantized weights) pair with the float32 PyTorch row of the same shape: the
ratio then says what the format buys against what a PyTorch fp32 user runs.
"""
import json, re, sys


def anchor_key(suite, case):
    """The PyTorch float32 row a Tessera-only variant compares against (None: none)."""
    if suite == "matmul":
        return (suite, re.sub(r" float16 storage$", "", case))
    if suite == "quantize":
        return (suite, re.sub(r"^(\d+x\d+x\d+) .*$", r"\1 float32", case))
    if suite == "models":
        return (suite, case.replace(" f16 weights", ""))
    return None


def throughput(r):
    if "gflops" in r:
        return r["gflops"], "GFLOP/s"
    if "gbps" in r:
        return r["gbps"], "GB/s"
    return None, ""


def main(tess_path, torch_path):
    tess = json.load(open(tess_path))
    torch = {(r["suite"], r["case"]): r for r in json.load(open(torch_path))}
    print(f"{'case':42s} {'tessera ms':>11s} {'pytorch ms':>11s} {'tessera/pytorch speed':>22s}  throughput (tessera | pytorch)  pytorch row")
    for t in tess:
        key = (t["suite"], t["case"])
        p = torch.get(key) or torch.get(anchor_key(*key))
        if not p:
            print(f"{t['case']:42s} {t['median_ms']:11.3f} {'-':>11s} {'-':>22s}  (no PyTorch row)")
            continue
        tv, unit = throughput(t)
        pv, _ = throughput(p)
        tp = f"{tv:.0f} | {pv:.0f} {unit}" if tv is not None and pv is not None else ""
        same = "" if p["case"] == t["case"] else p["case"]
        print(f"{t['case']:42s} {t['median_ms']:11.3f} {p['median_ms']:11.3f} {p['median_ms'] / t['median_ms']:21.1%}  {tp:30s} {same}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
