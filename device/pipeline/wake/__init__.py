"""Wake-word engines (the contract is `stages.WakeWord`): int16 16 kHz frames in, a score out
when the word fires. Three engines, all offline:

- `micro.MicroWakeWord`: microWakeWord tflite models via pymicro-wakeword (Apache-2.0, its own
  TFLite runtime).
- `openwakeword.OpenWakeWord`: openWakeWord's three ONNX models (melspectrogram -> embedding ->
  classifier) run directly with onnxruntime; the features mirror openwakeword 0.5.1's `AudioFeatures`.
- `keyphrase.KeyphraseWakeWord`: pocketsphinx keyphrase spotting for any phrase in its dictionary,
  no training.

Every engine re-buffers to its own step size, so callers may feed frames of any length (the pipeline
uses 512 samples). After a detection (or after the companion has spoken) the caller calls `reset()`:
the engine forgets what it heard, so the same utterance cannot fire twice. Detections land 0-0.5 s
after the end of the phrase (measured by `python -m device.evals.wake`), so keep a pre-roll buffer.
"""
