"""Dialogue engines behind `stages.Dialogue`: `onnx` (onnxruntime-genai, the default), `llamacpp` (a
GGUF in-process), `openai` (any OpenAI-compatible server), and `fallback`, which puts a server in
front of a board engine and takes over when the server fails. `base` holds what they share."""
