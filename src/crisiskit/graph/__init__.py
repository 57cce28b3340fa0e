"""crisiskit.graph."""
