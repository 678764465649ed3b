"""Throughput and peak memory of the NeuroRVQ models, with this machine's ceilings.

Every task, input and precision runs in its own subprocess, batch sizes in
increasing order, so that the peak resident memory (RSS) read after each batch
size is its own. For each task (tokenize, embed, reconstruct, one training
step of the tokenizer and of the foundation model) and input (64 ch x 4 s,
19 ch x 13 s at 200 Hz) and batch size, the script prints epochs/s,
patches/s, peak RSS, the FLOPs per epoch (counted with
``torch.utils.flop_counter``) and the throughput as a share of the ceiling
that this machine's measured matrix-multiply peak allows (fp32, and bf16 for
bf16 runs). The same run records the hardware, torch version and threads, and
writes everything to JSON.

Usage::

    python performance/speed.py                   # default config, CPU, 2 threads
    python performance/speed.py --device cuda     # on a GPU
    python performance/speed.py --quick           # batch 8 only
    python performance/speed.py --full            # also batch 64 of 19 ch x 13 s
    python performance/speed.py --compile         # compiled blocks (inductor)
    python performance/speed.py --reuse-tuning    # this machine's stored settings

The CPU settings of inference (``mne_neurorvq.nn._tuning``) are measured
anew by the first worker that needs them, in a folder of this run (unless
``--reuse-tuning``); the script prints the settings used and how long each
worker's first call took (measuring them, compiling), and the share of the
fp32 ceiling of fp32 tokenization and embedding at batch 8 against the
goals of issue 21. The ceiling is the higher of the matrix-multiply peaks
measured before and after the tasks.

Batch 1, 8 and 64 by default; training steps stop at batch 8. Batch 64 of the
long input and the training steps on it run with ``--full`` only, so that the
default run stays under 10 minutes on 2 cores. Throughput is the median over
the repeats of ``--budget`` seconds after one warm-up, at least 5 of them
(the best is in the JSON too).

The models use random weights of the published (default) configuration (the
throughput does not depend on the weights' values), saved to a temporary
folder and loaded by each worker as the published files are
(``load_tokenizer``/``load_foundation``), so that the memory figures are those
of that path. Peak RSS includes the torch import (with a CUDA build of torch
that alone is about 480 MiB, with a CPU build about 220 MiB; the run
records it as ``torch_import_rss_mib``); ``base_rss_mib`` in the JSON is the
RSS once the model is loaded. Workers inherit the environment, so an
allocator preloaded for the run (``LD_PRELOAD=.../libtcmalloc_minimal.so.4``)
applies to them and is recorded as ``allocator``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INPUTS = {"64ch x 4s": (64, 4), "19ch x 13s": (19, 13)}
DEFAULT_INPUT = "64ch x 4s"
CHECKPOINTS_ENV = "NEURORVQ_SPEED_CHECKPOINTS"
#: Repeats after the warm-up: at least this many whatever ``--budget`` (a
#: median of two is the slower of two), at most ``MAX_REPEATS``.
MIN_REPEATS, MAX_REPEATS = 5, 20
TASKS = ("tokenize", "embed", "reconstruct", "train_tokenizer", "train_foundation")


# ---------------------------------------------------------------------- worker


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _build(task, device, precision):
    import torch

    from mne_neurorvq.nn.checkpoints import load_foundation, load_tokenizer

    generator = torch.Generator().manual_seed(0)
    train = task.startswith("train")
    folder = Path(os.environ[CHECKPOINTS_ENV])
    # loaded as a user loads the published files, so that the memory figures
    # are those of that path
    if task in ("tokenize", "reconstruct", "train_tokenizer"):
        model = load_tokenizer(folder / "tokenizer.pt")
    else:
        pretraining = task == "train_foundation"
        model = load_foundation(folder / "foundation.pt", pretraining=pretraining)
    model = model.to(device).train(train)
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4) if train else None

    def run(x, chans):
        if task == "tokenize":
            with torch.inference_mode(), autocast:
                return model.tokenize(x, chans)
        if task == "embed":
            with torch.inference_mode(), autocast:
                return model.embed(x, chans)
        if task == "reconstruct":
            with torch.inference_mode(), autocast:
                return model.decode_tokens(model.tokenize(x, chans), chans)
        if task == "train_tokenizer":
            with autocast:
                loss = model(x, chans).loss
        else:
            batch, n_chans, n_times = x.shape
            n_tokens = n_chans * n_times // 200
            mask = torch.rand(batch, n_tokens, generator=generator) < 0.5
            tokens = torch.randint(0, model.config.vocab_size, (4, 8, batch, n_tokens))
            with autocast:
                # as PretrainingTask trains: one head's logits at a time
                ce_m, ce_s, _ = model.pretraining_losses(
                    x, mask.to(device), tokens.to(device), chans
                )
                loss = ce_m.mean() + ce_s.mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return loss

    return model, run


def _cpu_sdpa_formulas():
    """FLOP formulas for CPU attention, which torch's counter leaves out.

    ``FlopCounterMode`` counts the CUDA attention kernels but not
    ``_scaled_dot_product_flash_attention_for_cpu`` (about a sixth of the
    embedding's FLOPs); the same formulas apply.
    """
    import torch
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    def forward(query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query, key, value)

    def backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad_out, query, key, value)

    aten = torch.ops.aten
    return {
        aten._scaled_dot_product_flash_attention_for_cpu: forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: backward,
    }


def _peak_rss_mib():
    """Peak RSS of this process image, in MiB.

    Linux's ``VmHWM``: ``ru_maxrss`` would carry over the peak of the parent
    that forked this worker (it survives ``exec``).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task, n_chans, seconds, batches, device_name, precision, budget, flops):
    """Measure one task at increasing batch sizes; print one JSON line per batch.

    The batches run in increasing order in this process, so the peak RSS read
    after each one is that batch size's own peak.
    """
    import torch

    from mne_neurorvq.nn._tuning import chosen_settings

    device = torch.device(device_name)
    model, run = _build(task, device, precision)
    gen = torch.Generator().manual_seed(1)
    chans = torch.arange(n_chans, device=device)
    base_rss = _peak_rss_mib()
    for batch in batches:
        x = (20 * torch.randn(batch, n_chans, seconds * 200, generator=gen)).to(device)
        t0 = time.perf_counter()
        run(x, chans)  # warm-up: measures the CPU tuning, compiles (--compile)
        _sync(device)
        warm_up = time.perf_counter() - t0
        times, start = [], time.perf_counter()
        while len(times) < MIN_REPEATS or (
            time.perf_counter() - start < budget and len(times) < MAX_REPEATS
        ):
            t0 = time.perf_counter()
            run(x, chans)
            _sync(device)
            times.append(time.perf_counter() - t0)
        peak_gpu = (
            torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == "cuda"
            else None
        )
        print(
            json.dumps(
                {
                    "batch": batch,
                    "seconds_per_batch": sorted(times)[len(times) // 2],
                    "best_seconds_per_batch": min(times),
                    "repeats": len(times),
                    "base_rss_mib": base_rss,
                    "peak_rss_mib": _peak_rss_mib(),
                    "peak_gpu_mib": peak_gpu,
                    "warm_up_s": warm_up,
                    "tuning": chosen_settings(),
                }
            ),
            flush=True,
        )
    if flops:
        # counted last: the counter's own memory would show in the peaks above
        from torch.utils.flop_counter import FlopCounterMode

        x = (20 * torch.randn(1, n_chans, seconds * 200, generator=gen)).to(device)
        with FlopCounterMode(
            display=False, custom_mapping=_cpu_sdpa_formulas()
        ) as counter:
            run(x, chans)
        print(json.dumps({"flops_per_epoch": counter.get_total_flops()}), flush=True)


def matmul_peak(device_name, dtype_name, size=2048, budget=3.0):
    """Measured matrix-multiply throughput in GFLOP/s."""
    import torch

    device = torch.device(device_name)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


# ---------------------------------------------------------------------- driver


def _write_checkpoints(folder):
    """Random published-configuration models, saved in the published layout."""
    import torch

    from mne_neurorvq.nn import NeuroRVQFoundation, NeuroRVQTokenizerModel
    from mne_neurorvq.nn.checkpoints import save_checkpoint

    generator = torch.Generator().manual_seed(0)
    tokenizer = NeuroRVQTokenizerModel()
    tokenizer.init_weights(generator)
    save_checkpoint(tokenizer, Path(folder) / "tokenizer.pt")
    foundation = NeuroRVQFoundation(pretraining=True)
    foundation.init_weights(generator)
    save_checkpoint(foundation, Path(folder) / "foundation.pt")


def _run_worker(args, task, n_chans, seconds, batches, precision, count_flops):
    command = [
        sys.executable,
        __file__,
        "--worker",
        task,
        str(n_chans),
        str(seconds),
        ",".join(str(b) for b in batches),
        args.device,
        precision,
        str(args.budget),
        str(int(count_flops)),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.compile:
        env["MNE_NEURORVQ_COMPILE"] = "inductor"
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise RuntimeError(
            f"{task} {n_chans}x{seconds} {batches} failed:\n{out.stderr}"
        )
    lines = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")]
    flops = [line["flops_per_epoch"] for line in lines if "flops_per_epoch" in line]
    rows = [line for line in lines if "batch" in line]
    return rows, (flops[0] if flops else None)


def _batches_for(task, input_name, batches, full):
    """Batch sizes measured for a task and input (empty: the pair is skipped).

    Without ``--full``, training steps run on the 64 ch x 4 s input only and
    stop at batch 8, and batch 64 runs on that input only, so that the
    default run stays under 10 minutes on 2 cores.
    """
    if full:
        return [b for b in batches if b <= 8 or not task.startswith("train")]
    if input_name != DEFAULT_INPUT and task.startswith("train"):
        return []
    limit = 8 if task.startswith("train") or input_name != DEFAULT_INPUT else None
    return [b for b in batches if limit is None or b <= limit]


def _import_rss_mib():
    """Peak RSS of a fresh interpreter that only imports torch, in MiB."""
    code = (
        f"import sys, torch; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "from speed import _peak_rss_mib; print(_peak_rss_mib())"
    )
    try:
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        return float(output.split()[-1])
    except (subprocess.CalledProcessError, IndexError, ValueError, OSError):
        return None


def _hardware(args):
    import torch

    from mne_neurorvq.nn._tuning import cpu_description

    cpu = cpu_description()
    isa = [flag for flag, present in cpu["isa"].items() if present]
    info = {
        "cpu": cpu["model"],
        "isa": " ".join(isa) or "none of " + " ".join(cpu["isa"]),
        "aten_capability": cpu["aten_capability"],
        # run-time settings of CPU inference (mne_neurorvq.nn._tuning)
        "cpu_tuning_override": os.environ.get("MNE_NEURORVQ_CPU_TUNING", "")
        or "none (measured on first use)",
        "compile": os.environ.get("MNE_NEURORVQ_COMPILE", "") or "off",
        "cores": os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
        "torch_build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "allocator": os.path.basename(os.environ.get("LD_PRELOAD", "")) or "glibc",
        "torch_import_rss_mib": _import_rss_mib(),
        "python": platform.python_version(),
        "device": args.device,
    }
    if args.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _default_precisions(device):
    """fp32, and bf16 where it is native (GPUs, CPUs with AVX512-BF16 or AMX).

    Emulated bf16 runs below 1 GFLOP/s on other CPUs: its figures would say
    nothing and take most of the run.
    """
    if device != "cpu":
        return ["fp32", "bf16"]
    from mne_neurorvq.nn._tuning import native_bf16

    return ["fp32", "bf16"] if native_bf16("cpu") else ["fp32"]


def _fresh_tuning(folder):
    """Workers measure their CPU settings anew (in ``folder``), not reuse them.

    The first worker that needs a setting measures it and the later ones of
    the run read it, so the run's figures come with their own tuning. The
    compile cache stays where it persists (``--compile``).
    """
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        from mne_neurorvq.nn._compile import _persistent_cache

        _persistent_cache()
    os.environ["MNE_NEURORVQ_CACHE"] = folder


#: Shares of the fp32 ceiling asked of fp32 CPU inference at batch 8 (issue 21).
GOALS = {"tokenize": 0.55, "embed": 0.60}


def _print_tuning(tunings, rows):
    """The CPU settings the workers used, and the warm-up (tuning, compile)."""
    print("\nCPU tuning used (setting | shape: value (source)):")
    for setting, value in sorted(tunings.items()):
        print(f"  {setting}: {value}")
    if not tunings:
        print("  none (no chunked CPU inference in this run)")
    warm = ", ".join(
        f"{r['task']} {r['precision']} b{r['batch']} {r['warm_up_s']:.1f} s"
        for r in rows
    )
    print(f"first call of each worker (tuning, compiling): {warm}")


def _print_goals(rows):
    """Share of the fp32 ceiling of fp32 tokenize/embed against the goals."""
    lines = []
    for row in rows:
        goal = GOALS.get(row["task"])
        if goal is None or row["precision"] != "fp32" or row["batch"] != 8:
            continue
        best = row["best_epochs_per_s"] / row["ceiling_epochs_per_s"]
        verdict = "met" if row["fraction_of_ceiling"] >= goal else "NOT met"
        lines.append(
            f"  {row['task']:<9} {row['input']:<11} median "
            f"{100 * row['fraction_of_ceiling']:3.0f} % (best {100 * best:3.0f} %)"
            f" of the fp32 ceiling; goal >= {100 * goal:.0f} %: {verdict}"
        )
    if lines:
        print("\nfp32, batch 8, against the goals of issue 21:")
        print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--budget", type=float, default=2.0, help="seconds of repeats per configuration"
    )
    parser.add_argument("--quick", action="store_true", help="batch 8 only")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also batch 64 and training steps on the 19 ch x 13 s input",
    )
    parser.add_argument(
        "--batches", nargs="+", type=int, default=None, help="default: 1 8 64"
    )
    parser.add_argument(
        "--inputs", nargs="+", default=list(INPUTS), choices=list(INPUTS)
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--precision",
        nargs="+",
        default=None,
        choices=["fp32", "bf16"],
        help="default: fp32, and bf16 on a GPU or a CPU with native bf16",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compiled blocks (MNE_NEURORVQ_COMPILE=inductor); the warm-up "
        "call, which compiles, is reported apart",
    )
    parser.add_argument(
        "--reuse-tuning",
        action="store_true",
        help="reuse the CPU settings measured before on this machine "
        "(default: measure them anew in this run)",
    )
    parser.add_argument("--out", default="performance/results/speed.json")
    parser.add_argument("--worker", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task, n_chans, seconds, batches, device, precision, budget, flops = args.worker
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        worker(
            task,
            int(n_chans),
            int(seconds),
            [int(b) for b in batches.split(",")],
            device,
            precision,
            float(budget),
            bool(int(flops)),
        )
        return 0

    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    hardware = _hardware(args)
    if args.precision is None:
        args.precision = _default_precisions(args.device)
    peaks = {p: matmul_peak(args.device, p) for p in args.precision}
    print(" | ".join(f"{k}: {v}" for k, v in hardware.items()))
    print(
        "matmul peak: "
        + ", ".join(f"{p} {peak:.0f} GFLOP/s" for p, peak in peaks.items())
        + ("" if "bf16" in peaks else " (bf16 skipped: no native bf16 on this CPU)")
    )
    header = (
        f"{'task':<17} {'input':<11} {'prec':<5} {'batch':>5} {'epochs/s':>9} "
        f"{'patches/s':>10} {'GFLOP/ep':>9} {'ceiling':>8} {'of ceil':>8} "
        f"{'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    checkpoints = tempfile.TemporaryDirectory()
    _write_checkpoints(checkpoints.name)
    os.environ[CHECKPOINTS_ENV] = checkpoints.name
    if not args.reuse_tuning:
        _fresh_tuning(checkpoints.name)
    rows, flops_cache, tunings = [], {}, {}
    batches = args.batches or ((8,) if args.quick else (1, 8, 64))
    for task in args.tasks:
        for input_name in args.inputs:
            n_chans, seconds = INPUTS[input_name]
            task_batches = _batches_for(task, input_name, batches, args.full)
            if not task_batches:
                continue
            for precision in args.precision:
                key = (task, input_name)
                results, flops = _run_worker(
                    args,
                    task,
                    n_chans,
                    seconds,
                    task_batches,
                    precision,
                    key not in flops_cache,
                )
                if flops is not None:
                    flops_cache[key] = flops
                flops = flops_cache[key]
                for result in results:
                    batch = result["batch"]
                    eps = batch / result["seconds_per_batch"]
                    ceiling = peaks[precision] * 1e9 / flops
                    row = dict(
                        task=task,
                        input=input_name,
                        precision=precision,
                        epochs_per_s=eps,
                        best_epochs_per_s=batch / result["best_seconds_per_batch"],
                        patches_per_s=eps * n_chans * seconds,
                        gflop_per_epoch=flops / 1e9,
                        ceiling_epochs_per_s=ceiling,
                        fraction_of_ceiling=eps / ceiling,
                        **result,
                    )
                    rows.append(row)
                    for setting, value in result["tuning"].items():
                        if tunings.setdefault(setting, value) == value:
                            continue
                        tunings[setting] += f"; {value}"
                    print(
                        f"{task:<17} {input_name:<11} {precision:<5} {batch:>5} "
                        f"{eps:>9.2f} {row['patches_per_s']:>10.0f} "
                        f"{flops / 1e9:>9.1f} {ceiling:>8.2f} "
                        f"{100 * eps / ceiling:>7.0f}% "
                        f"{result['peak_rss_mib']:>6.0f} MiB",
                        flush=True,
                    )
    checkpoints.cleanup()
    # the ceiling is the better of the peaks measured before and after the
    # tasks (a busy machine lowers one of them; the share stays conservative)
    after = {p: matmul_peak(args.device, p) for p in args.precision}
    print(
        "matmul peak after the tasks: "
        + ", ".join(f"{p} {peak:.0f} GFLOP/s" for p, peak in after.items())
    )
    for row in rows:
        peak = max(peaks[row["precision"]], after[row["precision"]])
        row["ceiling_epochs_per_s"] = peak * 1e9 / (row["gflop_per_epoch"] * 1e9)
        row["fraction_of_ceiling"] = row["epochs_per_s"] / row["ceiling_epochs_per_s"]
    if any(after[p] > peaks[p] for p in after):
        print("(shares of the ceiling below use the higher peak)")
        for row in rows:
            print(
                f"{row['task']:<17} {row['input']:<11} {row['precision']:<5} "
                f"{row['batch']:>5} {row['epochs_per_s']:>9.2f} "
                f"{row['ceiling_epochs_per_s']:>8.2f} "
                f"{100 * row['fraction_of_ceiling']:>7.0f}%"
            )
    elapsed = time.perf_counter() - started
    _print_tuning(tunings, rows)
    _print_goals(rows)
    print(f"\nwall time {elapsed:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "hardware": hardware,
                "matmul_peak_gflops": peaks,
                "matmul_peak_gflops_after": after,
                "rows": rows,
                "tuning": tunings,
                "compile": args.compile,
                "wall_time_s": elapsed,
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
