"""Triage: analyse a report's media and texts, join clusters and rank it for review."""
