"""telegram layer."""
