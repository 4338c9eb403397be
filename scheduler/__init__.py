"""Nudges: when each patient hears from Bridgework, derived from the database rows."""
