#!/usr/bin/python3
"""generate.py -- PyTorch's generation tokens/s beside bench/generate.c's.

The same model as bench/generate.c at the same sizes (C=64, L=2, NH=4,
mlp_ratio 4, V=2000, max_seq 160; 8 frames of 32x32 pixels, 30 audio tokens
of 10 x 40 log-mel), one clip's prefix of 63 positions (8 visual, 30 audio,
24 subtitle words, <bos>), then up to 97 new tokens, two ways:

  cached    the straightforward KV cache: per layer K and V tensors of shape
            (1, NH, t, head_dim), grown with torch.cat; the prefix in one
            forward, then one token per step;
  uncached  the full forward over the whole sequence at every step, with the
            logits of every position (as model_generate's uncached path and
            tests/golden/make_golden.py's forward compute them).

The parameter shapes and the architecture are tests/golden/make_golden.py's
(imported: param_shapes, and forward as the check); the blocks are written
out again here only because a cache needs the keys and values of each layer,
which make_golden.forward does not return.  Before timing, the uncached
forward's logits are checked against make_golden.forward on the same
sequence, and the cached tokens against the uncached ones.

Parameters are random with model_new's distributions times 10 (as
bench/generate.c scales its own), float32, under torch.no_grad(); threads
from torch.set_num_threads.  Decoding: top_k 1 is greedy (torch.argmax, the
lowest id on ties, like sample_pick); top_k > 1 samples at temperature 1
from the top_k largest logits (torch.topk, softmax, torch.multinomial).  No
eos.  The time of one generation includes the prefix's forward; tokens/s is
the new tokens over the best of REPS timings after one warm-up of each kind.

    /usr/bin/python3 bench/generate.py THREADS [NEW REPS V TOPK]   defaults 1 97 3 2000 1

Prints one key=value line like the C driver's.
"""
import math
import os
import sys
import time

import torch
import torch.nn.functional as Fn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import make_golden  # noqa: E402

PREFIX = 8 + 30 + 24 + 1


def make_params(cfg, gen):
    """model_new's init (ml/model.c params_init) times 10."""
    return {k: (10.0 * x).contiguous() for k, x in make_golden.init_params(cfg, gen).items()}


def embed(cfg, P, frames, mel, tokens, types):
    """x_t = token_t + wpe[t] + wtype[type_t] for the whole sequence (make_golden.forward's)."""
    F, NA = cfg["n_frames"], cfg["audio_tokens"]
    Bn, Tn = tokens.shape
    vis = frames @ P["wvis"].T + P["bvis"]
    aud = mel.reshape(Bn, NA, -1) @ P["waud"].T + P["baud"]
    words = P["wte"][tokens.long()]
    tok = torch.cat([vis, aud, words[:, F + NA:]], dim=1)[:, :Tn]
    return tok + P["wpe"][:Tn] + P["wtype"][types.long()]


def blocks(cfg, P, x, cache=None):
    """The L blocks and the final LayerNorm (make_golden.forward's) on x (1, n, C),
    the positions after the cache's.  cache: None (x is the whole sequence) or a
    list of per-layer (K, V) that is extended in place."""
    C, L, NH = cfg["channels"], cfg["layers"], cfg["heads"]
    hs = C // NH
    Bn, n, _ = x.shape
    for l in range(L):
        h = Fn.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l], eps=1e-5)
        qkv = h @ P["qkvw"][l].T + P["qkvb"][l]
        q, k, v = (z.view(Bn, n, NH, hs).transpose(1, 2) for z in qkv.split(C, dim=-1))
        if cache is not None:
            if len(cache) > l:
                k = torch.cat([cache[l][0], k], dim=2)
                v = torch.cat([cache[l][1], v], dim=2)
                cache[l] = (k, v)
            else:
                cache.append((k, v))
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        if n > 1:  # causal; a single new position sees every cached one
            t = k.shape[2]
            mask = torch.ones(n, t, dtype=torch.bool).tril(diagonal=t - n)
            s = s.masked_fill(~mask, float("-inf"))
        y = (s.softmax(dim=-1) @ v).transpose(1, 2).reshape(Bn, n, C)
        x = x + (y @ P["attprojw"][l].T + P["attprojb"][l])
        h = Fn.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l], eps=1e-5)
        h = Fn.gelu(h @ P["fcw"][l].T + P["fcb"][l], approximate="tanh")
        x = x + (h @ P["fcprojw"][l].T + P["fcprojb"][l])
    return Fn.layer_norm(x, (C,), P["lnfw"], P["lnfb"], eps=1e-5)


