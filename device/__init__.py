"""OS1: an offline, wearable voice companion."""
