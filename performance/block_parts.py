"""Where the embedding's time goes: each part of a transformer block, timed.

Runs the published foundation configuration (random weights) on 64
vocabulary channels x 4 s at 200 Hz, batch 8, float32, plain inference (the
path of ``NeuroRVQEmbedder``), with every block's in-place inference step
(``Block.forward_``) replaced by a copy of its operations with a clock
between them. The copy is checked against ``Block.forward_`` first: the
script refuses to time it unless both give bit-identical outputs.

For each part it prints the time per batch, the share of the embedding's
time, and, for the parts that do floating-point work worth counting (the
four matrix products and attention), GFLOP/s and the share of the
matrix-multiply peak measured in the same run (``speed.matmul_peak``).

Usage::

    python performance/block_parts.py            # 5 timed batches
    python performance/block_parts.py --repeats 10 --threads 2
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from speed import matmul_peak  # noqa: E402

N_CHANS, SECONDS, BATCH = 64, 4, 8


class PartClock:
    """Accumulates the time between successive ``lap`` calls under names."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)
        self.flops = collections.defaultdict(float)
        self._last = time.perf_counter()

    def start(self):
        self._last = time.perf_counter()

    def lap(self, name, flops=0.0):
        now = time.perf_counter()
        self.seconds[name] += now - self._last
        self.flops[name] += flops
        self._last = now

    def reset(self):
        self.seconds.clear()
        self.flops.clear()


def timed_block_step(block, x, clock):
    """``Block.forward_`` (plain inference, in place), one clock lap per part."""
    attn = block.attn
    batch, n_tokens, dim = x.shape
    rows = batch * n_tokens
    hidden = block.mlp.fc1.out_features
    clock.start()
    normed = block.norm1(x)
    clock.lap("norm1")
    bias = torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))
    qkv = F.linear(normed, attn.qkv.weight, bias)
    clock.lap("qkv product", 2 * rows * dim * 3 * dim)
    qkv = qkv.reshape(batch, n_tokens, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.unbind(2)
    q, k = attn.q_norm(q), attn.k_norm(k)
    clock.lap("q/k norms")
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2),
        k.transpose(1, 2),
        v.transpose(1, 2),
        scale=attn.head_dim**-0.5,
    )
    clock.lap("attention (SDPA)", 4 * batch * n_tokens * n_tokens * dim)
    out = attn.proj(out.transpose(1, 2).reshape(batch, n_tokens, dim))
    clock.lap("proj product", 2 * rows * dim * dim)
    if block.gamma_1 is not None:
        out.mul_(block.gamma_1)
    x.add_(out)
    clock.lap("layer scale + residual")
    normed = block.norm2(x)
    clock.lap("norm2")
    hidden_values = block.mlp.fc1(normed)
    clock.lap("fc1 product", 2 * rows * dim * hidden)
    torch.ops.aten.gelu_(hidden_values)
    clock.lap("GELU")
    out = block.mlp.fc2(hidden_values)
    clock.lap("fc2 product", 2 * rows * hidden * dim)
    if block.gamma_2 is not None:
        out.mul_(block.gamma_2)
    x.add_(out)
    clock.lap("layer scale + residual")
    return x


def check_copy(model, x_shape):
    """Refuse to time a copy that differs from ``Block.forward_``."""
    block = model.blocks[0]
    x = torch.randn(x_shape, generator=torch.Generator().manual_seed(0))
    expected = block.forward_(x.clone())
    got = timed_block_step(block, x.clone(), PartClock())
    if not torch.equal(expected, got):
        raise SystemExit(
            "The timed copy of Block.forward_ no longer computes the same "
            "values; update timed_block_step before timing."
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from mne_neurorvq.nn import NeuroRVQFoundation, transformer
    from mne_neurorvq.nn._tuning import chosen_settings, cpu_description

    model = NeuroRVQFoundation(pretraining=False)
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    x = 20 * torch.randn(
        BATCH, N_CHANS, SECONDS * 200, generator=torch.Generator().manual_seed(1)
    )
    chans = torch.arange(N_CHANS)
    peak = matmul_peak("cpu", "fp32")
    clock = PartClock()
    original = transformer.Block.forward_
    with torch.inference_mode():
        model.embed(x, chans)  # warm-up: measures the CPU tuning on first use
        check_copy(model, (8, N_CHANS * SECONDS + 1, model.config.embed_dim))
        transformer.Block.forward_ = lambda block, h: timed_block_step(block, h, clock)
        try:
            model.embed(x, chans)
            clock.reset()
            start = time.perf_counter()
            for _ in range(args.repeats):
                model.embed(x, chans)
            total = (time.perf_counter() - start) / args.repeats
        finally:
            transformer.Block.forward_ = original
    cpu = cpu_description()
    isa = " ".join(name for name, present in cpu["isa"].items() if present)
    tuning = ", ".join(
        f"{setting.split(' | ')[0]}={value.split()[0]}"
        for setting, value in chosen_settings().items()
    )
    print(f"cpu: {cpu['model']} | isa: {isa} | threads: {args.threads}")
    print(f"fp32 matmul peak: {peak:.0f} GFLOP/s | tuning: {tuning}")
    print(
        f"embed {BATCH} x {N_CHANS} ch x {SECONDS} s: {total:.3f} s per batch "
        f"({BATCH / total:.2f} epochs/s), mean of {args.repeats} batches"
    )
    header = f"{'part':<24} {'ms/batch':>9} {'share':>6} {'GFLOP/s':>8} {'of peak':>8}"
    print(header)
    print("-" * len(header))
    in_blocks = 0.0
    for name, seconds in clock.seconds.items():
        seconds /= args.repeats
        in_blocks += seconds
        flops = clock.flops[name] / args.repeats
        gflops = flops / seconds / 1e9
        rate = f"{gflops:8.0f} {100 * gflops / peak:7.0f}%"
        print(
            f"{name:<24} {1e3 * seconds:9.1f} {100 * seconds / total:5.1f}% "
            + (rate if flops else "")
        )
    rest = total - in_blocks
    print(f"{'outside the blocks':<24} {1e3 * rest:9.1f} {100 * rest / total:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
