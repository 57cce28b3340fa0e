"""crisiskit.state."""
