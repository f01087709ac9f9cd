"""Review: the moderators' queue, the item page, claims, decisions, reveals and wellness."""
