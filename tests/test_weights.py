"""Published weights: where they come from, their checks, and working offline.

Downloads run against a real HTTP server on 127.0.0.1 serving the Hugging Face
Hub's URL layout (``tests/_hub_server.py``), with ``HF_ENDPOINT`` pointing at
it; nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from mne_neurorvq.cli import main
from mne_neurorvq.decoding import NeuroRVQTokenizer
from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
from mne_neurorvq.weights import (
    PUBLISHED_WEIGHTS,
    REPO_ID,
    REVISION,
    VERIFIED_FILE,
    PublishedWeights,
    WeightsIntegrityError,
    download_weights,
    fetch_weights,
    hub_cache_dir,
    published_kind,
    published_modality,
)

from ._hub_server import HubServer, closed_port
from .decoding._synthetic import _epochs

TEST_NAME = "test-tiny-tokenizer-v1"
#: The acceptance URLs of the two EEG files (issue 13), written out in full.
EEG_PATHS = {
    "neurorvq-eeg-tokenizer-v1": "/ntinosbarmpas/NeuroRVQ/resolve/"
    "d944b87f44ae0ba2923b2f10d0518f23f6803b76/pretrained_models/tokenizers/"
    "NeuroRVQ_EEG_tokenizer_v1.pt",
    "neurorvq-eeg-foundation-v1": "/ntinosbarmpas/NeuroRVQ/resolve/"
    "d944b87f44ae0ba2923b2f10d0518f23f6803b76/pretrained_models/foundation_models/"
    "NeuroRVQ_EEG_foundation_model_v1.pt",
}
EEG_SHA256_PREFIX = {
    "neurorvq-eeg-tokenizer-v1": "d3e850e1",
    "neurorvq-eeg-foundation-v1": "d14ef4ea",
}


@pytest.fixture(scope="module")
def tiny_bytes() -> bytes:
    """A tiny tokenizer checkpoint, as the bytes of a ``.pt`` file."""
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty download and Hub caches, no weights folder, no offline flag."""
    for key in ("MNE_NEURORVQ_WEIGHTS", "MNE_NEURORVQ_WEIGHTS_URL", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("MNE_NEURORVQ_NO_PROGRESS", "1")
    for key in ("NO_PROXY", "no_proxy"):  # the local Hub is never behind a proxy
        monkeypatch.setenv(key, "127.0.0.1,localhost")
    return tmp_path


@pytest.fixture
def tiny(tiny_bytes, monkeypatch) -> PublishedWeights:
    """A registered test entry whose published SHA-256 is the tiny file's."""
    info = PublishedWeights(
        TEST_NAME,
        "tiny_tokenizer.pt",
        "tokenizer",
        "tokenizers",
        sha256=hashlib.sha256(tiny_bytes).hexdigest(),
        size=len(tiny_bytes),
    )
    monkeypatch.setitem(PUBLISHED_WEIGHTS, TEST_NAME, info)
    return info


@pytest.fixture
def hub(env, monkeypatch):
    """The local Hub, with ``HF_ENDPOINT`` pointing at it."""
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def _serve(hub, info, content, cut=None):
    hub.serve(info.repo_id, info.revision, info.path, content, cut=cut)


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_download_is_pinned_hash_checked_and_cached(hub, tiny, tiny_bytes, env):
    _serve(hub, tiny, tiny_bytes)
    path = fetch_weights(TEST_NAME)
    assert path == env / "cache" / "tiny_tokenizer.pt"
    assert path.read_bytes() == tiny_bytes
    assert hub.downloads == [
        f"/ntinosbarmpas/NeuroRVQ/resolve/{REVISION}/"
        "pretrained_models/tokenizers/tiny_tokenizer.pt"
    ]
    assert hub.requests[1] == f"/blobs/{tiny.sha256}"  # the redirect was followed
    assert _files(env / "cache") == ["tiny_tokenizer.pt", VERIFIED_FILE]
    # cached: no second download
    assert fetch_weights(TEST_NAME) == path
    assert fetch_weights(TEST_NAME, download=False) == path
    assert len(hub.requests) == 2


def test_verified_file_is_not_hashed_again_until_it_changes(hub, tiny, tiny_bytes):
    _serve(hub, tiny, tiny_bytes)
    path = fetch_weights(TEST_NAME)
    stat = path.stat()
    # same size and modification time: the remembered verification holds, so
    # a changed byte goes unnoticed (proof that the file is not hashed again)
    path.write_bytes(tiny_bytes[:-1] + bytes([tiny_bytes[-1] ^ 1]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fetch_weights(TEST_NAME) == path
    # a new modification time: hashed again, and refused
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(WeightsIntegrityError, match=f"expected {tiny.sha256}"):
        fetch_weights(TEST_NAME)
    assert len(hub.downloads) == 1


def test_estimator_downloads_published_name(hub, tiny, tiny_bytes, tmp_path):
    _serve(hub, tiny, tiny_bytes)
    epochs = _epochs()
    tokenizer = NeuroRVQTokenizer(TEST_NAME, device="cpu", verbose=False)
    tokens = tokenizer.fit_transform(epochs)
    assert hub.downloads == [f"/{REPO_ID}/resolve/{REVISION}/{tiny.path}"]
    local = tmp_path / "local.pt"
    local.write_bytes(tiny_bytes)
    expected = NeuroRVQTokenizer(str(local), device="cpu", verbose=False)
    np.testing.assert_array_equal(tokens, expected.fit_transform(epochs))
    # a second estimator uses the cache
    NeuroRVQTokenizer(TEST_NAME, device="cpu", verbose=False).fit(epochs)
    assert len(hub.downloads) == 1


def test_wrong_download_is_refused_and_not_kept(hub, tiny, tiny_bytes, env):
    wrong = tiny_bytes[:-100]
    _serve(hub, tiny, wrong)
    with pytest.raises(WeightsIntegrityError) as err:
        fetch_weights(TEST_NAME)
    message = str(err.value)
    assert "tiny_tokenizer.pt" in message and f"expected {tiny.sha256}" in message
    assert hashlib.sha256(wrong).hexdigest() in message
    assert _files(env / "cache") == []  # not even a temporary file
    with pytest.raises(WeightsIntegrityError):  # the estimator says the same
        NeuroRVQTokenizer(TEST_NAME, verbose=False).fit(_epochs())


def test_interrupted_download_leaves_nothing(hub, tiny, tiny_bytes, env):
    _serve(hub, tiny, tiny_bytes, cut=len(tiny_bytes) // 2)
    with pytest.raises(FileNotFoundError, match="failed"):
        fetch_weights(TEST_NAME)
    assert _files(env / "cache") == []


@pytest.mark.parametrize("name", sorted(EEG_PATHS))
def test_published_eeg_files_are_pinned_and_hash_checked(hub, env, name):
    hub.serve(REPO_ID, REVISION, PUBLISHED_WEIGHTS[name].path, b"not the weights")
    with pytest.raises(WeightsIntegrityError, match=EEG_SHA256_PREFIX[name]):
        fetch_weights(name)
    assert hub.downloads == [EEG_PATHS[name]]
    assert not list((env / "cache").glob("*.pt"))


def test_offline_flag_makes_no_request(hub, tiny, tiny_bytes, env, monkeypatch):
    _serve(hub, tiny, tiny_bytes)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as err:
        fetch_weights(TEST_NAME)
    assert hub.requests == []
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message and tiny.url() in message
    assert str(env / "cache") in message and "MNE_NEURORVQ_WEIGHTS=" in message
    # the URL on the Hub itself too, since HF_ENDPOINT points at a mirror
    assert tiny.url(tiny.hub_url("https://huggingface.co")) in message
    with pytest.raises(FileNotFoundError):
        download_weights(TEST_NAME, env / "elsewhere")
    assert hub.requests == []


def test_real_names_offline_error_has_pinned_url(env, monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as err:
        fetch_weights("neurorvq-eeg-tokenizer-v1")
    assert f"https://huggingface.co{EEG_PATHS['neurorvq-eeg-tokenizer-v1']}" in str(
        err.value
    )


def test_unreachable_endpoint_gives_offline_error(env, tiny, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(FileNotFoundError) as err:
        fetch_weights(TEST_NAME)
    message = str(err.value)
    assert f"the download from {tiny.url()} failed (ConnectionError" in message
    assert str(env / "cache") in message and "MNE_NEURORVQ_WEIGHTS" in message
    assert _files(env / "cache") == []


def test_mirror_url_replaces_the_base(hub, tiny, tiny_bytes, monkeypatch):
    hub.serve("mirror", "v1", tiny.path, tiny_bytes)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # unused
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS_URL", f"{hub.endpoint}/mirror/resolve/v1")
    assert fetch_weights(TEST_NAME).read_bytes() == tiny_bytes
    assert hub.downloads == [f"/mirror/resolve/v1/{tiny.path}"]


def _write_hub_cache(root, info, content):
    """The Hub cache layout (blobs, refs, snapshots linking to blobs)."""
    repo = root / ("models--" + info.repo_id.replace("/", "--"))
    blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(info.revision)
    snapshot = repo / "snapshots" / info.revision / info.path
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    return snapshot


def test_hub_cache_is_used_offline(hub, tiny, tiny_bytes, env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = _write_hub_cache(env / "hub-cache", tiny, tiny_bytes)
    assert fetch_weights(TEST_NAME) == snapshot
    assert hub.requests == []
    # HF_HOME locates it too; another revision in the cache is not used
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(env / "hf-home"))
    assert hub_cache_dir() == env / "hf-home" / "hub"
    other = dataclasses.replace(tiny, revision="0" * 40)
    _write_hub_cache(env / "hf-home" / "hub", other, tiny_bytes)
    with pytest.raises(FileNotFoundError):
        fetch_weights(TEST_NAME)
    _write_hub_cache(env / "hf-home" / "hub2", tiny, tiny_bytes)
    monkeypatch.setenv("HF_HUB_CACHE", str(env / "hf-home" / "hub2"))
    assert fetch_weights(TEST_NAME).read_bytes() == tiny_bytes


def test_hub_cache_layout_agrees_with_huggingface_hub(tiny, tiny_bytes, env):
    hf = pytest.importorskip("huggingface_hub")
    snapshot = _write_hub_cache(env / "hub-cache", tiny, tiny_bytes)
    found = hf.try_to_load_from_cache(
        tiny.repo_id, tiny.path, cache_dir=hub_cache_dir(), revision=tiny.revision
    )
    assert found == str(snapshot)


def test_files_downloaded_by_huggingface_hub_are_used_offline(
    hub, tiny, tiny_bytes, env, monkeypatch
):
    hf = pytest.importorskip("huggingface_hub")
    _serve(hub, tiny, tiny_bytes)
    downloaded = hf.hf_hub_download(
        tiny.repo_id,
        tiny.path,
        revision=tiny.revision,
        cache_dir=env / "hub-cache",
        endpoint=hub.endpoint,
    )
    assert hub.downloads  # huggingface_hub itself asked the local Hub
    n_requests = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch_weights(TEST_NAME) == Path(downloaded)
    assert len(hub.requests) == n_requests


def test_local_file_is_found_by_argument_env_and_cache(
    env, tiny, tiny_bytes, monkeypatch
):
    folder = env / "weights"
    folder.mkdir()
    (folder / tiny.filename).write_bytes(tiny_bytes)
    assert fetch_weights(TEST_NAME, path=folder) == folder / tiny.filename
    assert fetch_weights(TEST_NAME, path=folder / tiny.filename).is_file()
    with pytest.raises(FileNotFoundError, match="No tiny_tokenizer.pt at"):
        fetch_weights(TEST_NAME, path=env)
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS", str(folder))
    assert fetch_weights(TEST_NAME, download=False) == folder / tiny.filename
    verified = json.loads((env / "cache" / VERIFIED_FILE).read_text())
    assert list(verified) == [str((folder / tiny.filename).resolve())]


def test_wrong_local_files_are_refused_before_unpickling(env, monkeypatch):
    folder = env / "weights"
    folder.mkdir()
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS", str(folder))
    tokenizer = PUBLISHED_WEIGHTS["neurorvq-eeg-tokenizer-v1"]
    (folder / tokenizer.filename).write_bytes(b"x" * 1000)
    with pytest.raises(WeightsIntegrityError, match="1,000 bytes.*304,130,106 bytes"):
        NeuroRVQTokenizer("neurorvq-eeg-tokenizer-v1", verbose=False).fit(_epochs())
    foundation = PUBLISHED_WEIGHTS["neurorvq-eeg-foundation-v1"]
    (folder / foundation.filename).write_bytes(b"x" * 1000)
    with pytest.raises(WeightsIntegrityError, match=foundation.sha256):
        fetch_weights("neurorvq-eeg-foundation-v1", download=False)


def test_user_checkpoints_are_not_hashed(env, tiny_bytes):
    path = env / "mine.pt"
    path.write_bytes(tiny_bytes)
    NeuroRVQTokenizer(str(path), verbose=False).fit(_epochs())
    assert not (env / "cache" / VERIFIED_FILE).exists()


def test_missing_file_error_says_where_to_put_it(env):
    with pytest.raises(FileNotFoundError) as err:
        fetch_weights("neurorvq-eeg-foundation-v1", download=False)
    message = str(err.value)
    assert "NeuroRVQ_EEG_foundation_model_v1.pt" in message
    assert str(env / "cache") in message and "MNE_NEURORVQ_WEIGHTS" in message


def test_registry():
    with pytest.raises(ValueError, match="published names are"):
        fetch_weights("neurorvq-v9")
    assert published_kind("neurorvq-eeg-foundation-v1") == "foundation"
    assert published_kind("/some/path.pt") is None
    assert published_modality("neurorvq-eeg-tokenizer-v1") == "eeg"
    assert published_modality({"a": 1}) is None
    others = {
        "neurorvq-ecg-tokenizer-v1": "tokenizers/NeuroRVQ_ECG_tokenizer_v1.pt",
        "neurorvq-emg-tokenizer-v1": "tokenizers/NeuroRVQ_EMG_tokenizer_v1.pt",
        "neurorvq-ppg-tokenizer-v1": "tokenizers/NeuroRVQ_PPG_tokenizer_v1.pt",
        "neurorvq-ecg-foundation-v1": "foundation_models/"
        "NeuroRVQ_ECG_foundation_model_v1.pt",
        "neurorvq-emg-foundation-v1": "foundation_models/"
        "NeuroRVQ_EMG_foundation_model_v1.pt",
    }
    for name, path in others.items():
        info = PUBLISHED_WEIGHTS[name]
        assert info.path == f"pretrained_models/{path}" and info.sha256 is None
        assert info.modality == name.split("-")[1] and info.revision == REVISION
    assert set(PUBLISHED_WEIGHTS) == set(others) | set(EEG_PATHS)


def test_unhashed_files_download_from_the_pinned_revision(hub, env):
    info = PUBLISHED_WEIGHTS["neurorvq-ecg-tokenizer-v1"]
    hub.serve(REPO_ID, REVISION, info.path, b"ecg weights")
    assert fetch_weights(info.name).read_bytes() == b"ecg weights"
    assert hub.downloads == [f"/{REPO_ID}/resolve/{REVISION}/{info.path}"]
    assert _files(env / "cache") == [info.filename]


# ------------------------------------------------------ mne-neurorvq download


def test_download_command(hub, tiny, tiny_bytes, env, capsys, monkeypatch):
    _serve(hub, tiny, tiny_bytes)
    monkeypatch.delenv("MNE_NEURORVQ_NO_PROGRESS")  # with the progress bar
    folder = env / "for-the-cluster"
    assert main(["download", TEST_NAME, "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{TEST_NAME}: {folder / tiny.filename}" in out
    assert f"{len(tiny_bytes):,} bytes" in out and tiny.sha256 in out
    assert f"export MNE_NEURORVQ_WEIGHTS={folder}" in out
    assert (folder / tiny.filename).read_bytes() == tiny_bytes
    # already there and verified: not downloaded again
    assert main(["download", TEST_NAME, "--dir", str(folder)]) == 0
    assert len(hub.downloads) == 1
    # the printed line makes the package use the folder
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS", str(folder))
    assert fetch_weights(TEST_NAME, download=False) == folder / tiny.filename


def test_download_command_defaults_to_the_eeg_files(hub, env, capsys):
    for name in EEG_PATHS:
        hub.serve(REPO_ID, REVISION, PUBLISHED_WEIGHTS[name].path, b"wrong")
    assert main(["download"]) == 1
    assert "d3e850e1" in capsys.readouterr().err
    assert hub.downloads == [EEG_PATHS["neurorvq-eeg-tokenizer-v1"]]
    with pytest.raises(SystemExit) as exit_:
        main(["download", "--help"])
    assert exit_.value.code == 0
    assert "--dir DIR" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["download", "neurorvq-v9"])
