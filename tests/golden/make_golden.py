#!/usr/bin/python3
"""make_golden.py -- the PyTorch reference of ml/model.h's model, dumped as a fixture.

Builds the model that ml/model.h describes, written here from that
description (not from the C): visual tokens wvis @ frame + bvis, audio tokens
waud @ (W consecutive log-mel frames) + baud, word tokens wte[id], plus wpe[t]
and wtype[type]; L pre-LayerNorm blocks of causal multi-head attention (scale
1/sqrt(head_dim)) and a GELU (tanh) MLP; a final LayerNorm; logits tied to
wte; the loss the SUM of cross-entropy over positions whose target >= 0.
It draws random parameters (torch seed 1234, larger than the real init so
that every gradient is well away from zero) and a fixed batch of B=2
sequences of T=24 positions with targets -1 inside the explanation and
trailing padding, runs forward and backward in float32, and writes
tests/golden/small.bin for tests/unit/test_model_golden.c.

Regenerate (needs PyTorch; Debian's python3-torch 1.13 is enough):

    /usr/bin/python3 tests/golden/make_golden.py [OUTPUT]   # default tests/golden/small.bin

The fixture is committed so that CI needs no PyTorch.  Regenerating it with
another PyTorch build may change the last bits, never more than the C test's
tolerance.

Format (little-endian):
    8 bytes   magic "MIGRGOLD"
    u32       version (1)
    u32       number of arrays
    then each array:
    u32       name length, then the name's bytes (no NUL)
    u32       dtype: 0 float32, 1 int32
    u64       element count
    count elements
Arrays: cfg.vocab cfg.max_seq cfg.channels cfg.layers cfg.heads cfg.mlp_ratio
cfg.n_frames cfg.frame_pixels cfg.audio_tokens cfg.audio_window cfg.n_mel B T
(int32, one each); frames (B,F,F_PIX) mel (B,NA*W,n_mel) float32; tokens types
targets (B,T) int32; param.<name> for the 21 parameters in model.h's order;
logits (B,T,V); loss (1); grad.<name> for the 21 parameters.
"""
import math
import os
import struct
import sys

import torch
import torch.nn.functional as Fn

CFG = dict(vocab=40, max_seq=32, channels=16, layers=2, heads=2, mlp_ratio=4, n_frames=3,
           frame_pixels=16, audio_tokens=3, audio_window=2, n_mel=4)
B, T = 2, 24
PARAM_NAMES = ["wte", "wpe", "wtype", "wvis", "bvis", "waud", "baud", "ln1w", "ln1b", "qkvw",
               "qkvb", "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw",
               "fcprojb", "lnfw", "lnfb"]


def param_shapes(c):
    V, maxT, C, L = c["vocab"], c["max_seq"], c["channels"], c["layers"]
    RC, FPIX, AIN = c["mlp_ratio"] * C, c["frame_pixels"], c["audio_window"] * c["n_mel"]
    return dict(wte=(V, C), wpe=(maxT, C), wtype=(4, C), wvis=(C, FPIX), bvis=(C,),
                waud=(C, AIN), baud=(C,), ln1w=(L, C), ln1b=(L, C), qkvw=(L, 3 * C, C),
                qkvb=(L, 3 * C), attprojw=(L, C, C), attprojb=(L, C), ln2w=(L, C), ln2b=(L, C),
                fcw=(L, RC, C), fcb=(L, RC), fcprojw=(L, C, RC), fcprojb=(L, C), lnfw=(C,),
                lnfb=(C,))


def random_params(c, gen):
    P = {}
    for name, shape in param_shapes(c).items():
        if name in ("ln1w", "ln2w", "lnfw"):
            x = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name in ("wte", "wpe", "wtype"):
            x = 0.3 * torch.randn(shape, generator=gen)
        elif len(shape) == 1 or name.endswith("b"):
            x = 0.1 * torch.randn(shape, generator=gen)
        else:
            x = 0.15 * torch.randn(shape, generator=gen)
        P[name] = x.float().requires_grad_(True)
    return P


def init_params(c, gen):
    """model_new's initialization (ml/model.c params_init): LayerNorm gains 1,
    biases 0, weights N(0, 0.02), the two projections into the residual
    stream N(0, 0.02 / sqrt(2 L)); for the benchmarks, which want the
    model's own distributions rather than the golden test's."""
    P, L = {}, c["layers"]
    for name, shape in param_shapes(c).items():
        if name in ("ln1w", "ln2w", "lnfw"):
            x = torch.ones(shape)
        elif len(shape) == 1 or name.endswith("b"):
            x = torch.zeros(shape)
        else:
            std = 0.02 / math.sqrt(2 * L) if name in ("attprojw", "fcprojw") else 0.02
            x = std * torch.randn(shape, generator=gen)
        P[name] = x.float()
    return P


