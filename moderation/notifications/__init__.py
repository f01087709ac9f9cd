"""Email: the outbox and its SMTP sender, digests, urgent alerts, preferences and the other
messages people expect (invitations, new sign-ins, report status notices)."""
