#!/usr/bin/env python3
"""Side-by-side speed of one ELECTRA pretraining step: PyTorch against our `electra bench train`.

A benchmark tool only; nothing in the product imports or needs it. Each PyTorch configuration (mode x precision)
runs in a child process of this script, so a failing or hanging torch.compile, or the peak-memory counter of one
run, cannot spill into the next; then our CLI runs on the same device, and one table comes out.

The PyTorch step is the ELECTRA objective as our Pretrainer computes it:
  * model: Hugging Face ElectraForMaskedLM (generator) + ElectraForPreTraining (discriminator) sharing one
    embeddings module (and the generator's output projection tied to its word embeddings) when transformers
    imports; otherwise a plain-torch transcription of the same network (tests/fixtures/make_golden.py's, with
    dropout). The output says which. The generator head runs on the masked rows only, as in the original ELECTRA
    (and ours), not on all B*T rows as ElectraForMaskedLM.forward would.
  * masking: per sequence k = max(1, min(round(0.15 n), round(0.15 T))) of the non-special tokens, uniformly without
    replacement; 85% become [MASK], 15% keep their token.
  * sampling: Gumbel-max at temperature 1 from the generator logits, no gradient through the sample;
    label = masked and sample != original.
  * loss: MLM cross-entropy over the masked rows + 50 x BCE over the non-padding tokens.
  * optimizer: ELECTRA's AdamW (beta 0.9/0.999, eps 1e-6, weight decay 0.01 except LayerNorm and biases, no bias
    correction) as multi-tensor foreach updates, global-norm clipping at 1.0, and the ELECTRA learning-rate schedule
    (linear warm-up times linear decay). `--optimizer torch` uses torch.optim.AdamW (fused on CUDA) instead: same
    decoupled decay, but with bias correction, which torch cannot switch off.

Usage (GPU host):  python3 benchmarks/compare-pytorch.py --device cuda --batch 128 --seq 128 --steps 30 \
                       --modes eager,compile --precisions fp32,tf32,bf16 --app "$APP" --out results/
CPU smoke check:   /usr/bin/python3 benchmarks/compare-pytorch.py --device cpu --preset tiny --batch 2 --steps 3 --out /tmp/c
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103


# ---- configuration -------------------------------------------------------------------------------------------------

def preset(name):
    """The discriminator of our ElectraConfig presets and the generator ElectraConfig.Generator() derives from it."""
    base = dict(V=30522, E=128, H=256, L=12, NH=4, I=1024, P=512, types=2, dropout=0.1, eps=1e-12)
    disc = {
        "tiny": dict(base, E=64, H=128, L=2, NH=2, I=512, P=128),
        "small": base,
        "base": dict(base, E=768, H=768, NH=12, I=3072),
        "large": dict(base, E=1024, H=1024, L=24, NH=16, I=4096),
    }[name]
    frac = 1 / 3 if disc["H"] == 768 else 0.25
    h = max(1, round(disc["H"] * frac))
    heads = max(1, h // 64)
    while h % heads:
        heads -= 1
    return disc, dict(disc, H=h, NH=heads, I=4 * h)


def max_predictions(seq):
    return max(1, round(0.15 * seq))  # Python's round is half-to-even, as Masking.DefaultMaxPredictions


def flops_per_token(disc, gen, seq):
    """Training FLOPs per token: 3 x the forward's multiply-adds x 2 (backward = 2 x forward), counted from the config."""
    def encoder(c):
        h, i = c["H"], c["I"]
        gemms = 2 * (4 * h * h + 2 * h * i)     # QKV 6H^2, attention output 2H^2, FFN 4HI (2 FLOPs per MAC)
        attention = 4 * seq * h                 # QK^T and PV
        project = 2 * c["E"] * h if c["E"] != h else 0
        return c["L"] * (gemms + attention) + project
    masked_share = max_predictions(seq) / seq
    gen_head = masked_share * (2 * gen["H"] * gen["E"] + 2 * gen["E"] * gen["V"])
    disc_head = 2 * disc["H"] * disc["H"] + 2 * disc["H"]
    forward = encoder(disc) + encoder(gen) + gen_head + disc_head
    return 3 * forward, forward


# ---- models --------------------------------------------------------------------------------------------------------

