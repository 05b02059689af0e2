"""Speech-to-text engines: `whisper` (segments, transcribed during the silence), `moonshine` and
`vosk` (streaming); `base` holds what they share. The contract is `stages.SpeechToText`."""
