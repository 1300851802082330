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
# --- quantize / codebook: the float32 anchors of src/gpu-main.ts's quantize and codebook cases ---
QK, QN = (256, 256) if a.quick else (4096, 4096)
for M in ([1] if a.quick else [1, 512]):
    xq = torch.randn(M, QK, device=dev, generator=g); wq = torch.randn(QN, QK, device=dev, generator=g) * 0.02
    t = timed(lambda: F.linear(xq, wq))
    rows.append({"suite": "quantize", "case": f"{M}x{QK}x{QN} float32", "impl": "pytorch", "backend": "cuda", **t, "gflops": 2 * M * QK * QN / (t["median_ms"] * 1e6)})
SN, SK, SD = (128, 256, 32) if a.quick else (1024, 65536, 256)
xs = torch.randn(SN, SD, device=dev, generator=g); es = torch.randn(SK, SD, device=dev, generator=g)
t = timed(lambda: (2 * xs @ es.T - (es * es).sum(-1)).argmax(-1))
rows.append({"suite": "codebook", "case": f"search N={SN} K={SK} d={SD}", "impl": "pytorch", "backend": "cuda", **t, "gflops": 2 * SN * SK * SD / (t["median_ms"] * 1e6)})


# --- models: the same architectures as src/gpu-main.ts's model cases (random weights, fp32) ---
import math
import torch.nn as nn


class GPT2(nn.Module):
    def __init__(s, V, D, H, L, P):
        super().__init__(); s.H = H
        s.wte, s.wpe = nn.Embedding(V, D), nn.Embedding(P, D)
        s.blocks = nn.ModuleList(nn.ModuleDict(dict(ln1=nn.LayerNorm(D), qkv=nn.Linear(D, 3 * D), o=nn.Linear(D, D), ln2=nn.LayerNorm(D), fc=nn.Linear(D, 4 * D), proj=nn.Linear(4 * D, D))) for _ in range(L))
        s.lnf = nn.LayerNorm(D)

    def forward(s, ids, cache=None):
        b, t = ids.shape; p0 = 0 if cache is None else cache[0][0].shape[2]
        h = s.wte(ids) + s.wpe(torch.arange(p0, p0 + t, device=ids.device)); new = []
        for i, blk in enumerate(s.blocks):
            q, k, v = blk["qkv"](blk["ln1"](h)).view(b, t, 3, s.H, -1).permute(2, 0, 3, 1, 4)
            if cache is not None: k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            new.append((k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None)
            h = h + blk["o"](a.transpose(1, 2).reshape(b, t, -1))
            h = h + blk["proj"](F.gelu(blk["fc"](blk["ln2"](h)), approximate="tanh"))
        return s.lnf(h) @ s.wte.weight.T, new


def rope(x, pos, base=10000.0):
    d = x.shape[-1]; inv = 1.0 / base ** (torch.arange(0, d, 2, device=x.device).float() / d)
    ang = pos[:, None].float() * inv[None]; cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Llama(nn.Module):
    def __init__(s, V, D, H, Hkv, L, I):
        super().__init__(); s.H, s.Hkv, s.Dh = H, Hkv, D // H
        s.embed = nn.Embedding(V, D)
        s.layers = nn.ModuleList(nn.ModuleDict(dict(n1=nn.RMSNorm(D, eps=1e-6), q=nn.Linear(D, D, bias=False), k=nn.Linear(D, Hkv * s.Dh, bias=False), v=nn.Linear(D, Hkv * s.Dh, bias=False), o=nn.Linear(D, D, bias=False), n2=nn.RMSNorm(D, eps=1e-6), gate=nn.Linear(D, I, bias=False), up=nn.Linear(D, I, bias=False), down=nn.Linear(I, D, bias=False))) for _ in range(L))
        s.norm, s.head = nn.RMSNorm(D, eps=1e-6), nn.Linear(D, V, bias=False)

    def forward(s, ids, cache=None):
        b, t = ids.shape; p0 = 0 if cache is None else cache[0][0].shape[2]
        pos = torch.arange(p0, p0 + t, device=ids.device); h = s.embed(ids); new = []
        for i, ly in enumerate(s.layers):
            x = ly["n1"](h)
            q = rope(ly["q"](x).view(b, t, s.H, s.Dh).transpose(1, 2), pos)
            k = rope(ly["k"](x).view(b, t, s.Hkv, s.Dh).transpose(1, 2), pos)
            v = ly["v"](x).view(b, t, s.Hkv, s.Dh).transpose(1, 2)
            if cache is not None: k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            new.append((k, v))
            g = s.H // s.Hkv
            a = F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), is_causal=cache is None)
            h = h + ly["o"](a.transpose(1, 2).reshape(b, t, -1))
            y = ly["n2"](h)
            h = h + ly["down"](F.silu(ly["gate"](y)) * ly["up"](y))
        return s.head(s.norm(h)), new


