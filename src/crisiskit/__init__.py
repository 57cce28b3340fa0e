"""crisiskit: the Métropole Aix-Marseille-Provence's cyber-crisis kit for its communes."""

__version__ = "0.1.0"
