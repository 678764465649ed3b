import pytest

from mne_neurorvq.weights import PUBLISHED_WEIGHTS, fetch_weights, published_kind


def test_local_file_is_found_by_argument_env_and_config(tmp_path, monkeypatch):
    fname = PUBLISHED_WEIGHTS["neurorvq-eeg-tokenizer-v1"].filename
    (tmp_path / fname).write_bytes(b"x")
    assert fetch_weights("neurorvq-eeg-tokenizer-v1", path=tmp_path) == tmp_path / fname
    assert fetch_weights("neurorvq-eeg-tokenizer-v1", path=tmp_path / fname).is_file()
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS", str(tmp_path))
    assert (
        fetch_weights("neurorvq-eeg-tokenizer-v1", download=False) == tmp_path / fname
    )


def test_missing_file_error_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MNE_NEURORVQ_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        fetch_weights("neurorvq-eeg-foundation-v1", download=False)
    message = str(err.value)
    assert "NeuroRVQ_EEG_foundation_model_v1.pt" in message
    assert str(tmp_path / "cache") in message and "MNE_NEURORVQ_WEIGHTS" in message


def test_download_failure_offline_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(tmp_path))
    monkeypatch.delenv("MNE_NEURORVQ_WEIGHTS", raising=False)
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS_URL", "http://127.0.0.1:9/none")
    with pytest.raises(
        FileNotFoundError, match="download from http://127.0.0.1:9/none"
    ):
        fetch_weights("neurorvq-eeg-tokenizer-v1")


def test_unknown_name():
    with pytest.raises(ValueError, match="published names are"):
        fetch_weights("neurorvq-v9")
    assert published_kind("neurorvq-eeg-foundation-v1") == "foundation"
    assert published_kind("/some/path.pt") is None
