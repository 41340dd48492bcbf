"""Names and limits a clinic's use cases share."""

from __future__ import annotations

from datetime import timedelta

MAX_NAME = 120
BOOKING_TOPIC = "booking"
BOOKING_LEVEL = "booking"  # not a triage level: a request, listed with the alerts

# A patient's message counts as a reply to their clinic within this time of the clinic's last
# message to them (a Telegram reply to a clinic message counts at any time).
CONVERSATION_WINDOW = timedelta(hours=24)
