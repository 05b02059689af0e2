"""Long-term memory: what the owner tells the companion, kept in SQLite and found again by meaning.

`Memory.open(state_dir, cfg)` is the entry point; see `core.py`.
"""

from device.memory.core import FULL_NOTICE, Memory, Stored
from device.memory.database import MemoryFull, StoreError
from device.memory.extract import Fact, extract
from device.memory.store import ImportRejected, Record

__all__ = [
    "FULL_NOTICE",
    "Fact",
    "ImportRejected",
    "Memory",
    "MemoryFull",
    "Record",
    "Stored",
    "StoreError",
    "extract",
]
