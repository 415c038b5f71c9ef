"""Article digests (next: issue 11): schedules, article ranking and plain-text excerpts. Services only:
no discord.py here."""
