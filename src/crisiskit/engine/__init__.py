"""crisiskit.engine."""
