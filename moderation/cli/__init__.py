"""The `moderation` command and its groups."""
