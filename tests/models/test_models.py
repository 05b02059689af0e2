"""The model catalogue and the pinned-download path, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.models import catalog as models
from device.models.catalog import CATALOG, ModelCorrupt, ModelMissing, RemoteFile, resolve, verify
from device.models.fetch import DownloadError, download, fetch_into
from tests.conftest import run_os1

pytestmark = pytest.mark.models

PAYLOAD = b"model weights " * 50_000  # 700 kB


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("vosk-model-tiny/am/final.mdl", b"acoustic model")
        z.writestr("vosk-model-tiny/conf/model.conf", b"--sample-frequency=16000")
    return buf.getvalue()


ZIP = _zip_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = ZIP if self.path.endswith(".zip") else PAYLOAD
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.startswith("/drop"):  # the connection dies half way through
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_checks_the_hash_and_writes_atomically(server: str, tmp_path: Path) -> None:
    seen: list[int] = []
    out = download(
        f"{server}/weights.onnx", tmp_path / "weights.onnx", sha(PAYLOAD), lambda d, t: seen.append(d)
    )
    assert out.read_bytes() == PAYLOAD
    assert seen[-1] == len(PAYLOAD)
    assert [p.name for p in tmp_path.iterdir()] == ["weights.onnx"]


def test_wrong_hash_is_rejected_and_removed(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download(f"{server}/weights.onnx", tmp_path / "weights.onnx", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_leaves_nothing(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError):
        download(f"{server}/drop/weights.onnx", tmp_path / "weights.onnx", sha(PAYLOAD))
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_one_clear_line(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="download failed"):
        download(f"{server}/missing.onnx", tmp_path / "x.onnx", sha(PAYLOAD))


def test_fetch_unpacks_an_archive_into_the_model_folder(server: str, tmp_path: Path) -> None:
    folder = fetch_into(tmp_path / "vosk-model-tiny", (RemoteFile(f"{server}/m.zip", sha(ZIP), unpack=True),))
    assert (folder / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert not (folder / "m.zip").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vosk-model-tiny"]


def test_a_failed_fetch_keeps_the_previous_model(server: str, tmp_path: Path) -> None:
    folder = tmp_path / "voice"
    folder.mkdir()
    (folder / "voice.onnx").write_bytes(b"old but good")
    with pytest.raises(DownloadError):
        fetch_into(folder, (RemoteFile(f"{server}/drop/voice.onnx", sha(PAYLOAD)),))
    assert (folder / "voice.onnx").read_bytes() == b"old but good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voice"]


def test_cli_fetch_of_a_download_model(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.ModelSpec(
        "test-voice",
        "tts",
        "MIT",
        "test",
        files=(RemoteFile(f"{server}/test-voice.onnx", sha(PAYLOAD)),),
        main_file="test-voice.onnx",
    )
    monkeypatch.setitem(CATALOG, spec.id, spec)
    from device.cli import models as models_cli

    assert models_cli.cmd_fetch(["test-voice"], None, tmp_path, force=False) == 0
    assert resolve("test-voice", tmp_path) == tmp_path / "test-voice"
    assert verify("test-voice", tmp_path) == "SHA-256 OK"
    (tmp_path / "test-voice" / "test-voice.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelCorrupt, match="expected"):
        verify("test-voice", tmp_path)


def test_pip_shipped_models_resolve_and_match_their_recorded_hash() -> None:
    for model_id in ("silero-vad", "en_US-joe-medium", "whisper-tiny.en", "oww-hey_jarvis", "mww-hey_jarvis"):
        assert verify(model_id) == "SHA-256 OK", model_id


def test_missing_model_names_the_command_that_gets_it(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="os1 models fetch vosk-model-small-en-us-0.15"):
        resolve("vosk-model-small-en-us-0.15", tmp_path)
    with pytest.raises(ModelMissing, match="os1 models convert qwen2.5-0.5b-instruct-int4"):
        resolve("qwen2.5-0.5b-instruct-int4", tmp_path)
    with pytest.raises(ModelMissing, match="unknown model id"):
        resolve("gpt-5", tmp_path)


def test_device_profile_lists_real_pinned_downloads() -> None:
    device = [m for m in CATALOG.values() if "device" in m.profiles]
    roles = {m.role for m in device}
    assert {"stt", "llm", "tts"} <= roles
    for m in device:
        for f in m.files:
            assert f.url.startswith("https://") and len(f.sha256) == 64


def test_models_list_shows_licences_and_status(tmp_path: Path) -> None:
    r = run_os1("models", "list", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "CC-BY-NC-SA-4.0" in r.stdout and "vosk-model-small-en-us-0.15" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("silero-vad"))
    assert "installed" in line


def test_models_verify_fails_on_a_missing_model(tmp_path: Path) -> None:
    r = run_os1("models", "verify", "vosk-model-small-en-us-0.15", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 1
    assert "os1 models fetch vosk-model-small-en-us-0.15" in r.stdout


def test_device_profile_needs_no_torch_conversion() -> None:
    """A Pi fetches the profile with no torch: the only thing in it made by converting is the voice
    encoder, which needs numpy and onnx alone (the next test)."""
    device = [m for m in CATALOG.values() if "device" in m.profiles]
    assert [m.id for m in device if m.source == "convert"] == ["ge2e-voice-encoder"]
    assert "qwen2.5-0.5b-instruct-gguf" in {m.id for m in device}


@pytest.mark.models
def test_the_voice_encoder_converts_and_runs_with_torch_and_librosa_unimportable(tmp_path: Path) -> None:
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "librosa"):
            raise ImportError("blocked: not on a Pi")
sys.meta_path.insert(0, Block())
from pathlib import Path
import numpy as np
from device.models.catalog import resolve
from device.models.convert_voice import ONNX_FILE, convert_voice_encoder
from device.pipeline.voiceprint import VoiceEncoder
src = resolve("ge2e-voice-encoder-pt")
out = convert_voice_encoder(src, Path({str(tmp_path)!r}) / "enc", log=lambda s: None)
e = VoiceEncoder(out / ONNX_FILE).embed(np.random.default_rng(0).normal(0, 3000, 32000).astype(np.int16))
print(e.partials.shape, round(float(np.linalg.norm(e.vector)), 3))
"""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(2,", "256)", "1.0"], r.stdout