def pick(logits, top_k, gen):
    if top_k <= 1:
        return int(torch.argmax(logits))
    vals, idx = torch.topk(logits, top_k)
    return int(idx[torch.multinomial(vals.softmax(dim=-1), 1, generator=gen)])


def generate_uncached(cfg, P, frames, mel, tokens, types, want, top_k, seed):
    gen = torch.Generator().manual_seed(seed)
    limit = min(want, cfg["max_seq"] - tokens.shape[1])
    tokens, types, out = tokens.clone(), types.clone(), []
    while True:
        h = blocks(cfg, P, embed(cfg, P, frames, mel, tokens, types))
        logits = h @ P["wte"].T  # every position, as the uncached C path
        out.append(pick(logits[0, -1], top_k, gen))
        if len(out) == limit:
            return out
        tokens = torch.cat([tokens, torch.tensor([[out[-1]]], dtype=tokens.dtype)], dim=1)
        types = torch.cat([types, torch.tensor([[3]], dtype=types.dtype)], dim=1)


def generate_cached(cfg, P, frames, mel, tokens, types, want, top_k, seed):
    gen = torch.Generator().manual_seed(seed)
    T0 = tokens.shape[1]
    limit = min(want, cfg["max_seq"] - T0)
    cache, out = [], []
    h = blocks(cfg, P, embed(cfg, P, frames, mel, tokens, types), cache)
    while True:
        out.append(pick(h[0, -1] @ P["wte"].T, top_k, gen))
        if len(out) == limit:
            return out
        t = T0 + len(out) - 1
        x = (P["wte"][out[-1]] + P["wpe"][t] + P["wtype"][3]).view(1, 1, -1)
        h = blocks(cfg, P, x, cache)


def main():
    args = [int(a) for a in sys.argv[1:]]
    threads, want, reps, V, top_k = args + [1, 97, 3, 2000, 1][len(args):]
    if threads < 1 or want < 1 or reps < 1 or V < 8:
        sys.exit("usage: generate.py THREADS [NEW REPS V TOPK]")
    torch.set_num_threads(threads)
    cfg = dict(vocab=V, max_seq=160, channels=64, layers=2, heads=4, mlp_ratio=4,
               n_frames=8, frame_pixels=1024, audio_tokens=30, audio_window=10, n_mel=40)
    F, NA = cfg["n_frames"], cfg["audio_tokens"]
    gen = torch.Generator().manual_seed(3)
    P = make_params(cfg, gen)
    frames = torch.rand((1, F, cfg["frame_pixels"]), generator=gen)
    mel = torch.rand((1, NA * cfg["audio_window"], cfg["n_mel"]), generator=gen) * -8
    tokens = torch.randint(3, V, (1, PREFIX), generator=gen, dtype=torch.int32)
    tokens[:, :F + NA] = 0
    tokens[:, PREFIX - 1] = 1
    types = torch.full((1, PREFIX), 2, dtype=torch.int32)
    types[:, :F] = 0
    types[:, F:F + NA] = 1
    types[:, PREFIX - 1] = 3

    with torch.no_grad():
        # the blocks written out here compute make_golden.forward's function
        targets = torch.full((1, PREFIX), -1, dtype=torch.int32)
        ref, _ = make_golden.forward(cfg, P, frames, mel, tokens, types, targets)
        ours = blocks(cfg, P, embed(cfg, P, frames, mel, tokens, types)) @ P["wte"].T
        ref_diff = float((ours - ref).abs().max() / ref.abs().max())
        if ref_diff > 1e-5:
            sys.exit(f"generate.py: logits differ from make_golden.forward by {ref_diff:.2e}")
        runs = {"cached": generate_cached, "uncached": generate_uncached}
        best, made = {}, {}
        for name, fn in runs.items():  # warm-up
            fn(cfg, P, frames, mel, tokens, types, want, top_k, 11)
        for _ in range(reps):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                made[name] = fn(cfg, P, frames, mel, tokens, types, want, top_k, 11)
                dt = time.perf_counter() - t0
                best[name] = min(dt, best.get(name, dt))
    n = len(made["cached"])
    same = made["cached"] == made["uncached"]
    print(f"impl=torch-{torch.__version__} prefix={PREFIX} new={n} "
          f"distinct={len(set(made['cached']))} top_k={top_k} "
          f"cached_tokens_per_s={n / best['cached']:.0f} "
          f"uncached_tokens_per_s={len(made['uncached']) / best['uncached']:.0f} "
          f"speedup={best['uncached'] / best['cached']:.1f} same_tokens={'yes' if same else 'NO'} "
          f"ref_rel_diff={ref_diff:.1e} threads={torch.get_num_threads()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