def build_hf(disc_cfg, gen_cfg, attn):
    import transformers
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    def hf_config(c):
        kw = dict(vocab_size=c["V"], embedding_size=c["E"], hidden_size=c["H"], num_hidden_layers=c["L"],
                  num_attention_heads=c["NH"], intermediate_size=c["I"], max_position_embeddings=c["P"],
                  type_vocab_size=c["types"], hidden_dropout_prob=c["dropout"], attention_probs_dropout_prob=c["dropout"],
                  layer_norm_eps=c["eps"], hidden_act="gelu")
        cfg = ElectraConfig(**kw)
        if attn:
            cfg._attn_implementation = attn
        return cfg

    disc = ElectraForPreTraining(hf_config(disc_cfg))
    gen = ElectraForMaskedLM(hf_config(gen_cfg))
    # One embeddings module for both, as the original ELECTRA shares its embedding variables.
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    attn_used = getattr(disc.config, "_attn_implementation", None) or "default"
    return HfPair(gen, disc), f"hf-transformers {transformers.__version__} (attention: {attn_used})"


def _torch_nn():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    return torch, nn, F


class HfPair:
    """Adapts the two HF models to the step: encoder hidden states, generator head, discriminator logits."""

    def __init__(self, gen, disc):
        import torch.nn as nn
        self.module = nn.ModuleDict({"generator": gen, "discriminator": disc})
        self.gen, self.disc = gen, disc

    def gen_hidden(self, ids, types, mask):
        return self.gen.electra(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

    def gen_logits(self, rows):
        return self.gen.generator_lm_head(self.gen.generator_predictions(rows))

    def disc_logits(self, ids, types, mask):
        return self.disc(input_ids=ids, attention_mask=mask, token_type_ids=types).logits


def build_plain(disc_cfg, gen_cfg):
    """make_golden.py's network as nn.Modules, with dropout (HF parameter names, so weight-decay exclusion matches)."""
    torch, nn, F = _torch_nn()

    def init(module):
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
                if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                    with torch.no_grad():
                        m.weight[m.padding_idx].zero_()

    class Embeddings(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.word_embeddings = nn.Embedding(c["V"], c["E"], padding_idx=PAD)
            self.position_embeddings = nn.Embedding(c["P"], c["E"])
            self.token_type_embeddings = nn.Embedding(c["types"], c["E"])
            self.LayerNorm = nn.LayerNorm(c["E"], eps=c["eps"])
            self.dropout = nn.Dropout(c["dropout"])

        def forward(self, ids, types):
            pos = self.position_embeddings.weight[: ids.shape[1]].unsqueeze(0)
            return self.dropout(self.LayerNorm(self.word_embeddings(ids) + self.token_type_embeddings(types) + pos))

    class Layer(nn.Module):
        def __init__(self, c):
            super().__init__()
            h = c["H"]
            self.nh, self.p = c["NH"], c["dropout"]
            self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
            self.attention_output = nn.Linear(h, h)
            self.attention_LayerNorm = nn.LayerNorm(h, eps=c["eps"])
            self.intermediate = nn.Linear(h, c["I"])
            self.output = nn.Linear(c["I"], h)
            self.output_LayerNorm = nn.LayerNorm(h, eps=c["eps"])

        def forward(self, x, bias):
            b, t, h = x.shape
            hs = h // self.nh

            def heads(y):  # [B, T, H] -> [B, NH, T, HS]
                return y.view(b, t, self.nh, hs).transpose(1, 2)

            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
            probs = F.dropout((q @ k.transpose(-1, -2) / math.sqrt(hs) + bias).softmax(-1), self.p, self.training)
            ctx = (probs @ v).transpose(1, 2).reshape(b, t, h)
            a = self.attention_LayerNorm(F.dropout(self.attention_output(ctx), self.p, self.training) + x)
            inner = F.gelu(self.intermediate(a))
            return self.output_LayerNorm(F.dropout(self.output(inner), self.p, self.training) + a)

    class Encoder(nn.Module):
        def __init__(self, c, embeddings):
            super().__init__()
            self.embeddings = embeddings
            self.embeddings_project = nn.Linear(c["E"], c["H"]) if c["E"] != c["H"] else None
            self.layer = nn.ModuleList(Layer(c) for _ in range(c["L"]))

        def forward(self, ids, types, mask):
            x = self.embeddings(ids, types)
            if self.embeddings_project is not None:
                x = self.embeddings_project(x)
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min  # padding keys masked
            for layer in self.layer:
                x = layer(x, bias)
            return x

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            shared = Embeddings(disc_cfg)
            self.discriminator = Encoder(disc_cfg, shared)
            self.discriminator_dense = nn.Linear(disc_cfg["H"], disc_cfg["H"])
            self.discriminator_dense_prediction = nn.Linear(disc_cfg["H"], 1)
            self.generator = Encoder(gen_cfg, shared)
            self.generator_dense = nn.Linear(gen_cfg["H"], gen_cfg["E"])
            self.generator_LayerNorm = nn.LayerNorm(gen_cfg["E"], eps=gen_cfg["eps"])
            self.generator_lm_head_bias = nn.Parameter(torch.zeros(gen_cfg["V"]))
            init(self)

    pair = Pair()

    class PlainPair:
        module = pair

        @staticmethod
        def gen_hidden(ids, types, mask):
            return pair.generator(ids, types, mask)

        @staticmethod
        def gen_logits(rows):
            h = pair.generator_LayerNorm(F.gelu(pair.generator_dense(rows)))
            return F.linear(h, pair.discriminator.embeddings.word_embeddings.weight, pair.generator_lm_head_bias)

        @staticmethod
        def disc_logits(ids, types, mask):
            x = pair.discriminator(ids, types, mask)
            return pair.discriminator_dense_prediction(F.gelu(pair.discriminator_dense(x))).squeeze(-1)

    return PlainPair(), "plain torch (transformers not importable; make_golden.py's network with dropout)"


# ---- the step --------------------------------------------------------------------------------------------------------

def rtd_loss(model, ids, types, mask, special, temperature=1.0, disc_weight=50.0):
    """ELECTRA's replaced-token-detection loss for one batch; static shapes (no host round trip), so it compiles."""
    import torch
    import torch.nn.functional as F
    b, t = ids.shape
    p = min(max_predictions(t), t)
    real = mask.bool()
    candidate = real & ~special
    # k smallest uniform keys among the candidates = a uniform draw without replacement.
    keys = torch.where(candidate, torch.rand(b, t, device=ids.device), torch.full_like(ids, 2, dtype=torch.float32))
    k = torch.round(0.15 * real.sum(1).float()).clamp(1, p)
    k = torch.minimum(k, candidate.sum(1).float())
    slots = keys.topk(p, dim=1, largest=False).indices                        # [B, P]
    valid = torch.arange(p, device=ids.device)[None, :] < k[:, None]         # [B, P]; slots past k are padding
    flat = (slots + torch.arange(b, device=ids.device)[:, None] * t).view(-1)  # [B*P]
    valid = valid.view(-1)
    ids_flat = ids.reshape(-1)
    originals = ids_flat[flat]
    to_mask = valid & (torch.rand(b * p, device=ids.device) < 0.85)
    masked = ids_flat.clone().scatter_(0, flat, torch.where(to_mask, torch.full_like(originals, MASK), originals))

    hidden = model.gen_hidden(masked.view(b, t), types, mask)                # [B, T, Hg]
    logits = model.gen_logits(hidden.reshape(b * t, -1)[flat])              # [B*P, V]
    ce = F.cross_entropy(logits.float(), originals, reduction="none")
    weights = valid.float()
    mlm = (ce * weights).sum() / weights.sum()
    with torch.no_grad():
        u = torch.rand(logits.shape, device=logits.device).clamp_(1e-20, 1.0)
        samples = (logits.float() / temperature - torch.log(-torch.log(u))).argmax(-1)
    corrupted = ids_flat.clone().scatter_(0, flat, torch.where(valid, samples, originals))
    labels = ((corrupted != ids_flat) & real.view(-1)).float()

    disc_logits = model.disc_logits(corrupted.view(b, t), types, mask).reshape(-1).float()
    w = real.view(-1).float()
    bce = (F.binary_cross_entropy_with_logits(disc_logits, labels, reduction="none") * w).sum() / w.sum()
    return mlm + disc_weight * bce


def electra_lr(peak, step, warmup, total):
    return peak * min(1.0, step / warmup if warmup > 0 else 1.0) * max(0.0, 1.0 - step / total)


class ElectraAdamW:
    """ELECTRA's AdamWeightDecayOptimizer: p -= lr * (m / (sqrt(v) + eps) + wd * p), no bias correction."""

    def __init__(self, named_params, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.01):
        import torch
        self.b1, self.b2, self.eps = beta1, beta2, eps
        decay, no_decay = [], []
        for name, param in named_params:
            (no_decay if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias") else decay).append(param)
        self.groups = [(g, wd, [torch.zeros_like(x) for x in g], [torch.zeros_like(x) for x in g])
                       for g, wd in ((decay, weight_decay), (no_decay, 0.0)) if g]

    def step(self, lr):
        import torch
        with torch.no_grad():
            for params, wd, m, v in self.groups:
                grads = [x.grad for x in params]
                torch._foreach_mul_(m, self.b1)
                torch._foreach_add_(m, grads, alpha=1 - self.b1)
                torch._foreach_mul_(v, self.b2)
                torch._foreach_addcmul_(v, grads, grads, value=1 - self.b2)
                update = torch._foreach_sqrt(v)
                torch._foreach_add_(update, self.eps)
                update = torch._foreach_div(m, update)
                if wd:
                    torch._foreach_add_(update, params, alpha=wd)
                torch._foreach_add_(params, update, alpha=-lr)


class TorchAdamW:
    def __init__(self, named_params, device):
        import torch
        decay, no_decay = [], []
        for name, param in named_params:
            (no_decay if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias") else decay).append(param)
        kw = dict(fused=True) if device == "cuda" else {}
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                     lr=0.0, betas=(0.9, 0.999), eps=1e-6, **kw)

    def step(self, lr):
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.step()


# ---- one configuration, in a child process ---------------------------------------------------------------------------

def worker(args):
    import torch
    torch.manual_seed(args.seed)
    device = args.device
    disc_cfg, gen_cfg = preset(args.preset)
    if args.seq > disc_cfg["P"]:
        raise SystemExit(f"--seq {args.seq} exceeds max_position_embeddings {disc_cfg['P']} of preset {args.preset}")
    if device == "cuda":
        tf32 = args.precision in ("tf32", "bf16")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    model, impl, impl_note = None, None, ""
    if not args.plain:
        try:
            model, impl = build_hf(disc_cfg, gen_cfg, args.attn)
        except ImportError as e:
            impl_note = f" ({e})"
    if model is None:
        model, impl = build_plain(disc_cfg, gen_cfg)
        impl += impl_note if not args.plain else " (--plain)"
    model.module.to(device).train()
    named = list(model.module.named_parameters())  # shared tensors appear once
    n_params = sum(p.numel() for _, p in named)
    opt = TorchAdamW(named, device) if args.optimizer == "torch" else ElectraAdamW(named)

    b, t = args.batch, args.seq
    g = torch.Generator().manual_seed(1)
    ids = 1000 + torch.randint(0, 20000, (b, t), generator=g)
    ids[:, 0], ids[:, -1] = CLS, SEP
    ids = ids.to(device)
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    special = (ids == PAD) | (ids == CLS) | (ids == SEP)

    loss_fn = rtd_loss
    if args.mode == "compile":
        if not hasattr(torch, "compile"):
            raise RuntimeError(f"torch.compile is not available in torch {torch.__version__}")
        loss_fn = torch.compile(rtd_loss)
    autocast = (torch.autocast(device_type=device, dtype=torch.bfloat16) if args.precision == "bf16"
                else torch.autocast(device_type=device, enabled=False))
    params = [p for _, p in named]

    def step(i):
        with autocast:
            loss = loss_fn(model, ids, types, mask, special)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step(electra_lr(args.lr, args.step_offset + i, args.warmup, args.total_steps))
        for p in params:
            p.grad = None
        return loss

    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    compile_s = time.perf_counter()
    first = step(0).item()
    compile_s = time.perf_counter() - compile_s
    for i in range(1, args.warmup_steps):
        step(i)
    times, last = [], None
    if cuda:
        torch.cuda.synchronize()
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(args.steps)]
        wall = time.perf_counter()
        for i, (start, end) in enumerate(events):
            start.record()
            last = step(args.warmup_steps + i)
            end.record()
        torch.cuda.synchronize()
        wall = time.perf_counter() - wall
        times = [s.elapsed_time(e) for s, e in events]
    else:
        wall = time.perf_counter()
        for i in range(args.steps):
            t0 = time.perf_counter()
            last = step(args.warmup_steps + i)
            times.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - wall
    median = statistics.median(times)
    return {
        "implementation": "pytorch",
        "model": impl,
        "mode": args.mode,
        "precision": args.precision,
        "optimizer": "electra-adamw (foreach, no bias correction)" if args.optimizer == "electra"
                     else "torch.optim.AdamW" + (" fused" if cuda else "") + " (with bias correction)",
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "parameters": n_params,
        "tokens_per_s": b * t / (median / 1000),
        "step_ms_median": median,
        "step_ms_min": min(times),
        "step_ms_wall_mean": wall * 1000 / args.steps,
        "first_step_s": compile_s,
        "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "loss_first": first,
        "loss_last": last.item(),
        "batch": b, "seq": t, "steps": args.steps, "warmup_steps": args.warmup_steps,
    }


# ---- the driver --------------------------------------------------------------------------------------------------------

def run_child(args, mode, precision, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode, "--precision", precision]
    for key in ("device", "preset", "batch", "seq", "steps", "warmup_steps", "optimizer", "lr", "warmup", "total_steps",
                "step_offset", "seed"):
        cmd += ["--" + key.replace("_", "-"), str(getattr(args, key))]
    if args.plain:
        cmd.append("--plain")
    if args.attn:
        cmd += ["--attn", args.attn]
    row = {"implementation": "pytorch", "mode": mode, "precision": precision}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(row, error=f"timed out after {timeout:.0f} s")
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(row, error=f"exit {r.returncode}: {tail[:300]}")
    return json.loads(lines[-1])


def run_ours(args, timeout, precision=None, graph=None):
    app = args.app or os.environ.get("APP")
    row = {"implementation": "electra (ours)", "mode": "graph" if graph else "eager", "precision": precision}
    if not app:
        return dict(row, error="skipped: no --app and no $APP (the folder holding electra.dll)")
    dll = app if app.endswith(".dll") else os.path.join(app, "electra.dll")
    if not os.path.exists(dll):
        return dict(row, error=f"skipped: {dll} does not exist")
    cmd = [args.dotnet, dll, "bench", "train", "--preset", args.preset, "--batch", str(args.batch), "--seq", str(args.seq),
           "--steps", str(args.steps), "--device", args.device, "--json"]
    if precision:
        cmd += ["--precision", precision]
    if graph is not None:
        cmd += ["--cuda-graph", "on" if graph else "off"]
    if args.breakdown:
        cmd.append("--breakdown")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(row, error=f"timed out after {timeout:.0f} s")
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode != 0 or not lines:
        said = (r.stderr + r.stdout).strip().splitlines() or ["no output"]
        # A .NET stack trace ends in frames; the line naming the exception is the useful one.
        tail = next((x for x in said if "exception" in x.lower() or "bench:" in x), said[-1]).strip()
        return dict(row, error=f"exit {r.returncode}: {tail[:300]}")
    ours = json.loads(lines[-1])
    row.update(ours)
    row["implementation"] = "electra (ours)"
    row["precision"] = ours.get("matmul_precision", "fp32" if args.device == "cpu" else "tf32")
    row["ours_device"] = ours.get("device")
    row["mode"] = "graph" if ours.get("cuda_graph") == "on" else "eager"
    return row


def fmt_bytes(n):
    return "–" if n is None else f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def table(rows, flops, peak_tflops):
    eager = {r["precision"]: r["tokens_per_s"] for r in rows
             if r["implementation"] == "pytorch" and r["mode"] == "eager" and "error" not in r}
    head = "| implementation | mode | precision | tokens/s | step ms | peak memory | MFU | × PyTorch eager |"
    out = [head, "|" + "---|" * 8]
    for r in rows:
        name = r["implementation"]
        if "error" in r:
            out.append(f"| {name} | {r['mode']} | {r['precision'] or '–'} | – | – | – | – | {r['error']} |")
            continue
        tps = r["tokens_per_s"]
        mfu = tps * flops / (peak_tflops * 1e12)
        ref = eager.get(r["precision"])
        ratio = f"{tps / ref:.2f}×" if ref else "–"
        out.append(f"| {name} | {r['mode']} | {r['precision']} | {tps:,.0f} | {r['step_ms_median']:.2f} | "
                   f"{fmt_bytes(r.get('peak_memory_bytes'))} | {100 * mfu:.3g}% | {ratio} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "base", "large"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    ap.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first (the first one compiles)")
    ap.add_argument("--modes", default="eager", help="comma list of eager, compile")
    ap.add_argument("--precisions", default=None, help="comma list of fp32, tf32, bf16 (default: tf32 on cuda, fp32 on cpu)")
    ap.add_argument("--runs", default=None, help="comma list of MODE:PRECISION pairs, instead of --modes x --precisions")
    ap.add_argument("--optimizer", default="electra", choices=["electra", "torch"])
    ap.add_argument("--attn", default=None, help="HF attn_implementation (eager, sdpa); default: the library's")
    ap.add_argument("--plain", action="store_true", help="use the plain-torch model even when transformers imports")
    ap.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (ELECTRA-Small: 5e-4)")
    ap.add_argument("--warmup", type=int, default=10000, help="schedule warm-up steps")
    ap.add_argument("--total-steps", type=int, default=1000000, help="schedule length")
    ap.add_argument("--step-offset", type=int, default=10000, help="schedule step of the first benchmark step (lr > 0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--app", default=None, help="folder with electra.dll (or the dll); default $APP; none: ours is skipped")
    ap.add_argument("--dotnet", default="dotnet")
    ap.add_argument("--breakdown", action="store_true", help="also ask ours for its per-phase breakdown")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="MFU denominator (H100 SXM dense bf16: 989)")
    ap.add_argument("--run-timeout", type=int, default=300, help="seconds per configuration")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="seconds for all runs together (ours first); runs that would start with < 20 s left are skipped")
    ap.add_argument("--out", default=None, help="folder for compare-pytorch.md and compare-pytorch.json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="eager", help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch < 1 or args.seq < 8 or args.steps < 1 or args.warmup_steps < 1:
        ap.error("--batch >= 1, --seq >= 8, --steps >= 1 and --warmup-steps >= 1 are required")

    if args.worker:
        print(json.dumps(worker(args)))
        return

    if args.runs:
        runs = [tuple(x.split(":", 1)) if ":" in x else (x, "") for x in args.runs.split(",") if x]
    else:
        precisions = [p for p in (args.precisions or ("tf32" if args.device == "cuda" else "fp32")).split(",") if p]
        runs = [(m, p) for m in args.modes.split(",") if m for p in precisions]
    for m, p in runs:
        if m not in ("eager", "compile"):
            ap.error(f"mode '{m}' is not eager or compile")
        if p not in ("fp32", "tf32", "bf16"):
            ap.error(f"precision '{p}' (of {m}) is not fp32, tf32 or bf16")
        if p == "tf32" and args.device == "cpu":
            ap.error("precision tf32 exists only on cuda")

    disc_cfg, gen_cfg = preset(args.preset)
    flops, forward = flops_per_token(disc_cfg, gen_cfg, args.seq)
    # Ours first, once per precision the PyTorch runs use (on the CPU, fp32 only): it is what is being measured,
    # so a budget running out cuts PyTorch runs, not it.
    deadline = time.monotonic() + args.budget_s if args.budget_s else None
    order = ["fp32", "tf32", "bf16"]
    ours_precisions = sorted({p for _, p in runs if p}, key=order.index) if args.device == "cuda" else ["fp32"]
    # On CUDA each precision as one replayed graph per step (the default), and the best precision also eagerly,
    # so the graph's gain is measured too.
    ours_runs = [(p, True) for p in ours_precisions] + [(ours_precisions[-1], False)] if args.device == "cuda" else [("fp32", None)]
    ours_rows = []
    for p, graph in ours_runs:
        timeout = args.run_timeout if deadline is None else min(args.run_timeout, deadline - time.monotonic())
        mode = {True: "on", False: "off", None: "n/a"}[graph]
        print(f"electra bench train --precision {p} --cuda-graph {mode} ...", file=sys.stderr, flush=True)
        ours_rows.append(run_ours(args, timeout, p, graph) if timeout >= 20 else
                         {"implementation": "electra (ours)", "mode": "graph" if graph else "eager", "precision": p,
                          "error": "skipped: budget used up"})
    ours = ours_rows[-1]
    rows = []
    for m, p in runs:
        timeout = args.run_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout < 20:
                rows.append({"implementation": "pytorch", "mode": m, "precision": p, "error": f"skipped: --budget-s {args.budget_s:g} used up"})
                continue
        print(f"pytorch {m} {p} ...", file=sys.stderr, flush=True)
        rows.append(run_child(args, m, p, timeout))
    rows.extend(ours_rows)

    ok = [r for r in rows if r["implementation"] == "pytorch" and "error" not in r]
    eager = {r["precision"]: r for r in ok if r["mode"] == "eager"}
    by_precision = {f"{r['precision']} {r['mode']}": r["tokens_per_s"] / eager[r["precision"]]["tokens_per_s"]
                    for r in ours_rows if "error" not in r and r["precision"] in eager}
    # The headline is ours at its best precision (its first, graph row) against PyTorch eager at the same one.
    best = next((r for r in reversed(ours_rows) if f"{r['precision']} {r['mode']}" in by_precision and r["mode"] != "eager"), None) \
        or next((r for r in ours_rows if f"{r['precision']} {r['mode']}" in by_precision), None)
    if best is not None:
        ours = best
    headline = by_precision.get(f"{ours['precision']} {ours['mode']}")
    summary = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": ok[0]["device"] if ok else args.device,
        "pytorch_model": ok[0]["model"] if ok else None,
        "torch": ok[0]["torch"] if ok else None,
        "preset": args.preset, "batch": args.batch, "seq": args.seq, "steps": args.steps,
        "flops_per_token": flops, "forward_flops_per_token": forward, "peak_tflops": args.peak_tflops,
        "ours_over_pytorch_eager": headline,
        "ours_over_pytorch_eager_by_precision": by_precision,
        "rows": rows,
    }
    for r in rows:
        if "error" not in r:
            r["mfu"] = r["tokens_per_s"] * flops / (args.peak_tflops * 1e12)

    lines = [
        f"# ELECTRA pretraining step: ours vs PyTorch — {summary['device']}",
        "",
        f"{summary['date']}. Preset {args.preset}, B={args.batch}, T={args.seq}, median of {args.steps} steps after "
        f"{args.warmup_steps} warm-up (CUDA events on cuda, perf_counter on cpu; ours: wall clock with a device "
        f"synchronisation per step).",
        f"PyTorch model: {summary['pytorch_model']}; torch {summary['torch']}; optimizer: "
        f"{ok[0]['optimizer'] if ok else '–'}.",
        f"MFU = tokens/s × {flops / 1e6:.1f} MFLOP/token (3 × {forward / 1e6:.1f} MFLOP forward, from the config) ÷ "
        f"{args.peak_tflops:g} TFLOP/s (the peak given; bf16 dense by default, also for fp32/tf32 rows).",
        "",
        table(rows, flops, args.peak_tflops),
        "",
        "× PyTorch eager: tokens/s over PyTorch eager's at the same precision.",
    ]
    for p, x in by_precision.items():
        lines.append(f"**ours ({p}) / PyTorch eager: {x:.2f}×**")
    for r in ok:
        lines.append(f"- pytorch {r['mode']} {r['precision']}: loss {r['loss_first']:.3f} → {r['loss_last']:.3f}, "
                     f"first step {r['first_step_s']:.1f} s, wall mean {r['step_ms_wall_mean']:.2f} ms/step")
    if "error" not in ours:
        lines.append(f"- ours: {ours.get('ours_device')}")
        for r in ours_rows:
            if r.get("step_profile"):
                sp = r["step_profile"]
                lines.append(f"- ours {r['precision']} {r['mode']}, one step: {sp['kernel_launches']} kernel launches, {sp['cublas_calls']} cuBLAS calls, "
                             f"{sp['host_syncs']} host syncs; modelled H100 time {sp['modelled_h100_ms']} ms against "
                             f"{r['step_ms_median']:.2f} ms measured")
        if ours.get("phases"):
            lines += ["", "Ours, one step by phase (median ms, a device synchronisation after each phase):", "",
                      "| phase | ms |", "|---|---|"]
            lines += [f"| {k} | {v:.3f} |" for k, v in sorted(ours["phases"].items(), key=lambda kv: -kv[1])]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "compare-pytorch.md"), "w") as f:
            f.write(text)
        with open(os.path.join(args.out, "compare-pytorch.json"), "w") as f:
            json.dump(summary, f, indent=2)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