def test_fetch_goes_on_past_a_failure_and_names_it(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dropped download and a conversion whose source is missing each fail in one line; the models
    after them are still fetched, and the fetch exits 1 naming both."""

    def voice(name: str, path: str) -> models.ModelSpec:
        return models.ModelSpec(
            name,
            "tts",
            "MIT",
            "test",
            files=(RemoteFile(f"{server}{path}", sha(PAYLOAD)),),
            main_file=Path(path).name,
        )

    dropped = voice("voice-dropped", "/drop/a.onnx")
    converted = models.ModelSpec("llm-int4", "llm", "MIT", "test", convert_from="voice-never-fetched")
    never = voice("voice-never-fetched", "/missing/b.onnx")
    good = voice("voice-good", "/c.onnx")
    for m in (dropped, converted, never, good):
        monkeypatch.setitem(CATALOG, m.id, m)
    from device.cli import models as models_cli

    ids = [dropped.id, converted.id, good.id]
    assert models_cli.cmd_fetch(ids, None, tmp_path, force=False) == 1
    assert verify("voice-good", tmp_path) == "SHA-256 OK"
    err = [line for line in capsys.readouterr().err.splitlines() if "%" not in line and line]
    assert len(err) == 3, err
    assert err[0].startswith("voice-dropped: FAILED: ") and "connection dropped" in err[0]
    assert err[1].startswith("llm-int4: FAILED: ") and "voice-never-fetched" in err[1]
    assert err[2] == "os1: 2 of 3 models not fetched: voice-dropped, llm-int4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voice-good"]


def test_a_conversion_that_fails_is_one_line(tmp_path: Path) -> None:
    """A GGUF that is not one: `os1 models convert` says so in one line and exits non-zero."""
    gguf = tmp_path / "qwen2.5-0.5b-instruct-gguf" / "qwen2.5-0.5b-instruct-q8_0.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + b"\0" * 1000)
    r = run_os1("models", "convert", "qwen2.5-0.5b-instruct-int4", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("os1: ") and "qwen2.5-0.5b-instruct-q8_0.gguf" in last, r.stderr
    assert not (tmp_path / "qwen2.5-0.5b-instruct-int4").exists()
