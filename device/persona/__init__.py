"""Who the companion is and what it remembers."""
