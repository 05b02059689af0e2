"""What is answered before the LLM: the clock, reminders, letters and care. A tiny model must not
improvise the time, a reminder or a reply to someone in crisis."""
