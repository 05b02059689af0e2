"""Speech on a home server over Wyoming (Home Assistant's protocol): a Whisper that listens and a Piper
that speaks, e.g. wyoming-faster-whisper and wyoming-piper. Plain clients: each raises WyomingError
when the server fails, and the fallback (speech_fallback.py) decides what the board does about it.

Blocking sockets on worker threads: the microphone's thread only ever puts a frame on a queue.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, resample, to_int16
from device.pipeline.stages import SttCapabilities
from device.pipeline.text import split_sentences, tidy_transcript
from device.pipeline.tts import Prosody

log = logging.getLogger("os1.wyoming")

CHUNK_SAMPLES = 1024  # what wyoming-satellite sends: 64 ms at 16 kHz


class WyomingError(Exception):
    """The server is unreachable, too slow, closed the connection, or sent something unexpected."""


def parse_uri(uri: str) -> tuple[str, int]:
    """tcp://host:port → (host, port); raises ValueError with the form expected."""
    u = urlparse(uri)
    if u.scheme != "tcp" or not u.hostname or u.port is None:
        raise ValueError(
            f"{uri!r} is not a Wyoming address: use tcp://host:port (e.g. tcp://homeserver:10300)"
        )
    return u.hostname, u.port


class Connection:
    """One TCP connection speaking Wyoming events, with a deadline on every read."""

    def __init__(self, uri: str, connect_timeout_s: float = 2.0):
        from wyoming.event import read_event, write_event  # the package is only needed with a server

        self._read, self._write = read_event, write_event
        self.uri = uri
        host, port = parse_uri(uri)
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as e:
            raise WyomingError(f"{uri} {_why(e)}") from e
        self.file = self.sock.makefile("rwb")

    def send(self, event: object) -> None:
        try:
            self._write(event.event(), self.file)  # type: ignore[attr-defined]
        except OSError as e:
            raise WyomingError(f"{self.uri} {_why(e)}") from e

    def read(self, timeout_s: float):  # noqa: ANN201 (wyoming.event.Event)
        """The next event within `timeout_s`; WyomingError on a timeout or a closed connection."""
        if timeout_s <= 0:
            raise WyomingError(f"{self.uri} sent nothing in time")
        self.sock.settimeout(timeout_s)
        try:
            event = self._read(self.file)
        except TimeoutError as e:
            raise WyomingError(f"{self.uri} sent nothing within {timeout_s * 1000:.0f} ms") from e
        except OSError as e:
            raise WyomingError(f"{self.uri} {_why(e)}") from e
        if event is None:
            raise WyomingError(f"{self.uri} closed the connection")
        if event.type == "error":
            raise WyomingError(f"{self.uri} failed: {str(event.data.get('text', ''))[:120]}")
        return event

    def close(self) -> None:
        """Also from another thread: a blocked send or read ends at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _why(e: OSError) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "refused the connection (is the server running?)"
    if isinstance(e, TimeoutError):
        return "did not answer in time"
    return f"failed: {e.strerror or e}"


def describe(uri: str, timeout_s: float = 2.0) -> str:
    """The health check: ask the server what it offers; returns its first program's name."""
    from wyoming.info import Describe, Info

    conn = Connection(uri, timeout_s)
    try:
        conn.send(Describe())
        deadline = time.monotonic() + timeout_s
        while True:
            event = conn.read(deadline - time.monotonic())
            if Info.is_type(event.type):
                info = Info.from_event(event)
                programs = [*info.asr, *info.tts]
                return programs[0].name if programs else "wyoming"
    finally:
        conn.close()


_STOP = object()


