"""Token comparisons that exempt near ties (tokens computed from other shapes).

A patch's encoder output depends on the batch it was computed in by float
rounding (the BLAS may sum in another order for another shape), so a token
may differ between two batch layouts where its two nearest codes are closer
than that rounding moves them: where the code-distance gap is below
:data:`NEAR_TIE` at its level or at an earlier level of the same scale (the
residuals of the later levels follow from the earlier choices).
"""

from __future__ import annotations

import numpy as np
import torch

#: Code-distance gap below which a token may differ between batch layouts:
#: float32 rounding moves the encoder output by about 1e-6 of its norm and
#: the squared distances of unit vectors by a few times that.
NEAR_TIE = 1e-5


def token_gaps(model, x, chan_idx) -> torch.Tensor:
    """Code-distance gaps (B, N, A, S, L) of ``model.tokenize(x, chan_idx)``."""
    with torch.inference_mode():
        encoded = model.encode(x, chan_idx)
        outputs = model.quantize(encoded, return_gaps=True, compute_loss=False)
    batch, _, n_chans, n_patches = encoded.shape[1:]
    gaps = torch.stack([out.gaps for out in outputs])  # (S, L, B*N*A)
    gaps = gaps.reshape(*gaps.shape[:2], batch, n_chans, n_patches)
    return gaps.permute(2, 3, 4, 0, 1)


def assert_tokens_equal_outside_near_ties(got, expected, gaps, near_tie=NEAR_TIE):
    """``got == expected`` (B, N, A, S, L) except after a near tie of a scale."""
    got, expected = torch.as_tensor(np.asarray(got)), torch.as_tensor(expected)
    got = got.reshape(expected.shape)
    exempt = (gaps < near_tie).cummax(dim=-1).values
    differ = got != expected
    assert not (differ & ~exempt).any(), (
        f"{int((differ & ~exempt).sum())} tokens differ outside near ties"
    )
    return int(differ.sum())
