"""The soak's daemon: `os1 run` itself (device.app.daemon.run, the whole companion with its control
socket, reminders and memory), on the soak's sound card and gpiozero's MockFactory button, in a process
of its own so what is measured is the daemon and nothing else.

    python -m device.evals.reliability.soak_daemon WORK

WORK holds plan.json and clips/ (device.evals.reliability.soak_day); the config, state and models come
from OS1_CONFIG, OS1_STATE_DIR and OS1_MODELS_DIR as for `os1 run`. It writes WORK/events.jsonl: each
request's turn and response gap, every unplug, and every minute of audio its RSS, threads and
open files."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

from device.app import daemon, logs
from device.config import load as configuration
from device.drivers.audio_devices import AudioDevices, Backoff
from device.evals.reliability.soak_day import load_plan
from device.evals.reliability.soak_devices import (
    SoakEarpiece,
    SoakFeed,
    SoakMicrophone,
    TurnLines,
    process_figures,
)


def main(work: Path) -> int:
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    logs.setup(verbose=False)
    cfg, _source = configuration.load(None)
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    pin = Device.pin_factory.pin(cfg.button.pin)
    stop = threading.Event()
    with (work / "events.jsonl").open("w") as events:
        # The button is wired to ground with the pull-up: pressed is low.
        feed = SoakFeed(load_plan(work / "plan.json"), work / "clips", events, press=lambda down: (
            pin.drive_low() if down else pin.drive_high()
        ))  # fmt: skip
        logging.getLogger("os1.daemon").addHandler(TurnLines(feed))
        retry = cfg.audio_reconnect
        audio = AudioDevices(
            open_mic=lambda: SoakMicrophone(feed),
            open_ear=lambda playback: SoakEarpiece(feed, playback),
            mic_name="soak",
            ear_name="soak",
            backoff=Backoff(retry.first_retry_s, retry.max_retry_s),
            stop=stop,
            volume=cfg.audio.volume,
        )
        feed.backlog = audio.backlog

        def end_of_day() -> None:
            feed.done.wait()
            time.sleep(5)  # the last reply, and a reminder just due
            feed.record("end", **process_figures(), epoch=time.time(), devices=audio.status())
            stop.set()

        threading.Thread(target=end_of_day, name="soak-end", daemon=True).start()
        feed.record("start", **process_figures())
        return daemon.run(cfg, stop=stop, audio=audio)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
