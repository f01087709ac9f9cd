"""/protect: people register hashes of their own photos (computed in their browser) so copies
reported later rank first; a case number and PIN let them see matches and withdraw."""
