"""The only component that talks to Telegram (or, without a token, a terminal)."""
