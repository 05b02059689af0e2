"""`os1 bench`: how fast the whole pipeline answers, measured the way the user feels it.

    os1 bench [--requests N] [--no-sequential] [--stt moonshine] [--input-dir DIR] [--json F] [--plot F.png]

Every request runs through the real pipeline (the configured engines and models) with the recording fed at
the microphone's real-time pace and the reply played at the earpiece's pace (the drivers' file stand-ins).
The requests are synthesized ("Hey Jarvis. <request>") in the Piper voice at several speeds and in
espeak-ng voices, some over white noise, and cached as WAVs in a temp dir (nothing is committed).

Each clip first goes through the wake word alone (fast). One it misses (openWakeWord misses some
espeak-ng voices) is run as if the button had been tapped before it (`loop.addressed()`), so every other
stage is still measured; the misses are counted. A few requests are cut off with `loop.tap()` one second
into the reply to time barge-in. The whole set runs twice, streaming and sequential
(`LoopSettings.sequential`: full transcript, full reply, full speech, then play), and the ratio of their
median response gaps is reported.

Then, on the same inputs: raw onnxruntime-genai and Piper calls against our dialogue and TTS wrappers (our
overhead), the other STT engine offline, idle CPU with only VAD and wake word running, and peak RSS.
Nothing is asserted: the targets from the issue are printed next to the measured values.

The modules, in the order a run uses them:

- `main`: `run(cfg, opts)` and `options_from_args(args)` (what the CLI calls), `BenchOptions`, warming
  the engines, `measure` (every set, then the comparisons) and the report put together.
- `corpus`: the requests: `Voice`, `Recipe`, `Request`, synthesizing and caching the clips, or
  `wav_requests` for the user's own recordings.
- `harness`: one request fed in real time to a fresh loop (`one_pass`, `run_request`), a whole set
  (`run_set`), `Outcome`, and the loop and microphone helpers.
- `system`: peak and current RSS, the machine's busy CPU (`OtherLoad`), and idle CPU.
- `stats`: `TARGETS`, `METRICS`, one row per request (`request_row`), medians and p90s (`summarize`),
  the response gap stage by stage, and the streaming/sequential ratios.
- `overhead`: raw engines vs ours: TTS, LLM, and the STT engines offline.
- `report`: the tables and text lines.
- `plot`: the waterfall of one request (`--plot`).
"""
