"""The voice pipeline: frames and events in, frames and events out. No hardware, no config parsing."""
