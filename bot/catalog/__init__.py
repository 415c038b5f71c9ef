"""The hub's catalogue as members see it: the cache in front of the hub, search, and model cards."""
