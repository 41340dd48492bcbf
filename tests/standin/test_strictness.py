"""Where Telegram drops or refuses what a bot sends, the stand-in does too: unknown keys in
buttons and entities never come back, a button with two actions, an entity of an unknown type
and a file id of the wrong kind are refused with Telegram's 400."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest

from bot.standin import StandIn
from tests.standin.conftest import CHAT, PNG


async def call(standin: StandIn, method: str, **params: Any) -> httpx.Response:
    """A Bot API call with a JSON body, as any client could send it."""
    async with httpx.AsyncClient() as client:
        return await client.post(f"{standin.base_url}{standin.token}/{method}", json=params)


def refused(answer: httpx.Response, description: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"ok": False, "error_code": 400, "description": description}


async def test_unknown_keys_of_a_button_are_dropped(standin: StandIn) -> None:
    markup = {
        "inline_keyboard": [
            [{"text": "A", "callback_data": "a", "colour": "red", "secret": {"x": 1}}],
            [{"text": "Site", "url": "https://example.org/", "style": "primary", "foo": None}],
        ]
    }
    answer = await call(standin, "sendMessage", chat_id=CHAT, text="hi", reply_markup=markup)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "A", "callback_data": "a"}],
            [{"text": "Site", "url": "https://example.org/", "style": "primary"}],
        ]
    }
    edited = await call(
        standin,
        "editMessageReplyMarkup",
        chat_id=CHAT,
        message_id=answer.json()["result"]["message_id"],
        reply_markup={"inline_keyboard": [[{"text": "B", "callback_data": "b", "z": 1}]]},
    )
    assert edited.json()["result"]["reply_markup"] == {
        "inline_keyboard": [[{"text": "B", "callback_data": "b"}]]
    }


@pytest.mark.parametrize(
    ("button", "fields"),
    [
        (
            {"text": "Both", "url": "https://example.org/", "callback_data": "x"},
            "url and callback_data",
        ),
        (
            {"text": "Two", "callback_data": "x", "copy_text": {"text": "c"}},
            "callback_data and copy_text",
        ),
    ],
)
async def test_a_button_with_two_actions_is_refused(
    standin: StandIn, button: dict[str, Any], fields: str
) -> None:
    markup = {"inline_keyboard": [[button]]}
    answer = await call(standin, "sendMessage", chat_id=CHAT, text="hi", reply_markup=markup)
    refused(
        answer,
        "Bad Request: can't parse inline keyboard button: exactly one of the optional fields "
        f"must be used, not {fields}",
    )
    assert standin.private_chat(CHAT).messages == []


async def test_unknown_keys_of_an_entity_are_dropped(standin: StandIn) -> None:
    entities = [
        {"type": "bold", "offset": 0, "length": 5, "colour": "red"},
        {"type": "text_link", "offset": 6, "length": 5, "url": "https://example.org/", "x": 1},
        {"type": "pre", "offset": 0, "length": 2, "language": "python", "url": "https://a.b/"},
    ]
    answer = await call(standin, "sendMessage", chat_id=CHAT, text="Hello world", entities=entities)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["entities"] == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 6, "length": 5, "url": "https://example.org/"},
        {"type": "pre", "offset": 0, "length": 2, "language": "python"},
    ]


@pytest.mark.parametrize("kind", ["shiny", "Bold", "html", ""])
async def test_an_entity_of_an_unknown_type_is_refused(standin: StandIn, kind: str) -> None:
    entities = [{"type": kind, "offset": 0, "length": 2}]
    answer = await call(standin, "sendMessage", chat_id=CHAT, text="Hi", entities=entities)
    refused(answer, "Bad Request: can't parse MessageEntity: Unsupported type specified")
    assert standin.private_chat(CHAT).messages == []


async def test_a_documents_file_id_is_not_a_photo(bot: Bot, standin: StandIn) -> None:
    standin.per_chat_rate = None
    document = await bot.send_document(CHAT, PNG, filename="qr.png")
    photo = await bot.send_photo(CHAT, PNG)
    assert document.document is not None
    with pytest.raises(BadRequest, match="(?i)type of file mismatch"):
        await bot.send_photo(CHAT, document.document.file_id)
    assert standin.calls[-1].description == "Bad Request: type of file mismatch"
    with pytest.raises(BadRequest, match="(?i)type of file mismatch"):
        await bot.send_document(CHAT, photo.photo[-1].file_id)
    # Each kind is sent again by its own id.
    await bot.send_photo(CHAT, photo.photo[-1].file_id)
    await bot.send_document(CHAT, document.document.file_id)
    assert [m.kind for m in standin.private_chat(CHAT).messages] == [
        "document",
        "photo",
        "photo",
        "document",
    ]
