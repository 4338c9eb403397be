"""What every process that talks to patients shares: the Rasa client, replies and how a
delivery ended. The bot (Telegram edge) and the scheduler (nudges) both import it; it
imports neither."""
