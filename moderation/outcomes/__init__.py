"""After a decision: decision callbacks to platforms, banking confirmed content, reversals and
appeals (effects.py is the entry point finalisation calls)."""