class Mamba(nn.Module):
    def __init__(s, V, D, L, N=16, E=2, K=4):
        super().__init__(); Di = E * D; s.R, s.N, s.K = math.ceil(D / 16), N, K
        s.embed = nn.Embedding(V, D)
        s.layers = nn.ModuleList(nn.ModuleDict(dict(norm=nn.RMSNorm(D, eps=1e-5), inp=nn.Linear(D, 2 * Di, bias=False), conv=nn.Conv1d(Di, Di, K, groups=Di, padding=K - 1), xp=nn.Linear(Di, s.R + 2 * N, bias=False), dtp=nn.Linear(s.R, Di), out=nn.Linear(Di, D, bias=False))) for _ in range(L))
        s.A = [(-torch.arange(1, N + 1).float().repeat(Di, 1)).to(dev) for _ in range(L)]
        s.Dv = [torch.ones(Di, device=dev) for _ in range(L)]
        s.norm = nn.RMSNorm(D, eps=1e-5)

    def forward(s, ids, cache=None):
        h = s.embed(ids); new = []
        for i, ly in enumerate(s.layers):
            xz = ly["inp"](ly["norm"](h)).transpose(1, 2); x, z = xz.chunk(2, 1)        # [b, Di, t]
            if cache is None:
                conv_state = F.pad(x, (s.K - 1 - x.shape[2], 0))[..., -(s.K - 1):] if x.shape[2] < s.K - 1 else x[..., -(s.K - 1):]
                x = F.silu(ly["conv"](x)[..., : x.shape[2]])
            else:
                window = torch.cat([cache[i][0], x], -1); conv_state = window[..., 1:]
                x = F.silu((window * ly["conv"].weight[:, 0]).sum(-1, keepdim=True) + ly["conv"].bias[:, None])
            dbc = ly["xp"](x.transpose(1, 2)); dt, B, C = dbc.split([s.R, s.N, s.N], -1)
            delta = ly["dtp"](dt).transpose(1, 2)                                             # [b, Di, t]
            A, Dv = s.A[i], s.Dv[i]
            if cache is None:
                y = selective_scan_chunked(x, delta, A, B.transpose(1, 2), C.transpose(1, 2), Dv, z)
                # the last state for decoding (the literal recurrence over the prompt)
                dtv = F.softplus(delta); st = x.new_zeros(x.shape[0], x.shape[1], s.N)
                for j in range(x.shape[2]):
                    st = torch.exp(dtv[:, :, j, None] * A) * st + dtv[:, :, j, None] * B[:, j, None, :] * x[:, :, j, None]
            else:
                dtv = F.softplus(delta[..., 0]); st = torch.exp(dtv[..., None] * A) * cache[i][1] + dtv[..., None] * B[:, 0, None, :] * x[..., 0, None]
                y = ((st * C[:, 0, None, :]).sum(-1) + x[..., 0] * Dv)[..., None] * F.silu(z)
            new.append((conv_state, st))
            h = h + ly["out"](y.transpose(1, 2))
        return s.norm(h) @ s.embed.weight.T, new


T = 16 if a.quick else 128
specs = [("gpt2-tiny", lambda: GPT2(128, 64, 4, 2, 256))] if a.quick else [
    ("gpt2-124M", lambda: GPT2(50257, 768, 12, 12, 1024)),
    ("llama-gqa-125M", lambda: Llama(32000, 768, 12, 4, 12, 2048)),
    ("mamba-130M", lambda: Mamba(50280, 768, 24)),
]
with torch.no_grad():
    for name, make in specs:
        m = make().to(dev).eval()
        for p_ in m.parameters(): p_.normal_(0, 0.02, generator=g)
        V = m.wte.num_embeddings if hasattr(m, "wte") else m.embed.num_embeddings
        ids = torch.tensor([[(7919 + t * 104729) % V for t in range(T)]], device=dev)
        nxt = torch.tensor([[(2 * 7919) % V]], device=dev)
        t_ = timed(lambda: m(ids), warmup=2, runs=10)
        rows.append({"suite": "models", "case": f"{name} prefill T={T}", "impl": "pytorch", "backend": "cuda", **t_})
        _, cache = m(ids)
        t_ = timed(lambda: m(nxt, cache), warmup=3, runs=30)
        rows.append({"suite": "models", "case": f"{name} decode @{T}", "impl": "pytorch", "backend": "cuda", **t_})
        del m

print(f"pytorch {torch.__version__} on {torch.cuda.get_device_name()}")
for r in rows:
    print(f"  {r['case']:28s} {r['median_ms']:9.3f} ms")
if a.json:
    json.dump(rows, open(a.json, "w"), indent=2)
