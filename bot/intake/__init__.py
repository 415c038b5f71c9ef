"""Link-based upload intake (next: issue 12): the guarded fetcher, safetensors inspection, hashes,
pickle scanning and jobs. Services only: no discord.py here."""
