"""Rasa input channels of Bridgework's own (loaded by Rasa from credentials.yml)."""
