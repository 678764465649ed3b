import numpy as np
import pytest
import torch

from mne_neurorvq.training import WindowBatchOrder, WindowDataset, find_recordings
from mne_neurorvq.training.data import collate_windows
from mne_neurorvq.training.sampler import derive_seed


def test_from_arrays_cuts_windows_and_groups_montages():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 1000))  # 2 epochs of 5 s -> 2 windows of 2 s each
    b = rng.standard_normal((1, 2, 600))
    ds = WindowDataset.from_arrays([a, b], [[36, 9, 10], [55, 56]], seconds=2)
    assert len(ds) == 5 and ds.n_patches == 2
    x, chan_idx, index = ds[0]
    assert x.shape == (3, 400) and x.dtype == torch.float32
    torch.testing.assert_close(x, torch.from_numpy(a[0, :, :400]).float())
    # second window of the first epoch, then the first of the second epoch
    torch.testing.assert_close(ds[1][0], torch.from_numpy(a[0, :, 400:800]).float())
    torch.testing.assert_close(ds[2][0], torch.from_numpy(a[1, :, :400]).float())
    assert chan_idx.tolist() == [36, 9, 10] and index == 0
    assert ds[4][1].tolist() == [55, 56]
    groups = ds.montage_groups()
    assert [g.tolist() for g in groups] == [[0, 1, 2, 3], [4]]  # by channel tuple
    shared = WindowDataset.from_arrays([a[:1], a[1:]], [36, 9, 10], seconds=2)
    assert len(shared) == 4 and shared.n_blocks == 2
    assert len(shared.montage_groups()) == 1


def test_from_arrays_resamples_and_checks_token_limit():
    data = np.zeros((1, 64, 500 * 8))
    ds = WindowDataset.from_arrays(data, list(range(64)), sfreq=500.0, seconds=4)
    assert len(ds) == 2 and ds[0][0].shape == (64, 800)
    with pytest.raises(ValueError, match="more than the model's 256"):
        WindowDataset.from_arrays(data, list(range(64)), sfreq=500.0, seconds=5)
    with pytest.raises(ValueError, match="whole number"):
        WindowDataset.from_arrays(data, list(range(64)), sfreq=500.0, seconds=1.5)


def test_collate_refuses_mixed_montages(dataset):
    groups = dataset.montage_groups()
    batch = collate_windows([dataset[int(groups[0][0])], dataset[int(groups[0][1])]])
    assert batch.x.shape[0] == 2 and batch.chan_idx.ndim == 1
    with pytest.raises(ValueError, match="different channel sets"):
        collate_windows([dataset[int(groups[0][0])], dataset[int(groups[1][0])]])


def test_batch_order_is_a_pure_function_of_seed_and_epoch(dataset):
    groups = dataset.montage_groups()
    order = WindowBatchOrder(groups, batch_size=5, seed=3)
    again = WindowBatchOrder(groups, batch_size=5, seed=3)
    first = order.batches(0)
    assert [b.tolist() for b in first] == [b.tolist() for b in again.batches(0)]
    assert [b.tolist() for b in first] != [b.tolist() for b in order.batches(1)]
    # each batch holds one montage; each window appears once per epoch
    for batch in first:
        assert sum(np.isin(batch, g).all() for g in groups) == 1
    assert sorted(np.concatenate(first).tolist()) == list(range(len(dataset)))
    assert len(order) == len(first) == 6  # 12 + 12 windows by 5: 3 + 3 batches
    # resuming skips the consumed batches of the same order
    assert [b.tolist() for b in order.batches(0, start=4)] == [
        b.tolist() for b in first[4:]
    ]


def test_batch_order_shards_across_processes(dataset):
    groups = dataset.montage_groups()
    full = WindowBatchOrder(groups, batch_size=4, seed=1).batches(2)
    shards = [
        WindowBatchOrder(groups, 4, seed=1, rank=r, world_size=4).batches(2)
        for r in range(4)
    ]
    assert all(len(s) == 1 for s in shards)  # 6 batches -> 4 used, 1 per process
    assert [s[0].tolist() for s in shards] == [b.tolist() for b in full[:4]]
    with pytest.raises(ValueError, match="No complete step"):
        WindowBatchOrder(groups, 12, seed=1, world_size=3)


def test_derive_seed_is_stable():
    assert derive_seed(0, "mask", 1) == derive_seed(0, "mask", 1)
    assert derive_seed(0, "mask", 1) != derive_seed(0, "mask", 2)
    assert derive_seed(0, "a") != derive_seed(0, "b")
    assert 0 <= derive_seed(123) < 2**63


def test_from_recordings_eegmat(data_path, tmp_path):
    files = find_recordings([data_path / "eegmat" / "Subject00_2.edf"])
    ds = WindowDataset.from_recordings(files, seconds=4, max_windows=3, verbose=False)
    assert len(ds) == 3
    x, chan_idx, _ = ds[0]
    assert x.shape == (19, 800)  # EEG A2-A1 and ECG left out
    assert 1 < float(x.std()) < 200  # microvolts
    assert len(set(chan_idx.tolist())) == 19
    with pytest.raises(ValueError, match="at most 13 s"):
        WindowDataset.from_recordings(files, seconds=14, verbose=False)
    with pytest.raises(FileNotFoundError):
        find_recordings([tmp_path])
