"""Which exception becomes which exit code: a known failure is one line on stderr, never a traceback."""

from __future__ import annotations

import sys

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL

_DISK_FULL = 28  # errno ENOSPC


def report(e: Exception) -> int:
    """Print a known failure as `os1: …` and return its exit code; re-raise anything else."""
    from device.config.load import ConfigError
    from device.drivers.audio import AudioDeviceError
    from device.drivers.wavfile import AudioFileError
    from device.models.catalog import ModelCorrupt, ModelMissing
    from device.models.convert import ConversionError
    from device.models.fetch import DownloadError

    if isinstance(e, (ConfigError, AudioFileError, ModelMissing, ModelCorrupt)):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(e, (AudioDeviceError, DownloadError, ConversionError)):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_FAIL
    if isinstance(e, engine_errors()):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(e, OSError) and e.errno == _DISK_FULL:
        print(
            f"os1: the disk is full ({e.filename or 'writing'}); free some space and try again",
            file=sys.stderr,
        )
        return EXIT_FAIL
    raise e


def engine_errors() -> tuple[type[Exception], ...]:
    """Load errors of each engine: a corrupt or missing model, or an unreadable secrets file, is bad
    input, not a crash."""
    from device.config.secrets import SecretsError
    from device.pipeline.llm.base import ModelLoadError
    from device.pipeline.llm.openai import ServerError
    from device.pipeline.stt.base import SttModelError
    from device.pipeline.turn import TurnModelError
    from device.pipeline.vad import VadModelError
    from device.pipeline.voiceprint import VoiceprintError
    from device.pipeline.wake.base import WakeModelError

    return (
        ModelLoadError,
        SttModelError,
        TurnModelError,
        VadModelError,
        WakeModelError,
        SecretsError,
        ServerError,
        VoiceprintError,
    )