def make_batch(c, gen):
    F, NA, W, M = c["n_frames"], c["audio_tokens"], c["audio_window"], c["n_mel"]
    V, media = c["vocab"], c["n_frames"] + c["audio_tokens"]
    frames = torch.rand((B, F, c["frame_pixels"]), generator=gen)
    mel = torch.randn((B, NA * W, M), generator=gen) - 2.0
    mel[1, NA * W - 3:] = 0.0  # the second clip's audio ends early
    tokens = torch.zeros((B, T), dtype=torch.int32)
    types = torch.full((B, T), 3, dtype=torch.int32)
    targets = torch.full((B, T), -1, dtype=torch.int32)
    # (subtitle words, explanation words before <eos>): <bos>=1, <eos>=2, pad=0
    layout = [(3, 11), (2, 8)]
    for b, (nsub, nexp) in enumerate(layout):
        types[b, :F] = 0
        types[b, F:media] = 1
        t = media
        for _ in range(nsub):
            tokens[b, t] = int(torch.randint(3, V, (1,), generator=gen))
            types[b, t] = 2
            t += 1
        bos = t
        tokens[b, bos] = 1
        for i in range(nexp):
            tokens[b, bos + 1 + i] = int(torch.randint(3, V, (1,), generator=gen))
        eos = bos + 1 + nexp
        tokens[b, eos] = 2
        for p in range(bos, eos):
            targets[b, p] = tokens[b, p + 1]
        targets[b, bos + 3] = -1  # a position without loss inside the explanation
    return frames, mel, tokens, types, targets


def forward(c, P, frames, mel, tokens, types, targets):
    F, NA, C, L, NH = c["n_frames"], c["audio_tokens"], c["channels"], c["layers"], c["heads"]
    hs = C // NH
    Bn, Tn = tokens.shape
    vis = frames @ P["wvis"].T + P["bvis"]
    aud = mel.reshape(Bn, NA, -1) @ P["waud"].T + P["baud"]
    words = P["wte"][tokens.long()]
    tok = torch.cat([vis, aud, words[:, F + NA:]], dim=1)[:, :Tn]
    x = tok + P["wpe"][:Tn] + P["wtype"][types.long()]
    mask = torch.ones(Tn, Tn, dtype=torch.bool).tril()
    for l in range(L):
        h = Fn.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l], eps=1e-5)
        qkv = h @ P["qkvw"][l].T + P["qkvb"][l]
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (z.view(Bn, Tn, NH, hs).transpose(1, 2) for z in (q, k, v))
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        s = s.masked_fill(~mask, float("-inf"))
        y = (s.softmax(dim=-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + (y @ P["attprojw"][l].T + P["attprojb"][l])
        h = Fn.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l], eps=1e-5)
        h = Fn.gelu(h @ P["fcw"][l].T + P["fcb"][l], approximate="tanh")
        x = x + (h @ P["fcprojw"][l].T + P["fcprojb"][l])
    x = Fn.layer_norm(x, (C,), P["lnfw"], P["lnfb"], eps=1e-5)
    logits = x @ P["wte"].T
    loss = Fn.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1).long(),
                            ignore_index=-1, reduction="sum")
    return logits, loss


def write_fixture(path, arrays):
    out = bytearray(b"MIGRGOLD")
    out += struct.pack("<II", 1, len(arrays))
    for name, t in arrays:
        t = t.detach().contiguous().reshape(-1)
        if t.dtype == torch.float32:
            dtype, fmt = 0, "f"
        elif t.dtype == torch.int32:
            dtype, fmt = 1, "i"
        else:
            raise TypeError(f"{name}: {t.dtype}")
        raw = name.encode()
        out += struct.pack("<I", len(raw)) + raw + struct.pack("<IQ", dtype, t.numel())
        out += struct.pack(f"<{t.numel()}{fmt}", *t.tolist())
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, path)
    return len(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "small.bin")
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1234)
    P = random_params(CFG, gen)
    frames, mel, tokens, types, targets = make_batch(CFG, gen)
    logits, loss = forward(CFG, P, frames, mel, tokens, types, targets)
    loss.backward()

    arrays = [("cfg." + k, torch.tensor([v], dtype=torch.int32)) for k, v in CFG.items()]
    arrays += [("B", torch.tensor([B], dtype=torch.int32)), ("T", torch.tensor([T], dtype=torch.int32))]
    arrays += [("frames", frames), ("mel", mel), ("tokens", tokens), ("types", types),
               ("targets", targets)]
    arrays += [("param." + n, P[n]) for n in PARAM_NAMES]
    arrays += [("logits", logits), ("loss", loss.reshape(1))]
    arrays += [("grad." + n, P[n].grad) for n in PARAM_NAMES]
    size = write_fixture(path, arrays)
    ntok = int((targets >= 0).sum())
    print(f"{path}: {size} bytes, loss {loss.item():.6f} over {ntok} tokens")


if __name__ == "__main__":
    main()
