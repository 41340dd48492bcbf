"""A patient's care: planning reminders from a session date (pure), registering and changing
sessions, the conversation's pending prompt and turns, the visit of one update, and the triage's
questions and escalations."""
