"""Complaints become tickets (诉求 → 工单): graded, routed to the branch secretary, timed,
escalated and followed up. Platform-free; the Telegram side is bot/telegram/tickets.py."""
