"""crisiskit.sim."""
