"""RQ job entry points. Thin: open a session, call a service, close it."""
