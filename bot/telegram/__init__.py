"""The Telegram adapter: turns PTB updates into core events and replies into Bot API calls."""
