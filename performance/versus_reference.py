"""Our models against a reference-style baseline: same run, same input, same threads.

The baseline (``reference_style.py``) is a plain eager implementation of the
published model written from the spec in the way the authors' LaBraM-derived
code is organised (explicit attention, the full code-distance matrix per
level, no chunking); it is NOT the authors' code. The script:

1. checks that the baseline is faithful: on the reference-parity fixture
   (``--fixture``) its tokens equal the reference's (near ties exempt) and its
   patch embeddings, encoder features, code-space maps, quantised sums and
   embeddings are within the fixture README's tolerances (the comparison
   helpers of ``mne_neurorvq.parity``). It refuses to time a baseline that
   fails;
2. builds the published (default) configuration with random weights, saved
   and loaded as users load the published files (the helpers of ``speed.py``),
   and loads the SAME files into the baseline;
3. times, in this process, on the same input (64 vocabulary channels x 4 s at
   200 Hz, batch 8) and with the same threads, our ``tokenize`` and ``embed``
   against the baseline's, interleaved (ours, baseline, ours, baseline, ...),
   and reports medians: tokenize fp32, embed fp32 and embed bf16 (autocast).
   bf16 is timed by default only on CPUs with native bf16 (``avx512_bf16`` or
   ``amx_bf16`` in /proc/cpuinfo), the only ones where its ratio means
   something (``--bf16 yes`` forces it); the output says which this CPU is.

Usage::

    python performance/versus_reference.py            # 10 interleaved repeats
    python performance/versus_reference.py --quick    # 3 repeats
    python performance/versus_reference.py --profile  # + top ops of our embed fp32
    python performance/versus_reference.py --bf16 yes # bf16 without native bf16

Writes ``performance/results/versus_reference.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reference_style import ReferenceFoundation, ReferenceTokenizer  # noqa: E402
from speed import (  # noqa: E402
    _cpu_sdpa_formulas,
    _hardware,
    _write_checkpoints,
    matmul_peak,
)

DEFAULT_FIXTURE = HERE.parents[1] / "shared" / "fixtures" / "upstream-parity"
N_CHANS, SECONDS, BATCH = 64, 4, 8
#: Same-run targets of issue 15, item 4 (ours / baseline; bf16: ours / ours fp32).
TARGETS = {"tokenize fp32": 4.0, "embed fp32": 1.5, "embed bf16 vs fp32": 2.0}
#: Aten ops whose self time is matrix-multiply, convolution or attention kernels:
#: name prefixes, and substrings.
MATMUL_PREFIXES = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear")
MATMUL_PARTS = ("conv", "scaled_dot_product", "mkldnn")


# ---------------------------------------------------------------- faithfulness


def faithfulness(fixture=DEFAULT_FIXTURE):
    """Compare the baseline with the reference tensors of the parity fixture.

    Returns the list of :class:`mne_neurorvq.parity.Comparison`.
    """
    from mne_neurorvq.parity import _compare_tokens, compare_output

    fixture = Path(fixture)
    tokenizer = ReferenceTokenizer.from_state_dict(fixture / "tokenizer_state_dict.pt")
    foundation = ReferenceFoundation.from_state_dict(
        fixture / "foundation_model_state_dict.pt"
    )
    cases = torch.load(fixture / "cases.pt", weights_only=True, map_location="cpu")
    results = []
    for case in cases:
        name, expected, max_abs = case["name"], case["expected"], case["max_abs"]
        x, chan_idx = case["x"].float(), case["chan_vocab_idx"]
        with torch.inference_mode():
            flat = x.reshape(x.shape[0], -1, tokenizer.config.patch_size)
            features, maps = tokenizer.encode(x, chan_idx)
            got = {
                "patch_embed": torch.stack(tokenizer.encoder.patch_embed(flat)),
                "encoder_features": torch.stack(features),
                "encode_task_out": torch.stack(
                    [m.permute(0, 2, 3, 1).flatten(1, 2) for m in maps]
                ),
                "quantized": torch.stack([q for q, _ in tokenizer.quantize(maps)]),
                "fm_pooled_prenorm": foundation.pooled(x, chan_idx),
                "fm_embedding": foundation.embed(x, chan_idx),
            }
            tokens = tokenizer.tokenize(x, chan_idx)
        for key, value in got.items():
            results.append(
                compare_output(name, key, value, expected[key], max_abs.get(key, 1.0))
            )
        results.append(
            _compare_tokens(
                name,
                "tokens",
                tokens,
                expected["tokens"],
                expected["code_distance_gap"],
            )
        )
    return results


# ---------------------------------------------------------------------- models


def _models(folder):
    """Ours (loaded as users load the published files) and the baseline."""
    from mne_neurorvq.nn.checkpoints import load_foundation, load_tokenizer

    folder = Path(folder)
    return {
        "ours": (
            load_tokenizer(folder / "tokenizer.pt"),
            load_foundation(folder / "foundation.pt"),
        ),
        "baseline": (
            ReferenceTokenizer.from_state_dict(folder / "tokenizer.pt"),
            ReferenceFoundation.from_state_dict(folder / "foundation.pt"),
        ),
    }


def _task(models, task, precision, x, chans):
    """A no-argument callable per implementation for one task and precision."""

    def bind(tokenizer, foundation):
        model = tokenizer if task == "tokenize" else foundation
        method = getattr(model, task)

        def run():
            with (
                torch.inference_mode(),
                torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"),
            ):
                return method(x, chans)

        return run

    return {name: bind(*pair) for name, pair in models.items()}


def _input():
    """Batch of random EEG-like input (20 uV standard deviation), as speed.py."""
    generator = torch.Generator().manual_seed(1)
    return 20 * torch.randn(BATCH, N_CHANS, SECONDS * 200, generator=generator)


def _agreement(models, x, chans):
    """Ours against the baseline on the timed input (published configuration)."""
    (tok, fm), (ref_tok, ref_fm) = models["ours"], models["baseline"]
    with torch.inference_mode():
        ours = tok.tokenize(x, chans)  # (B, N, A, S, L)
        ref = ref_tok.tokenize(x, chans)  # (S, L, B, N*A)
        ours = ours.flatten(1, 2).permute(2, 3, 0, 1)
        emb, ref_emb = fm.embed(x, chans), ref_fm.embed(x, chans)
    return {
        "identical_tokens": float((ours == ref).double().mean()),
        "embedding_max_abs_diff": float((emb - ref_emb).abs().max()),
        "embedding_max_abs": float(ref_emb.abs().max()),
    }


# ---------------------------------------------------------------------- timing


def interleaved(runs, repeats):
    """Seconds per call of each callable, called in turn (A, B, A, B, ...)."""
    for run in runs.values():  # warm-up
        run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return times


def flops_per_epoch(run_one):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_cpu_sdpa_formulas()) as c:
        run_one()
    return c.get_total_flops()


def _is_matmul(op_name):
    name = op_name.removeprefix("aten::")
    return name.startswith(MATMUL_PREFIXES) or any(p in name for p in MATMUL_PARTS)


def profile_embed(models, x, chans, repeats=3, rows=15):
    """Top ops of our fp32 embedding, and the share of matrix-multiply kernels."""
    from torch.profiler import ProfilerActivity, profile

    run = _task(models, "embed", "fp32", x, chans)["ours"]
    run()
    with profile(
        activities=[ProfilerActivity.CPU], record_shapes=True, acc_events=True
    ) as prof:
        for _ in range(repeats):
            run()
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=rows))
    # where the non-matmul time goes, by input shape (copies, norms, ...)
    by_shape = prof.key_averages(group_by_input_shape=True)
    print(by_shape.table(sort_by="self_cpu_time_total", row_limit=rows))
    total = sum(e.self_cpu_time_total for e in events)
    ops = sorted(
        (
            {
                "op": e.key,
                "self_ms_per_batch": e.self_cpu_time_total / 1e3 / repeats,
                "share": e.self_cpu_time_total / total,
                "calls_per_batch": e.count / repeats,
            }
            for e in events
        ),
        key=lambda op: -op["share"],
    )
    matmul = sum(op["share"] for op in ops if _is_matmul(op["op"]))
    print(
        "self CPU time in matrix-multiply / convolution / attention kernels: "
        f"{100 * matmul:.0f} %; the rest (top 5):"
    )
    rest = [op for op in ops if not _is_matmul(op["op"])]
    for op in rest[:5]:
        print(
            f"  {op['op']:<45} {100 * op['share']:5.1f} %  "
            f"{op['self_ms_per_batch']:7.2f} ms/batch"
        )
    return {"matmul_share": matmul, "ops": ops[:40]}


# ---------------------------------------------------------------------- driver


def _isa():
    from mne_neurorvq.nn._tuning import cpu_description

    cpu = cpu_description()
    return {
        "flags": [flag for flag, present in cpu["isa"].items() if present],
        "native_bf16": cpu["native_bf16"],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def _print_gate(results):
    from mne_neurorvq.parity import print_report

    print("Faithfulness of the baseline to the reference fixture:")
    print_report(results)
    return all(r.ok for r in results)


def _measure(models, x, chans, repeats, peaks, bf16):
    rows = []
    pairs = [("tokenize", "fp32"), ("embed", "fp32")] + [("embed", "bf16")] * bf16
    for task, precision in pairs:
        runs = _task(models, task, precision, x, chans)
        times = interleaved(runs, repeats)
        flops = flops_per_epoch(runs["ours"]) / BATCH
        row = {"task": task, "precision": precision, "gflop_per_epoch": flops / 1e9}
        for name, values in times.items():
            row[f"{name}_epochs_per_s"] = BATCH / statistics.median(values)
            row[f"{name}_seconds"] = values
            row[f"{name}_of_ceiling"] = (
                row[f"{name}_epochs_per_s"] * flops / (peaks[precision] * 1e9)
            )
        row["ratio"] = row["ours_epochs_per_s"] / row["baseline_epochs_per_s"]
        rows.append(row)
        print(
            f"{task:<9} {precision:<5} {row['ours_epochs_per_s']:>9.2f} "
            f"{row['baseline_epochs_per_s']:>9.2f} {row['ratio']:>6.2f}x "
            f"{flops / 1e9:>8.1f} {100 * row['ours_of_ceiling']:>6.0f}% "
            f"{100 * row['baseline_of_ceiling']:>6.0f}%",
            flush=True,
        )
    return rows


def _summary(rows, isa):
    by = {(r["task"], r["precision"]): r for r in rows}
    fp32, bf16 = by[("embed", "fp32")], by.get(("embed", "bf16"))
    measured = {
        "tokenize fp32": by[("tokenize", "fp32")]["ratio"],
        "embed fp32": fp32["ratio"],
    }
    if bf16 is not None:
        measured["embed bf16 vs fp32"] = (
            bf16["ours_epochs_per_s"] / fp32["ours_epochs_per_s"]
        )
    print("\ntargets (issue 15, item 4):")
    for key, target in TARGETS.items():
        if key not in measured:
            print(f"  {key:<20} not measured (bf16 skipped, see --bf16)")
            continue
        note = ""
        if key.startswith("embed bf16") and not isa["native_bf16"]:
            note = "  (not meaningful: this CPU has no native bf16)"
        verdict = "met" if measured[key] >= target else "NOT met"
        print(
            f"  {key:<20} {measured[key]:5.2f}x  target >= {target}x: {verdict}{note}"
        )
    if bf16 is not None:
        baseline = bf16["baseline_epochs_per_s"] / fp32["baseline_epochs_per_s"]
        print(f"  (baseline embed bf16 vs fp32: {baseline:.2f}x)")
    return {"measured": measured, "targets": TARGETS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="default 10")
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--profile", action="store_true", help="profile our embed")
    parser.add_argument(
        "--bf16",
        choices=("auto", "yes", "no"),
        default="auto",
        help="time embed in bf16 (auto: only on CPUs with native bf16, where "
        "emulated bf16 products are orders of magnitude slower)",
    )
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE))
    parser.add_argument(
        "--out", default=str(HERE / "results" / "versus_reference.json")
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 10)
    torch.set_num_threads(args.threads)
    import mne

    mne.set_log_level("WARNING")
    started = time.perf_counter()

    gate = faithfulness(args.fixture)
    if not _print_gate(gate):
        print("The baseline is not faithful to the reference: not timing it.")
        return 1

    hardware = _hardware(SimpleNamespace(threads=args.threads, device="cpu"))
    isa = _isa()
    bf16 = args.bf16 == "yes" or (args.bf16 == "auto" and isa["native_bf16"])
    peaks = {
        p: matmul_peak("cpu", p, budget=1.0 if args.quick else 3.0)
        for p in ("fp32", "bf16")[: 1 + bf16]
    }
    print("\n" + " | ".join(f"{k}: {v}" for k, v in hardware.items()))
    print(
        f"ISA: {' '.join(isa['flags'])} (torch CPU capability "
        f"{isa['torch_cpu_capability']}); native bf16: "
        f"{'yes' if isa['native_bf16'] else 'NO (bf16 ratios not meaningful)'}"
    )
    print(
        "matmul peak: "
        + ", ".join(f"{p} {value:.0f} GFLOP/s" for p, value in peaks.items())
        + ("" if bf16 else " (bf16 not timed: no native bf16; --bf16 yes forces it)")
    )
    cases = torch.load(
        Path(args.fixture) / "cases.pt", weights_only=True, map_location="cpu"
    )
    chans = next(c for c in cases if c["x"].shape[1] == N_CHANS)["chan_vocab_idx"]
    x = _input()
    with tempfile.TemporaryDirectory() as folder:
        _write_checkpoints(folder)
        models = _models(folder)
    agreement = _agreement(models, x, chans)
    print(
        f"published configuration, random weights, timed input: "
        f"{100 * agreement['identical_tokens']:.2f} % identical tokens, embedding "
        f"max |diff| {agreement['embedding_max_abs_diff']:.2e} "
        f"(max |value| {agreement['embedding_max_abs']:.2f})"
    )
    print(
        f"\n{N_CHANS} ch x {SECONDS} s, batch {BATCH}, {args.threads} threads, "
        f"median of {repeats} interleaved repeats"
    )
    header = (
        f"{'task':<9} {'prec':<5} {'ours ep/s':>9} {'base ep/s':>9} {'ratio':>7} "
        f"{'GFLOP/ep':>8} {'ours':>7} {'base':>7}"
    )
    print(header + "   (of ceiling)")
    print("-" * len(header))
    rows = _measure(models, x, chans, repeats, peaks, bf16)
    from mne_neurorvq.nn._tuning import chosen_settings

    tuning = chosen_settings()
    print("\nour CPU settings (setting | shape: value (source)):")
    for setting, value in sorted(tuning.items()):
        print(f"  {setting}: {value}")
    summary = _summary(rows, isa)
    profile = None
    if args.profile:
        print("\nProfile of our embed fp32 (batch 8):")
        profile = profile_embed(models, x, chans)
    elapsed = time.perf_counter() - started
    print(f"\nwall time {elapsed:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "hardware": hardware,
                "isa": isa,
                "matmul_peak_gflops": peaks,
                "input": {"n_chans": N_CHANS, "seconds": SECONDS, "batch": BATCH},
                "repeats": repeats,
                "faithfulness": [asdict(r) for r in gate],
                "agreement": agreement,
                "rows": rows,
                "summary": summary,
                "tuning": tuning,
                "profile_embed_fp32": profile,
                "wall_time_s": elapsed,
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
