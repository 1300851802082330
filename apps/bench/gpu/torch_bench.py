"""PyTorch on the same GPU and shapes as src/gpu-main.ts (fp32, TF32 off), same JSON rows.

    python3 apps/bench/gpu/torch_bench.py [--json FILE] [--quick]

Each case: warm-up, then timed runs with CUDA events; the median is reported.
"""
import argparse, json, statistics
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--json")
p.add_argument("--quick", action="store_true")
a = p.parse_args()

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
g = torch.Generator(device=dev).manual_seed(0)

def timed(fn, warmup=3, runs=30):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(runs):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return {"median_ms": statistics.median(ts), "min_ms": ts[0], "max_ms": ts[-1], "runs": len(ts)}

rows = []
sizes = [64, 128] if a.quick else [1024, 2048, 4096]
for n in sizes:
    x = torch.randn(n, n, device=dev, generator=g); y = torch.randn(n, n, device=dev, generator=g)
    t = timed(lambda: torch.matmul(x, y))
    rows.append({"suite": "matmul", "case": f"{n}x{n}x{n}", "impl": "pytorch", "backend": "cuda", **t, "gflops": 2 * n**3 / (t["median_ms"] * 1e6)})
shape = [2, 64, 256] if a.quick else [64, 1024, 1024]
x = torch.randn(*shape, device=dev, generator=g)
w, b = torch.ones(shape[-1], device=dev), torch.zeros(shape[-1], device=dev)
nbytes = 8 * x.numel()
name = ",".join(map(str, shape))
for case, fn in [(f"softmax [{name}]", lambda: torch.softmax(x, -1)), (f"layerNorm [{name}]", lambda: F.layer_norm(x, shape[-1:], w, b, 1e-5)), (f"gelu [{name}]", lambda: F.gelu(x))]:
    t = timed(fn)
    rows.append({"suite": "ops", "case": case, "impl": "pytorch", "backend": "cuda", **t, "gbps": nbytes / (t["median_ms"] * 1e6)})
for T in ([128] if a.quick else [1024, 4096]):
    q, k, v = (torch.randn(1, 8, T, 64, device=dev, generator=g) for _ in range(3))
    t = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    rows.append({"suite": "attention", "case": f"sdpa causal T={T}", "impl": "pytorch", "backend": "cuda", **t, "gflops": 2 * 8 * T * T * 64 / (t["median_ms"] * 1e6)})
print(f"pytorch {torch.__version__} on {torch.cuda.get_device_name()}")
for r in rows:
    print(f"  {r['case']:28s} {r['median_ms']:9.3f} ms")
if a.json:
    json.dump(rows, open(a.json, "w"), indent=2)
