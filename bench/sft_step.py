#!/usr/bin/python3
"""sft_step.py -- PyTorch's time for the SFT step bench/sft_step.c times.

The same model (tests/golden/make_golden.py's forward, written from
ml/model.h), the same sizes and batch layout, forward + backward of the
summed loss, no optimizer; threads set with torch.set_num_threads.  It
computes the logits at every position, as the golden reference does; the C
side computes them only at positions with a target (see bench/sft_step.sh).

    /usr/bin/python3 bench/sft_step.py THREADS [B T ITERS V]

Prints one key=value line like the C driver's.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import make_golden  # noqa: E402


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    B, T, iters, V = (int(a) for a in (sys.argv[2:6] + ["16", "160", "10", "2000"][len(sys.argv[2:6]):]))
    torch.set_num_threads(threads)
    cfg = dict(vocab=V, max_seq=max(160, T), channels=64, layers=2, heads=4, mlp_ratio=4,
               n_frames=8, frame_pixels=1024, audio_tokens=30, audio_window=10, n_mel=40)
    gen = torch.Generator().manual_seed(1)
    P = {k: x.requires_grad_(True) for k, x in make_golden.init_params(cfg, gen).items()}
    F, NA = cfg["n_frames"], cfg["audio_tokens"]
    media, prefix = F + NA, F + NA + 24 + 1
    frames = torch.rand((B, F, cfg["frame_pixels"]), generator=gen)
    mel = torch.rand((B, NA * cfg["audio_window"], cfg["n_mel"]), generator=gen) * -8
    tokens = torch.randint(3, V, (B, T), generator=gen, dtype=torch.int32)
    tokens[:, :media] = 0
    tokens[:, prefix - 1] = 1
    types = torch.full((B, T), 3, dtype=torch.int32)
    types[:, :F] = 0
    types[:, F:media] = 1
    types[:, media:prefix - 1] = 2
    targets = torch.full((B, T), -1, dtype=torch.int32)
    targets[:, prefix - 1:T - 1] = tokens[:, prefix:T]

    def step():
        for p in P.values():
            p.grad = None
        _, loss = make_golden.forward(cfg, P, frames, mel, tokens, types, targets)
        loss.backward()
        return loss

    step()  # warm-up
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    ntok = int((targets >= 0).sum())
    nparams = sum(p.numel() for p in P.values())
    print(f"impl=torch-{torch.__version__} B={B} T={T} V={V} params={nparams} "
          f"tokens_per_s={B * T / mean:.0f} ms_per_step={mean * 1e3:.2f} "
          f"best_ms={min(times) * 1e3:.2f} loss_per_token={loss.item() / ntok:.4f} "
          f"threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
