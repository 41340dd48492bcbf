"""The outbox and its sender: everything the bot sends on its own. Reminders (``reminders``) and
messages to staff (``messages``) are claimed in batches with a lease and sent by one sender
(``sender``), within one Telegram budget (``budget``), counted in the metrics (``metrics``);
``windows`` says ahead of time whether a delivery window will fit."""
