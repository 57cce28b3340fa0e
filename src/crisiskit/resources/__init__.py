"""crisiskit.resources."""
