"""The store's commits and index merge, without data or models."""

from __future__ import annotations

import numpy as np
import pytest

from mne_neurorvq.corpus import TokenStore
from mne_neurorvq.corpus.sharding import assign_shares
from mne_neurorvq.corpus.store import (
    INDEX_COLUMNS,
    STORE_FORMAT,
    create_store,
    merge_index,
    read_index,
    recording_key,
    write_index_row,
    write_tokens,
)

SETTINGS = dict(format=STORE_FORMAT, modality="eeg", recipe=None, segment_seconds=600)


def _row(recording, n_patches=3, status="ok"):
    return dict(
        recording=recording,
        status=status,
        key=recording_key(recording),
        source=f"/data/{recording}.edf",
        n_channels=2,
        n_patches=n_patches,
        ch_names=["Cz", "Pz"],
        chan_idx=[36, 71],
    )


def test_commits_merge_and_newer_rows_win(tmp_path):
    store = tmp_path / "s.zarr"
    create_store(store, SETTINGS)
    assert read_index(store).columns.tolist() == list(INDEX_COLUMNS)
    assert len(TokenStore(store).index) == 0
    tokens = np.arange(2 * 3 * 4 * 8, dtype=np.uint16).reshape(2, 3, 4, 8)
    for name in ("b", "a"):
        write_tokens(store, recording_key(name), tokens, {"recording": name})
        write_index_row(store, recording_key(name), _row(name))
    merged = merge_index(store)
    assert merged["recording"].tolist() == ["a", "b"]
    assert not list((store / "index-parts").glob("*.parquet"))
    # a newer commit of "a" (a changed source) replaces its array and row
    write_tokens(store, recording_key("a"), tokens[:, :1] + 1, {"recording": "a"})
    write_index_row(store, recording_key("a"), _row("a", n_patches=1))
    index = TokenStore(store).index.set_index("recording")
    assert index.loc["a", "n_patches"] == 1 and index.loc["b", "n_patches"] == 3
    np.testing.assert_array_equal(TokenStore(store).tokens("a"), tokens[:, :1] + 1)
    assert TokenStore(store).tokens("b").dtype == np.uint16
    assert not [p for p in store.rglob(".t*-*")]  # no temporary leftovers
    with pytest.raises(KeyError, match="Unknown index columns"):
        write_index_row(store, "x", {"recording": "x", "colour": "red"})


def test_skipped_recordings_have_no_tokens(tmp_path):
    store = tmp_path / "s.zarr"
    create_store(store, SETTINGS)
    row = dict(_row("bad", status="skipped"), reason="ValueError: too short")
    write_index_row(store, recording_key("bad"), row)
    assert TokenStore(store).recordings == []
    with pytest.raises(KeyError, match="skipped when the store was written: Val"):
        TokenStore(store).tokens("bad")


def test_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="No token store"):
        TokenStore(tmp_path)
    (tmp_path / "zarr.json").write_text('{"attributes": {}}')
    with pytest.raises(ValueError, match="not an mne-neurorvq token store"):
        TokenStore(tmp_path)


def test_recording_keys_are_file_safe_and_distinct():
    keys = {recording_key(r) for r in ("a/b.edf", "a_b.edf", "a b.edf", "../x")}
    assert len(keys) == 4
    assert all("/" not in key and not key.startswith(".") for key in keys)


def test_shares_are_disjoint_balanced_and_deterministic():
    sizes = [5, 1, 9, 3, 7, 7, 2]
    shares = assign_shares(sizes, 3)
    assert sorted(i for share in shares for i in share) == list(range(7))
    loads = [sum(sizes[i] for i in share) for share in shares]
    assert max(loads) - min(loads) <= max(sizes)
    assert assign_shares(sizes, 3) == shares
    assert assign_shares(sizes, 1) == [list(range(7))]
