"""Staff accounts: users, sign-in with TOTP, invitations, passwords and permissions."""
