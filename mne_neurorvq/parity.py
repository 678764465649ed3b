"""Check this implementation against reference tensors computed by the authors' code.

Usage::

    python -m mne_neurorvq.parity DIR [--json OUT]

``DIR`` holds a fixture in the format of ``upstream-parity/README.md``
(EEG: ``config.json``, ``tokenizer_state_dict.pt``,
``foundation_model_state_dict.pt``, ``cases.pt`` and optionally
``ema_step.pt``), or one sub-folder per modality in the format of
``upstream-parity-multimodal/README.md`` (``ecg/``, ``ppg/``, ``emg/``, each
with ``config.json``, ``tokenizer_state_dict.pt`` and ``cases.pt``; no
foundation model). Every case is run through this package's model, every
stored output is compared with the READMEs' tolerances (:data:`TOLERANCES`,
one table for both formats), and the exit status is non-zero when any output
is out of tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
    pretraining_loss,
)
from .nn.checkpoints import load_foundation_state_dict, load_tokenizer_state_dict
from .nn.transformer import token_indices

#: The READMEs' "Tolerances", one rule per output (both fixture formats).
#: ``("network", rtol)``: ``|got - expected| <= rtol * (max_abs + |expected|)``;
#: ``("atol_rel", f)``: atol ``f * max_abs``; ``("phase", atol)``: atol at the
#: FFT bins with usable phase only (:func:`phase_bins`); ``("scalar", rtol)``.
#: Outputs not listed are network outputs.
TOLERANCES = {
    "target_amplitude": ("atol_rel", 1e-4),
    "target_sin": ("phase", 2e-4),
    "target_cos": ("phase", 2e-4),
}
#: Network outputs: ``atol = 1e-5 * max_abs``, ``rtol = 1e-5``.
NETWORK_RTOL = 1e-5
#: Phase targets are compared only at bins whose FFT magnitude is at least
#: this fraction of the largest magnitude of the same patch (READMEs).
PHASE_MIN_RELATIVE_MAGNITUDE = 1e-3
_SCALARS = {
    "loss_rvq_per_branch",
    "loss_rvq",
    "loss_amplitude",
    "loss_phase",
    "loss_signal",
    "loss_total",
    "pretrain_ce_masked_per_head",
    "pretrain_ce_symmetric_per_head",
    "pretrain_loss",
    "pretrain_logsumexp_masked",
    "pretrain_logsumexp_symmetric",
}
for _key in _SCALARS:
    TOLERANCES[_key] = ("scalar", 1e-5)
#: Near-tie threshold below which a token may legitimately differ.
NEAR_TIE = 1e-6


def phase_bins(patches: torch.Tensor) -> torch.Tensor:
    """Bins whose phase is compared: ``|X| >= 1e-3 x`` the patch's largest.

    Below that magnitude the phase is numerically undefined (float32 FFT
    kernels of different CPUs disagree there, and with float64, by up to
    3e-3), so the READMEs do not compare it.

    Parameters
    ----------
    patches : Tensor, shape (..., P)
        The input patches (``x`` viewed as (B, N, A, P)); the FFT is taken in
        float64 over the last axis.

    Returns
    -------
    Tensor of bool, same shape as ``patches``

    Examples
    --------
    >>> import math
    >>> import torch
    >>> t = torch.arange(8.0)
    >>> phase_bins(torch.cos(2 * math.pi * t / 8)).tolist()
    [False, True, False, False, False, False, False, True]
    """
    magnitude = torch.fft.fft(patches.double(), dim=-1).abs()
    largest = magnitude.amax(dim=-1, keepdim=True)
    return magnitude >= PHASE_MIN_RELATIVE_MAGNITUDE * largest


@dataclass
class Comparison:
    """One compared output.

    Examples
    --------
    >>> comparison = Comparison("case", "tokens", 0.0, 0.0, "exact", ok=True)
    >>> comparison.ok
    True
    """

    case: str
    key: str
    max_abs_err: float
    max_rel_err: float
    tolerance: str
    ok: bool
    agreement: float | None = None  # share of identical integers (tokens, argmax)
    compared: float | None = None  # share of the elements compared (phase rule)


def configs_from_reference(
    config: dict,
) -> tuple[TokenizerConfig, FoundationConfig | None]:
    """Translate the reference constructor arguments of ``config.json``.

    Multimodal fixtures name their ``modality`` and list the kernels and
    levels hard-coded in the reference model code; these must be the
    modality's (padding ``kernel // 2``). Without a ``foundation_model``
    entry the second value is None.

    Examples
    --------
    >>> import json
    >>> from pathlib import Path
    >>> path = Path("upstream-parity/config.json")
    >>> config = json.loads(path.read_text())  # doctest: +SKIP
    >>> tokenizer, foundation = configs_from_reference(config)  # doctest: +SKIP
    >>> tokenizer.n_code, foundation.depth  # doctest: +SKIP
    (256, 2)
    """
    enc, dec = (
        config["tokenizer"]["encoder_config"],
        config["tokenizer"]["decoder_config"],
    )
    shared = dict(
        patch_size=enc["patch_size"],
        n_patches=enc["n_patches"],
        n_electrodes=enc["n_global_electrodes"],
        embed_dim=enc["embed_dim"],
        num_heads=enc["num_heads"],
        mlp_ratio=float(enc["mlp_ratio"]),
        conv_channels=enc.get("out_chans_encoder", 8),
        **_hardcoded(config),
    )
    tokenizer = TokenizerConfig(
        **shared,
        encoder_depth=enc["depth"],
        decoder_depth=dec["depth"],
        n_code=config["tokenizer"]["n_code"],
        code_dim=config["tokenizer"]["code_dim"],
        init_values=float(enc["init_values"]),
    )
    fm = config.get("foundation_model")
    if fm is None:
        return tokenizer, None
    foundation = FoundationConfig(
        **{**shared, "conv_channels": fm.get("out_chans", 8)},
        depth=fm["depth"],
        vocab_size=fm["vocab_size"],
        init_values=float(fm["init_values"]),
    )
    return tokenizer, foundation


def _hardcoded(config: dict) -> dict:
    """Modality, kernels and levels of a multimodal ``config.json``."""
    modality = config.get("modality", "eeg")
    values = {"modality": modality}
    fixed = config.get("hardcoded_in_model_code")
    if fixed is None:
        return values
    for stage in (1, 2):
        kernels = tuple(fixed[f"conv{stage}_kernel"])
        paddings = tuple(fixed[f"conv{stage}_padding"])
        if paddings != tuple(k // 2 for k in kernels):
            raise ValueError(
                f"{modality}: conv{stage} paddings {paddings} are not kernel // 2 "
                f"for kernels {kernels}; this implementation pads by kernel // 2"
            )
        values[f"stage{stage}_kernels"] = kernels
    pools = {tuple(fixed[f"pool{stage}"]) for stage in (1, 2)}
    if {tuple(fixed["pool1"]), tuple(fixed["pool2"])} != {(2,) * 4, (4,) * 4} or (
        len(pools) != 2
    ):
        raise ValueError(f"{modality}: unexpected pools {pools}")
    values["n_levels"] = int(config.get("num_quantizers", 8))
    return values


def compare_output(
    case: str,
    key: str,
    got: torch.Tensor,
    expected: torch.Tensor,
    max_abs: float,
    patches: torch.Tensor | None = None,
) -> Comparison:
    """Compare one output with the rule of :data:`TOLERANCES`.

    Parameters
    ----------
    case, key : str
        Names for the report.
    got, expected : Tensor
        This package's value and the reference's.
    max_abs : float
        The fixture's ``max_abs[key]``.
    patches : Tensor, shape (B, N, A, P) | None
        The input patches; required by the phase rule (``target_sin``,
        ``target_cos``), which compares only the bins of :func:`phase_bins`.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import torch
    >>> expected = torch.tensor([1.0, 2.0])
    >>> compare_output("c", "patch_embed", expected + 1e-6, expected, 2.0).ok
    True
    """
    got, expected = got.detach().double().cpu(), expected.double()
    if got.shape != expected.shape:
        return Comparison(
            case,
            key,
            float("inf"),
            float("inf"),
            f"shape {tuple(got.shape)} vs {tuple(expected.shape)}",
            False,
        )
    err = (got - expected).abs()
    kind, value = TOLERANCES.get(key, ("network", NETWORK_RTOL))
    compared = None
    if kind == "scalar":
        bound, tol = value * expected.abs(), f"rtol {value:g}"
    elif kind == "atol_rel":
        atol = value * max_abs
        bound, tol = torch.full_like(err, atol), f"atol {atol:.2e}"
    elif kind == "phase":
        if patches is None:
            raise ValueError(f"{key}: the phase rule needs the input patches")
        keep = phase_bins(patches).reshape(err.shape)
        err = torch.where(keep, err, torch.zeros_like(err))
        compared = float(keep.double().mean())
        bound = torch.full_like(err, value)
        tol = (
            f"atol {value:.0e} where |X| >= {PHASE_MIN_RELATIVE_MAGNITUDE:g} "
            "x patch max"
        )
    else:
        bound = value * max_abs + value * expected.abs()
        tol = f"atol {value * max_abs:.2e} + rtol {value:g}"
    rel = err / expected.abs().clamp(min=1e-30)
    ok = bool((err <= bound + 1e-12).all())
    return Comparison(
        case, key, float(err.max()), float(rel.max()), tol, ok, compared=compared
    )


def _compare_tokens(case, key, got, expected, gaps) -> Comparison:
    """Exact comparison; a token may differ only after a near tie of its branch."""
    got = got.cpu()
    same = got == expected
    if gaps is None:
        allowed = torch.zeros_like(same)
    else:  # tokens (S, L, B, T): a near tie at level l frees levels >= l
        allowed = (gaps < NEAR_TIE).cummax(dim=1).values
    ok = bool((same | allowed).all())
    return Comparison(
        case,
        key,
        float((~same).sum()),
        0.0,
        "exact (near ties exempt)",
        ok,
        float(same.double().mean()),
    )


def _run_case(case, tokenizer, foundation) -> list[Comparison]:
    name, exp, max_abs = case["name"], case["expected"], case["max_abs"]
    x = case["x"].float()
    batch, n_chans, _ = x.shape
    n_patches = int(case["n_patches"])
    chan_idx = case["chan_vocab_idx"].long()
    patches = x.reshape(batch, n_chans, n_patches, -1)
    results = []

    def check(key, got):
        if key in exp:
            max_value = max_abs.get(key, 1.0)
            results.append(compare_output(name, key, got, exp[key], max_value, patches))

    # index tensors as the reference is given them
    spatial, temporal = token_indices(chan_idx, n_patches, tokenizer.config.n_patches)
    for key, got in (("input_chans", spatial), ("input_times", temporal)):
        ok = bool(torch.equal(got, case[key].reshape(-1)))
        results.append(Comparison(name, key, 0.0 if ok else 1.0, 0.0, "exact", ok))

    with torch.inference_mode():
        flat = patches.reshape(batch, n_chans * n_patches, -1)
        check("patch_embed", tokenizer.encoder.patch_embed(flat))
        check("encoder_features", tokenizer.encoder_features(patches, chan_idx))
        encoded = tokenizer.encode(patches, chan_idx)  # (S, B, C, N, A)
        check("encode_task_out", encoded.permute(0, 1, 3, 4, 2).flatten(2, 3))
        outputs = tokenizer.quantize(encoded, return_gaps=True)
        quantized = torch.stack([o.quantized for o in outputs])
        check("quantized", quantized)
        gaps = torch.stack([o.gaps for o in outputs]).reshape(exp["tokens"].shape)
        check("code_distance_gap", gaps)
        tokens = torch.stack([o.indices for o in outputs]).reshape(exp["tokens"].shape)
        results.append(
            _compare_tokens(
                name, "tokens", tokens, exp["tokens"], exp.get("code_distance_gap")
            )
        )
        spatial_d, temporal_d = token_indices(
            chan_idx, n_patches, tokenizer.config.n_patches
        )
        check("decoder_features", tokenizer.decoder(quantized, spatial_d, temporal_d))
        pred = tokenizer.decode(quantized, chan_idx)
        check("dec_amplitude", pred.amplitude)
        check("dec_sin", pred.sin)
        check("dec_cos", pred.cos)
        from .nn.fourier import fourier_targets, reconstruct_signal

        targets = fourier_targets(patches)
        check("target_amplitude", targets.amplitude)
        check("target_sin", targets.sin)
        check("target_cos", targets.cos)
        recon = reconstruct_signal(
            pred.amplitude,
            pred.sin,
            pred.cos,
            targets.amplitude_mean.reshape(-1, 1, 1),
            targets.amplitude_std.reshape(-1, 1, 1),
        )
        check("recon_signal", recon)
        out = tokenizer(x, chan_idx)
        check("std_x", out.std_x)
        check("std_recon_signal", out.std_recon)
        check("loss_rvq_per_branch", out.loss_rvq_per_scale)
        check("loss_rvq", out.loss_rvq)
        check("loss_amplitude", out.loss_amplitude)
        check("loss_phase", out.loss_phase)
        check("loss_signal", out.loss_signal)
        check("loss_total", out.loss)
        if foundation is not None:
            results.extend(_run_foundation(case, patches, foundation, check))
    return results


def _run_foundation(case, patches, foundation, check) -> list[Comparison]:
    """Foundation-model outputs of an EEG case."""
    name, exp = case["name"], case["expected"]
    chan_idx = case["chan_vocab_idx"].long()
    results = []
    features = foundation.forward_features(patches, chan_idx)
    pooled = foundation.pool(features)
    check("fm_pooled_prenorm", pooled)
    check("fm_embedding", foundation.fc_norm(pooled))

    mask = case["mask"].bool()
    hidden_m = foundation.pretraining_hidden(patches, mask, chan_idx)
    hidden_s = foundation.pretraining_hidden(patches, ~mask, chan_idx)
    check("pretrain_hidden_masked", hidden_m)
    check("pretrain_hidden_symmetric", hidden_s)
    logits_m = foundation.pretraining_logits(hidden_m, mask)
    logits_s = foundation.pretraining_logits(hidden_s, ~mask)
    for suffix, logits in (("masked", logits_m), ("symmetric", logits_s)):
        stored = exp[f"pretrain_logits_{suffix}"]
        check(f"pretrain_logits_{suffix}", logits[:, : stored.shape[1]])
        check(f"pretrain_logsumexp_{suffix}", logits.logsumexp(dim=-1))
        argmax = logits.argmax(dim=-1)
        expected_argmax = exp[f"pretrain_argmax_{suffix}"]
        same = argmax == expected_argmax
        results.append(
            Comparison(
                name,
                f"pretrain_argmax_{suffix}",
                float((~same).sum()),
                0.0,
                "exact",
                bool(same.all()),
                float(same.double().mean()),
            )
        )
    loss, ce_m, ce_s = pretraining_loss(logits_m, logits_s, exp["tokens"], mask)
    check("pretrain_ce_masked_per_head", ce_m)
    check("pretrain_ce_symmetric_per_head", ce_s)
    check("pretrain_loss", loss)
    return results


def _run_ema_step(step, tokenizer_config) -> list[Comparison]:
    """Replay the training-mode step of one residual quantiser."""
    from .nn.quantizer import ResidualVQ

    name = "ema_step"
    config = tokenizer_config
    quantizer = ResidualVQ(
        config.n_code,
        config.code_dim,
        config.n_levels,
        decay=float(step["decay"]),
        beta=float(step["beta"]),
    )
    quantizer.load_state_dict(step["state_before"], strict=True)
    quantizer.train()
    x = step["input"].clone().requires_grad_(True)
    out = quantizer(x, return_levels=True)
    objective = out.loss + (out.quantized * step["grad_weights"]).sum()
    (grad_input,) = torch.autograd.grad(objective, x)
    results = []
    for key, got in (
        ("quantized_out", out.quantized),
        ("loss", out.loss),
        ("level_losses", out.level_losses),
        ("usage_ratios", out.usage),
        ("level_inputs", out.level_inputs),
        ("level_outputs", out.level_outputs),
    ):
        max_abs = float(step[key].abs().max())
        results.append(compare_output(name, key, got, step[key], max_abs))
    results.append(
        compare_output(
            name,
            "grad_input",
            grad_input,
            step["grad_input"],
            float(step["grad_input"].abs().max()),
        )
    )
    same = out.indices == step["indices"]
    results.append(
        Comparison(
            name,
            "indices",
            float((~same).sum()),
            0.0,
            "exact",
            bool(same.all()),
            float(same.double().mean()),
        )
    )
    after = quantizer.state_dict()
    for key, expected in step["state_after"].items():
        err = float((after[key].double() - expected.double()).abs().max())
        results.append(
            Comparison(name, f"state_after.{key}", err, 0.0, "atol 1e-6", err <= 1e-6)
        )
    return results


def run_parity(directory: str | Path, verbose: bool = True) -> list[Comparison]:
    """Run every case of a parity fixture and compare all outputs.

    Parameters
    ----------
    directory : str | Path
        Fixture folder (see the module docstring).
    verbose : bool
        Print a table of the results.

    Returns
    -------
    list of Comparison

    Examples
    --------
    >>> results = run_parity("fixtures/upstream-parity")  # doctest: +SKIP
    >>> all(result.ok for result in results)  # doctest: +SKIP
    True
    """
    directory = Path(directory)
    folders = fixture_folders(directory)
    results = []
    for folder in folders:
        results.extend(_run_folder(folder))
    if verbose:
        print_report(results)
    return results


def fixture_folders(directory: str | Path) -> list[Path]:
    """The fixture folders of ``directory``: itself, or one per modality.

    Examples
    --------
    >>> folder = "fixtures/upstream-parity-multimodal"
    >>> [path.name for path in fixture_folders(folder)]  # doctest: +SKIP
    ['ecg', 'emg', 'ppg']
    """
    directory = Path(directory)
    if (directory / "config.json").is_file():
        return [directory]
    folders = sorted(p.parent for p in directory.glob("*/config.json"))
    if not folders:
        raise FileNotFoundError(
            f"{directory} is not a parity fixture: no config.json in it or in its "
            "sub-folders (one per modality)"
        )
    return folders


def _run_folder(directory: Path) -> list[Comparison]:
    """Run the cases of one fixture folder (one modality)."""
    config = json.loads((directory / "config.json").read_text())
    tok_config, fm_config = configs_from_reference(config)
    tokenizer = NeuroRVQTokenizerModel(tok_config).eval()
    tokenizer.load_state_dict(
        load_tokenizer_state_dict(
            directory / "tokenizer_state_dict.pt", tok_config, tok_config.modality
        )
    )
    foundation = None
    if fm_config is not None:
        foundation = NeuroRVQFoundation(config=fm_config, pretraining=True).eval()
        state = load_foundation_state_dict(
            directory / "foundation_model_state_dict.pt", fm_config, pretraining=True
        )
        foundation.load_state_dict(state, strict=False)
    cases = torch.load(directory / "cases.pt", weights_only=True, map_location="cpu")
    results = []
    for case in cases:
        results.extend(_run_case(case, tokenizer, foundation))
    ema_path = directory / "ema_step.pt"
    if ema_path.exists():
        step = torch.load(ema_path, weights_only=True, map_location="cpu")
        results.extend(_run_ema_step(step, tok_config))
    return results


def print_report(results: list[Comparison], file=None):
    """Print one line per compared output and a summary.

    Examples
    --------
    >>> folder = "fixtures/upstream-parity"
    >>> results = run_parity(folder, verbose=False)  # doctest: +SKIP
    >>> print_report(results)  # doctest: +SKIP
    """
    file = sys.stdout if file is None else file
    header = (
        f"{'case':<24} {'output':<34} {'max abs err':>12} {'max rel err':>12}"
        f"  {'agree':>7}  ok"
    )
    print(header, file=file)
    print("-" * len(header), file=file)
    for r in results:
        agree = "" if r.agreement is None else f"{100 * r.agreement:6.2f}%"
        if r.compared is not None:
            agree = f"{100 * r.compared:5.1f}%c"
        print(
            f"{r.case:<24} {r.key:<34} {r.max_abs_err:12.3e} {r.max_rel_err:12.3e}"
            f"  {agree:>7}  {'ok' if r.ok else 'FAIL (' + r.tolerance + ')'}",
            file=file,
        )
    failed = [r for r in results if not r.ok]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} outputs within tolerance",
        file=file,
    )


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m mne_neurorvq.parity", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "directory", help="parity fixture folder (EEG, or one sub-folder per modality)"
    )
    parser.add_argument("--json", help="also write the comparisons to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results = run_parity(args.directory)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