class WyomingSTT:
    """Speech to text on the server. Frames are sent as they come, from a sender thread; `finish`
    waits for the transcript. The server transcribes at the end, so there is no hypothesis."""

    capabilities = SttCapabilities()

    def __init__(self, uri: str, language: str = "en", connect_timeout_s: float = 2.0):
        parse_uri(uri)
        self.uri = uri
        self.language = language
        self.connect_timeout_s = connect_timeout_s
        self._frames: queue.Queue[object] | None = None
        self._conn: Connection | None = None
        self._result: queue.Queue[str | WyomingError] = queue.Queue()

    def start(self) -> None:
        self.drop()
        self._frames, self._result = queue.Queue(), queue.Queue()
        threading.Thread(
            target=self._send, args=(self._frames, self._result), name="stt-wyoming", daemon=True
        ).start()

    def accept(self, frame: np.ndarray) -> None:
        if self._frames is None:
            self.start()
        assert self._frames is not None
        self._frames.put(to_int16(np.asarray(frame)).tobytes())  # never blocks the microphone

    def partial(self) -> str:
        return ""

    def hypothesis(self) -> str:
        return ""

    def speculate(self) -> None:
        """The server transcribes when the audio stops."""

    def finish(self, timeout_s: float = 30.0) -> str:
        """The transcript, within `timeout_s` of the end of the audio; WyomingError if not."""
        frames, result = self._frames, self._result
        if frames is None:
            return ""
        frames.put(_STOP)
        self._frames = None
        try:
            got = result.get(timeout=timeout_s)
        except queue.Empty:
            self._close()  # a hung server: the sender thread's blocked read ends
            raise WyomingError(f"{self.uri} gave no transcript within {timeout_s * 1000:.0f} ms") from None
        if isinstance(got, WyomingError):
            raise got
        return got

    def drop(self) -> None:
        if self._frames is not None:
            self._frames.put(None)  # the sender closes without a transcript
            self._frames = None

    def _close(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.close()

    def _send(self, frames: queue.Queue[object], result: queue.Queue[str | WyomingError]) -> None:
        from wyoming.asr import Transcribe, Transcript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        conn: Connection | None = None
        try:
            conn = self._conn = Connection(self.uri, self.connect_timeout_s)
            conn.send(Transcribe(language=self.language))
            conn.send(AudioStart(rate=SAMPLE_RATE, width=2, channels=1))
            pending, step = b"", CHUNK_SAMPLES * 2

            def chunk(audio: bytes) -> AudioChunk:
                return AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=audio)

            while True:
                item = frames.get()
                if item is None:
                    return  # dropped
                if item is _STOP:
                    break
                pending += item  # type: ignore[operator]
                while len(pending) >= step:
                    conn.send(chunk(pending[:step]))
                    pending = pending[step:]
            if pending:
                conn.send(chunk(pending))
            conn.send(AudioStop())
            while True:  # finish() keeps the deadline; this read only ends with the connection
                event = conn.read(3600.0)
                if Transcript.is_type(event.type):
                    result.put(tidy_transcript(Transcript.from_event(event).text))
                    return
        except WyomingError as e:
            result.put(e)
        except Exception as e:  # anything else from the socket or the package: still the server's fault
            result.put(WyomingError(f"{self.uri} failed: {e}"))
        finally:
            if conn is not None:
                conn.close()


class WyomingTTS:
    """Text to speech on the server, one request per sentence, each sentence's audio whole (so a
    failure mid-sentence leaves nothing half said). Resampled to `sample_rate`, the board's voice's."""

    def __init__(
        self,
        uri: str,
        sample_rate: int,
        voice: str = "",
        prosody: Prosody | None = None,
        connect_timeout_s: float = 2.0,
    ):
        parse_uri(uri)
        self.uri = uri
        self.sample_rate = sample_rate
        self.voice = voice
        self.prosody = prosody or Prosody()
        self.connect_timeout_s = connect_timeout_s

    def synthesize(
        self, text: str, prosody: Prosody | None = None, timeout_s: float = 30.0
    ) -> Iterator[np.ndarray]:
        """Each sentence's audio; `timeout_s` is the most the server may keep silent at any point."""
        volume = (prosody or self.prosody).volume
        for sentence in split_sentences(text.strip()):
            audio = self.sentence(sentence, timeout_s)
            if volume != 1.0:  # the server's voice has no volume knob: turn it down here
                audio = to_int16(audio.astype(np.float32) * volume / 32768.0)
            if len(audio):
                yield audio

    def sentence(self, text: str, timeout_s: float) -> np.ndarray:
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.tts import Synthesize, SynthesizeVoice

        conn = Connection(self.uri, self.connect_timeout_s)
        try:
            conn.send(Synthesize(text=text, voice=SynthesizeVoice(name=self.voice) if self.voice else None))
            rate, width, parts = 0, 2, []
            while True:
                event = conn.read(timeout_s)
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    rate, width = start.rate, start.width
                elif AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    rate, width = rate or chunk.rate, chunk.width
                    parts.append(chunk.audio)
                elif AudioStop.is_type(event.type):
                    break
        finally:
            conn.close()
        if width != 2 or not rate:
            raise WyomingError(f"{self.uri} sent audio the board cannot play (width {width}, rate {rate})")
        audio = np.frombuffer(b"".join(parts), np.int16)
        return resample(audio, rate, self.sample_rate)
