"""The bot's own wording (data/wording.py, which the action server shares)."""

from data.wording import content, say

__all__ = ["content", "say"]
