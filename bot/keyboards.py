"""Inline keyboards. Callback data is short, prefixed by purpose, and at most 64 bytes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from content.plan import ButtonAction
from content.texts import Texts

QUIET_PRESETS = ("21:00-08:00", "22:00-07:00", "23:00-09:00", "20:00-09:00")
STAMP = "|"
NOOP_DATA = "cal:noop"


def stamp(markup: InlineKeyboardMarkup, token: str) -> InlineKeyboardMarkup:
    """The same keyboard with ``token`` (what it was drawn for) on every button that acts, so a
    press can be refused once that no longer holds."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    button.text,
                    callback_data=f"{button.callback_data}{STAMP}{token}"
                    if isinstance(button.callback_data, str) and button.callback_data != NOOP_DATA
                    else button.callback_data,
                    url=button.url,
                )
                for button in row
            ]
            for row in markup.inline_keyboard
        ]
    )


def unstamp(data: str) -> tuple[str, str | None]:
    """A button's data and the token it was stamped with (None when it carries none)."""
    body, sep, token = data.rpartition(STAMP)
    return (body, token) if sep else (data, None)


def _rows(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def consent(texts: Texts) -> InlineKeyboardMarkup:
    """Yes / No to keeping the treatment date."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain("buttons.consent_yes"), callback_data="consent:yes"
                ),
                InlineKeyboardButton(texts.plain("buttons.consent_no"), callback_data="consent:no"),
            ]
        ]
    )


def session_date(texts: Texts) -> InlineKeyboardMarkup:
    """Today, Yesterday, or a calendar."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.plain("buttons.today"), callback_data="date:today"),
                InlineKeyboardButton(
                    texts.plain("buttons.yesterday"), callback_data="date:yesterday"
                ),
            ],
            [InlineKeyboardButton(texts.plain("buttons.pick_date"), callback_data="date:pick")],
        ]
    )


def date_choices(choices: Iterable[tuple[str, date]]) -> InlineKeyboardMarkup:
    """One button per candidate date, labelled in words."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=f"date:set:{value.isoformat()}")]
            for label, value in choices
        ]
    )


def change_timezone(texts: Texts) -> InlineKeyboardMarkup:
    """The one button under a confirmation: change the time zone."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.plain("buttons.change_timezone"), callback_data="tz:change")]]
    )


def timezones(texts: Texts, common: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Common zones as buttons; typing a city or an offset is the other way."""
    buttons = [
        InlineKeyboardButton(label, callback_data=f"tz:set:{zone}") for label, zone in common
    ]
    return InlineKeyboardMarkup(_rows(buttons, 2))


def quiet_hours(texts: Texts) -> InlineKeyboardMarkup:
    """Preset quiet spans, and off."""
    buttons = [
        InlineKeyboardButton(span, callback_data=f"quiet:set:{span}") for span in QUIET_PRESETS
    ]
    rows = _rows(buttons, 2)
    rows.append([InlineKeyboardButton(texts.plain("buttons.quiet_off"), callback_data="quiet:off")])
    return InlineKeyboardMarkup(rows)


_REMINDER_LABELS = {
    ButtonAction.DONE: "buttons.done",
    ButtonAction.SNOOZE: "buttons.snooze",
    ButtonAction.QUESTION: "buttons.question",
    ButtonAction.BOOK: "buttons.book",
    ButtonAction.BOOKED: "buttons.booked",
}


def reminder(
    texts: Texts, reminder_id: int, actions: Sequence[ButtonAction]
) -> InlineKeyboardMarkup | None:
    """The buttons under a reminder: Done, Remind me in 2 hours, I have a question..."""
    if not actions:
        return None
    buttons = [
        InlineKeyboardButton(
            texts.plain(_REMINDER_LABELS[action]), callback_data=f"rem:{action.value}:{reminder_id}"
        )
        for action in actions
    ]
    return InlineKeyboardMarkup([[b] for b in buttons])


def confirm_delete(texts: Texts) -> InlineKeyboardMarkup:
    """Erase everything, or keep it."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.plain("buttons.delete_yes"), callback_data="delete:yes")],
            [InlineKeyboardButton(texts.plain("buttons.delete_no"), callback_data="delete:no")],
        ]
    )


def offer_resume(texts: Texts) -> InlineKeyboardMarkup:
    """Resume reminders, or not now."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.plain("buttons.resume"), callback_data="resume:yes"),
                InlineKeyboardButton(texts.plain("buttons.not_now"), callback_data="resume:no"),
            ]
        ]
    )


def share_name(texts: Texts, clinic_id: int) -> InlineKeyboardMarkup:
    """Show the patient's first name to the clinic they joined, or not (the clinic's id in
    the data: an old question after a switch to another clinic changes nothing)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain("buttons.share_yes"), callback_data=f"name:yes:{clinic_id}"
                ),
                InlineKeyboardButton(
                    texts.plain("buttons.share_no"), callback_data=f"name:no:{clinic_id}"
                ),
            ]
        ]
    )


def enrol_confirm(texts: Texts, iso_date: str) -> InlineKeyboardMarkup:
    """The date the clinic filled in is right, or pick another."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain("buttons.enrol_yes"), callback_data=f"enrol:yes:{iso_date}"
                )
            ],
            [InlineKeyboardButton(texts.plain("buttons.enrol_other"), callback_data="enrol:no")],
        ]
    )
