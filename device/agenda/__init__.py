"""The owner's calendar: events from their own CalDAV server or an ICS file on the board, kept in a
cache that answers offline (events), synced in the background (sync), read and changed by voice
(intents/calendar.py)."""
