"""The demo: synthetic data and the one-command local stack behind `make demo`."""
