"""Rasa SDK custom actions. The action server imports every module here at start."""
