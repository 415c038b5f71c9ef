"""Command plumbing shared by every cog: error handling, permission checks, replies, views."""
