"""Intake: reports arrive (platform webhooks, Mastodon, the victim portal), verified and stored."""
