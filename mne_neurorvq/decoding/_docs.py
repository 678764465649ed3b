"""Parameter documentation shared by every NeuroRVQ estimator (``%(name)s``).

One entry per parameter name: a name means the same thing in
:class:`~mne_neurorvq.decoding.NeuroRVQTokenizer`,
:class:`~mne_neurorvq.decoding.NeuroRVQEmbedder` and
:class:`~mne_neurorvq.decoding.NeuroRVQClassifier`. :func:`fill_doc` copies the
entries into the docstrings, re-indented to their placeholder.
"""

from __future__ import annotations

import textwrap

DOCDICT = {
    "weights": """weights : str | path-like | dict of str to Tensor | None
        Pre-trained weights: the name of published weights (fetched with
        :func:`mne_neurorvq.fetch_weights`), the path of a checkpoint (a
        ``torch.save(state_dict)`` file, a ``.safetensors`` file, or a folder
        holding ``model.safetensors`` and ``config.json`` as written by
        ``save_pretrained``; this package's key layout or braindecode's), or a
        state dict. The configuration is inferred from the tensors' shapes.
        Loaded in :meth:`fit`, never in the constructor. Prefer a name or a
        path in cross-validation: a state dict is deep-copied each time the
        estimator is cloned. None means no pre-trained weights: the model is
        trained from scratch in :meth:`fit` on the data given (the
        transformers train self-supervised, ignoring labels, so it is
        leakage-free inside cross-validation; the classifier trains a
        randomly initialised model on the labels), with ``config``.""",
    "train_params": """train_params : dict | None
        Training settings used when ``weights`` is None: fields of
        :class:`mne_neurorvq.training.TrainingConfig` (``epochs``,
        ``batch_size``, ``lr``, ``time_limit``, ``precision``...), overriding
        the CPU-sized defaults (10 epochs, batch 32, learning rate 1e-3).""",
    "random_state": """random_state : int | None
        Seed of everything random in :meth:`fit` (training when ``weights`` is
        None, the classifier's head initialisation and batch order); None: 0
        for the transformers, torch's global state for the classifier. The
        transforms and predictions themselves are deterministic.""",
    "ch_names": """ch_names : list of str | None
        Channel names of array input, one per channel (axis 1). Required for
        arrays; ignored for Epochs and braindecode datasets, which carry
        their own.""",
    "sfreq": """sfreq : float | None
        Sampling rate of array input in Hz. Required for arrays; ignored for
        Epochs and braindecode datasets, which carry their own.""",
    "units": """units : ``"V"`` | ``"mV"`` | ``"uV"``
        Unit of array input (``"V"`` as MNE, i.e. as ``epochs.get_data()``).
        Ignored for Epochs and braindecode datasets, which are read from
        their MNE objects in the modality's unit (EEG in microvolts). A
        warning names the unit that looks right when the amplitudes are
        implausible for EEG in the declared unit.""",
    "recipe": """recipe : None | ``"authors"`` | ``"benchmark"``
        Filtering before the model (see
        :func:`mne_neurorvq.preprocessing.prepare_array`): None resamples
        only; ``"authors"`` applies the authors' notch, band-pass and 500 uV
        clip at the original rate, then resamples; ``"benchmark"`` resamples,
        then band-passes 0.5-45 Hz and re-references to the average. The data
        are always resampled to the model rate (EEG: 200 Hz).""",
    "clip": """clip : float | None
        Clip limit in the modality's unit (EEG: uV); None means the recipe's
        default (500 uV for ``"authors"``, no clip otherwise).""",
    "on_unknown": """on_unknown : ``"ignore"`` | ``"warn"`` | ``"raise"``
        What to do with channels of the modality whose name is not in the
        NeuroRVQ vocabulary (they are never used): leave them out (logged),
        leave them out with a warning, or raise.""",
    "device": """device : ``"auto"`` | str | torch.device
        Where the model runs: ``"auto"`` picks CUDA when available, else the
        CPU; or any torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        Resolved in :meth:`fit` into ``device_``; the parameter itself is
        never changed. With a GPU, run cross-validation with ``n_jobs=1``
        (batching happens inside).""",
    "batch_size": """batch_size : int
        Epochs per forward pass (an epoch longer than the model's token budget
        counts once per window).""",
    "precision": """precision : ``"float32"`` | ``"bf16"`` | ``"auto"``
        Precision of the transformer's forward pass. ``"float32"`` (default)
        is exact; ``"bf16"`` runs it under :func:`torch.autocast` with
        bfloat16 (about 2x faster on CPUs with AMX or AVX512-BF16 and on
        recent GPUs; results differ slightly: on real EEG about 99.4 %
        identical tokens, embedding cosine above 0.9999); ``"auto"`` uses
        bf16 where the device computes it natively (a CUDA GPU with bf16, a
        CPU with AVX512-BF16 or AMX), else float32. Resolved in :meth:`fit`
        into ``precision_``. The temporal convolutions, the heads into code
        space and the nearest-code search stay float32; the output dtype does
        not change.""",
    "verbose": """verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention). None:
        MNE's messages about each batch (resampling...) at warning level only,
        and a progress bar over the batches (when there is more than one) on
        a terminal at MNE's global info level; an explicit level applies to
        both, the bar then shown wherever standard error goes.""",
    "verbose_skorch": """verbose : int
        skorch's verbosity, as in every skorch and braindecode estimator (a
        skorch parameter, kept so that skorch's callbacks work): 0 prints
        nothing, 1 (default) prints the table of training epochs. MNE's
        messages about the data follow MNE's global log level.""",
    "input": """X : mne.Epochs | list of mne.Epochs | braindecode dataset | array-like, shape (n_epochs, n_channels, n_times) or (n_epochs, n_times)
        The epochs (see :mod:`mne_neurorvq.decoding` for the input contract):
        Epochs and braindecode windows datasets
        (``braindecode.datasets.BaseConcatDataset`` of ``WindowsDataset`` or
        ``EEGWindowsDataset``, a ``Subset`` of one, or
        ``skorch.helper.SliceDataset(dataset, idx=0)`` for scikit-learn's
        cross-validation) carry their channel names, rate and units;
        arrays need the ``ch_names`` and ``sfreq`` parameters and are in
        ``units``.""",  # noqa: E501
    "fit_attributes": """ch_names_ : list of str
        Original names of the channels used (known channels of the modality,
        not bad), in input order.
    input_chans_ : ndarray of int64, shape (n_channels_used,)
        Vocabulary index of each used channel (the tokens' spatial index).
    picks_ : ndarray of int64, shape (n_channels_used,)
        Indices of the used channels among the input channels.
    input_ch_names_ : list of str
        All input channel names seen in :meth:`fit`; :meth:`transform` needs
        the same ones, in the same order.
    n_features_in_ : int
        Number of input channels (MNE's convention: channels are features).
    sfreq_ : float
        Sampling rate of the input seen in :meth:`fit`, in Hz.
    preprocessing_ : mne_neurorvq.preprocessing.PreprocessingSteps
        What is done to the data before the model.
    n_patches_ : int
        Patches per channel of the epochs seen in :meth:`fit`.
    windows_ : list of (int, int)
        How such epochs are split to respect the model's token budget
        (:func:`mne_neurorvq.preprocessing.plan_windows`).
    model_ : torch.nn.Module
        The loaded model, in eval mode, on ``device_``.
    device_ : torch.device
        The device the model runs on.
    precision_ : str
        The precision used, ``"float32"`` or ``"bf16"`` (``precision``
        resolved).""",
}


def fill_doc(obj):
    """Fill ``%(name)s`` placeholders of a docstring from :data:`DOCDICT`.

    Each entry is re-indented to the indentation of its placeholder, so the
    same entry serves class docstrings and method docstrings.
    """
    lines = []
    for line in obj.__doc__.splitlines():
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            indent = line[: len(line) - len(line.lstrip())]
            entry = textwrap.dedent("    " + DOCDICT[stripped[2:-2]])
            lines += [indent + text if text else text for text in entry.splitlines()]
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines)
    return obj
