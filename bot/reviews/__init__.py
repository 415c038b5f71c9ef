"""Reviews and reaction votes (next: issue 10): per-server votes and reviews, one per member per model
version, and posting a linked member's review to the hub. Services only: no discord.py here."""
