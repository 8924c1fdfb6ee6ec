"""Daily study item (每日学习): library, per-group rotation, exactly-once delivery ledger,
quiz participation. Platform-free: the Telegram parts live in bot/telegram/study.py."""
