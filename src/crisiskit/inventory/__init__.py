"""crisiskit.inventory."""
