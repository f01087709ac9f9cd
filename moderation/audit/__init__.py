"""The audit log: hash-chained events for every state change a person makes."""
