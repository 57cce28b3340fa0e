"""crisiskit.plan."""
