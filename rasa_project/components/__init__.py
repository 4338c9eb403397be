"""Bridgework's own Rasa components (named in config.yml by module path)."""
