"""The bottom layer: content rating (masks, ChannelPolicy), user-facing errors, small helpers.
Imports nothing else of the bot."""
