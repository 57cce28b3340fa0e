"""crisiskit.documents."""
