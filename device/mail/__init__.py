"""The owner's email: their own IMAP account read into a copy on the board (imap, cache), each mail
as plain words to be said (message), asked about by voice (intents/mail.py). Sending is not built."""
