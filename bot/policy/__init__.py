"""Per-server policies (``/settings``): typed, cached per guild, stored in ``bot.store.settings``."""
