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


def selective_scan_ref(u, delta, A, B, C, D, z):
    """mamba_ssm's selective_scan_ref (delta_softplus=True, B/C [b, N, L]): the literal loop."""
    dt = F.softplus(delta)
    x = u.new_zeros(u.shape[0], u.shape[1], A.shape[1]); ys = []
    for i in range(u.shape[2]):
        x = torch.exp(dt[:, :, i, None] * A) * x + dt[:, :, i, None] * B[:, None, :, i] * u[:, :, i, None]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    return (torch.stack(ys, 2) + u * D[:, None]) * F.silu(z)


def selective_scan_chunked(u, delta, A, B, C, D, z, Q=64):
    """The same scan in PyTorch, chunked: inside a chunk of Q steps the states are
    exp(c_t - c_s)-weighted sums (c = cumulative dt A, masked before exp), one batched matmul;
    chunk states are carried sequentially (as Tessera's chunked form)."""
    b, d, L = u.shape
    dt = F.softplus(delta)
    dtA = dt[:, :, None, :] * A[None, :, :, None]          # [b, d, N, L]
    bu = B[:, None, :, :] * (dt * u)[:, :, None, :]        # [b, d, N, L]
    x = u.new_zeros(b, d, A.shape[1]); ys = []
    mask = torch.ones(Q, Q, device=u.device, dtype=torch.bool).tril()
    for s0 in range(0, L, Q):
        q = min(Q, L - s0)
        cum = torch.cumsum(dtA[..., s0:s0 + q], -1)          # [b, d, N, q]
        seg = (cum[..., :, None] - cum[..., None, :]).masked_fill(~mask[:q, :q], float("-inf"))
        xs = (torch.exp(seg) @ bu[..., s0:s0 + q, None]).squeeze(-1) + torch.exp(cum) * x[..., None]
        ys.append(torch.einsum("bdnq,bnq->bdq", xs, C[:, :, s0:s0 + q]))
        x = xs[..., -1]
    return (torch.cat(ys, -1) + u * D[:, None]) * F.silu(z)


Dm, N = 1536, 16
for L in ([256] if a.quick else [1024, 4096, 16384]):
    u = torch.randn(1, Dm, L, device=dev, generator=g); delta = torch.randn(1, Dm, L, device=dev, generator=g) * 0.5 - 2
    A = -torch.exp(torch.randn(Dm, N, device=dev, generator=g) * 0.5)
    B, C = torch.randn(1, N, L, device=dev, generator=g), torch.randn(1, N, L, device=dev, generator=g)
    Dv, z = torch.randn(Dm, device=dev, generator=g), torch.randn(1, Dm, L, device=dev, generator=g)
    if L <= 1024:  # the chunked form against the literal loop
        err = (selective_scan_chunked(u, delta, A, B, C, Dv, z) - selective_scan_ref(u, delta, A, B, C, Dv, z)).abs().max().item()
        print(f"  chunked vs reference scan at L={L}: max |diff| {err:.2e}")
    t = timed(lambda: selective_scan_chunked(u, delta, A, B, C, Dv, z), warmup=2, runs=10)
    rows.append({"suite": "ssm", "case": f"selective scan D={Dm} N={N} L={L}", "impl": "pytorch chunked", "backend": "cuda", **t, "gbps": 4 * (4 * Dm * L + 2 * N * L) / (t["median_ms"] * 1e6)})
print(f"pytorch {torch.__version__} on {torch.cuda.get_device_name()}")
for r in rows:
    print(f"  {r['case']:28s} {r['median_ms']:9.3f} ms")
if a.json:
    json.dump(rows, open(a.json, "w"), indent=2)
