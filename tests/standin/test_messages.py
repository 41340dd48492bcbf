"""The real python-telegram-bot Bot against the stand-in: sending, formatting, keyboards,
edits, deletions, button answers, files, commands, and the HTTP surface."""

from __future__ import annotations

import json

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken

from bot.standin import StandIn
from tests.standin.conftest import CHAT, PNG


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=t)] for t in labels])


def last_description(standin: StandIn) -> str:
    description = standin.calls[-1].description
    assert description is not None
    return description


async def test_get_me_answers_the_bot_user(bot: Bot, standin: StandIn) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "aftercare_demo_bot", True)
    assert standin.calls[0].method == "getMe"


async def test_send_message_stores_raw_and_plain_text(bot: Bot, standin: StandIn) -> None:
    sent = await bot.send_message(
        CHAT, "\n<b>Day 1</b> &amp; <i>rest</i>\n\n", parse_mode=ParseMode.HTML
    )
    assert sent.text == "Day 1 & rest"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 5),
        ("italic", 8, 4),
    ]
    (message,) = standin.private_chat(CHAT).messages
    assert message.text == "Day 1 & rest"
    assert message.html == "\n<b>Day 1</b> &amp; <i>rest</i>\n\n"
    assert (message.parse_mode, message.kind, message.message_id) == ("HTML", "text", 1)
    assert standin.messages == [message]
    params = standin.calls[-1].params
    assert params["chat_id"] == str(CHAT) and params["parse_mode"] == "HTML"


async def test_plain_text_is_not_parsed(bot: Bot, standin: StandIn) -> None:
    sent = await bot.send_message(CHAT, "1 < 2 & <b>")
    assert sent.text == "1 < 2 & <b>"


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<x>hi</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("3 < 4", 'Unsupported start tag "" at byte offset 2'),
        ("a <", "Unclosed start tag at byte offset 2"),
        ("Tom&nbsp;Jerry", 'Unsupported HTML entity "&nbsp;" at byte offset 3'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused(bot: Bot, standin: StandIn, markup: str, detail: str) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(CHAT, markup, parse_mode=ParseMode.HTML)
    assert last_description(standin) == f"Bad Request: can't parse entities: {detail}"
    assert standin.messages == [] and standin.rejected == 1


async def test_text_limit_counts_the_parsed_text(bot: Bot, standin: StandIn) -> None:
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(CHAT, "é" * 4096)
    standin.per_chat_rate = None
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    assert last_description(standin) == "Bad Request: message is too long"


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("   \n", None, "Bad Request: text must be non-empty"),
        ("<b></b>", ParseMode.HTML, "Bad Request: text must be non-empty"),
        ("hi", "Markdown", "Bad Request: unsupported parse_mode 'markdown': "
         "the stand-in parses HTML only"),
        ("hi", "Fancy", "Bad Request: unsupported parse_mode"),
    ],
)  # fmt: skip
async def test_empty_or_unparseable_text(
    bot: Bot, standin: StandIn, text: str, parse_mode: str | None, description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, text, parse_mode=parse_mode)
    assert last_description(standin) == description


async def test_missing_text_and_unknown_chat(standin: StandIn) -> None:
    url = f"{standin.base_url}{standin.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        no_text = await client.post(url, data={"chat_id": CHAT})
        no_chat = await client.post(url, data={"text": "hi"})
        unknown = await client.post(url, data={"chat_id": 5, "text": "hi"})
    assert no_text.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message text is empty",
    }
    assert no_chat.json()["description"] == "Bad Request: chat_id is empty"
    assert unknown.status_code == 400
    assert unknown.json()["description"] == "Bad Request: chat not found"


async def test_blocked_user_gets_forbidden_and_updates(bot: Bot, standin: StandIn) -> None:
    standin.block(CHAT)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    assert standin.calls[-1].status == 403
    standin.unblock(CHAT)
    await bot.send_message(CHAT, "welcome back")
    blocked, unblocked = await bot.get_updates()
    assert blocked.my_chat_member is not None and unblocked.my_chat_member is not None
    assert blocked.my_chat_member.old_chat_member.status == "member"
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert blocked.my_chat_member.chat.id == CHAT
    assert unblocked.my_chat_member.new_chat_member.status == "member"
    assert unblocked.update_id == blocked.update_id + 1


async def test_keyboard_buttons_are_recorded(bot: Bot, standin: StandIn) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="y"),
                InlineKeyboardButton("No", callback_data="n"),
            ],
            [InlineKeyboardButton("Clinic", url="https://example.org/clinic")],
        ]
    )
    sent = await bot.send_message(CHAT, "Done?", reply_markup=markup)
    assert sent.reply_markup == markup
    message = standin.private_chat(CHAT).last
    assert [[b.text for b in row] for row in message.buttons] == [["Yes", "No"], ["Clinic"]]
    assert message.buttons[1][0].url == "https://example.org/clinic"
    assert json.loads(standin.calls[-1].params["reply_markup"]) == markup.to_dict()


async def test_a_reply_keyboard_is_not_an_inline_keyboard(bot: Bot, standin: StandIn) -> None:
    sent = await bot.send_message(CHAT, "Pick", reply_markup=ReplyKeyboardMarkup([["a", "b"]]))
    assert sent.reply_markup is None
    assert standin.private_chat(CHAT).last.buttons == []


@pytest.mark.parametrize(
    ("button", "description"),
    [
        (
            InlineKeyboardButton("Long", callback_data="x" * 65),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            InlineKeyboardButton("", callback_data="x"),
            "Bad Request: inline keyboard button text must be non-empty",
        ),
        (
            InlineKeyboardButton("Plain"),
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            InlineKeyboardButton("Bad", url="not a url"),
            "Bad Request: inline keyboard button URL 'not a url' is invalid: Wrong HTTP URL",
        ),
    ],
)
async def test_bad_buttons_are_refused(
    bot: Bot, standin: StandIn, button: InlineKeyboardButton, description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup([[button]]))
    assert last_description(standin) == description


async def test_callback_data_of_64_bytes_is_fine(bot: Bot) -> None:
    await bot.send_message(CHAT, "x", reply_markup=keyboard("é" * 32))


async def test_edits_and_not_modified(bot: Bot, standin: StandIn) -> None:
    sent = await bot.send_message(
        CHAT, "<b>Question</b>", parse_mode="HTML", reply_markup=keyboard("A")
    )
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("A"))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Question</b>", CHAT, sent.message_id, parse_mode="HTML", reply_markup=keyboard("A")
        )
    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    assert isinstance(edited, object)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id)
    await bot.edit_message_text("Answered", CHAT, sent.message_id)
    message = standin.private_chat(CHAT).last
    assert (message.text, message.buttons, message.edits) == ("Answered", [], 2)
    assert len(standin.messages) == 1
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", CHAT, 999)


async def test_delete_message(bot: Bot, standin: StandIn) -> None:
    sent = await bot.send_message(CHAT, "bye")
    assert await bot.delete_message(CHAT, sent.message_id)
    assert standin.private_chat(CHAT).last.deleted
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_answer_callback_query_once(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(CHAT)
    await bot.send_message(CHAT, "Pick", reply_markup=keyboard("A", "B"))
    query_id = chat.press("B")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert (update.callback_query.id, update.callback_query.data) == (query_id, "B")
    assert isinstance(update.callback_query.message, Message)
    assert update.callback_query.message.text == "Pick"
    with pytest.raises(BadRequest, match="(?i)message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Noted", show_alert=True)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    assert last_description(standin) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("123")
    (answer,) = chat.callback_answers
    assert (answer.query_id, answer.text, answer.show_alert) == (query_id, "Noted", True)


async def test_press_finds_buttons_by_text_or_index_and_explains_misses(
    bot: Bot, standin: StandIn
) -> None:
    chat = standin.private_chat(CHAT)
    with pytest.raises(LookupError, match="no message with buttons"):
        chat.press("A")
    first = await bot.send_message(CHAT, "1", reply_markup=keyboard("A", "B"))
    await bot.send_message(CHAT, "2", reply_markup=keyboard("C"))
    chat.press(0)
    chat.press("B", message=chat.messages[0])
    with pytest.raises(LookupError, match="its buttons: 0: 'C'"):
        chat.press("A")
    with pytest.raises(LookupError, match="no button 5"):
        chat.press(5)
    updates = await bot.get_updates()
    assert [u.callback_query.data for u in updates if u.callback_query] == ["C", "B"]
    assert updates[1].callback_query is not None
    assert updates[1].callback_query.message is not None
    assert updates[1].callback_query.message.message_id == first.message_id


async def test_photo_and_document_uploads_are_kept(bot: Bot, standin: StandIn) -> None:
    photo = await bot.send_photo(CHAT, PNG, caption="<b>Your QR</b>", parse_mode="HTML")
    assert photo.caption == "Your QR" and photo.photo[-1].width == 1
    document = await bot.send_document(CHAT, b"date,event\n", filename="export.csv")
    assert document.document is not None and document.document.file_name == "export.csv"
    shown_photo, shown_document = standin.private_chat(CHAT).messages
    assert (shown_photo.kind, shown_photo.file_bytes, shown_photo.caption) == (
        "photo",
        PNG,
        "Your QR",
    )
    assert shown_photo.caption_html == "<b>Your QR</b>"
    assert (shown_document.kind, shown_document.file_name) == ("document", "export.csv")
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"date,event\n"
    again = await bot.send_photo(CHAT, photo.photo[-1].file_id)
    assert standin.private_chat(CHAT).last.file_bytes == PNG
    assert again.photo[-1].file_id == photo.photo[-1].file_id


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        ({"photo": b"not an image"}, "Bad Request: IMAGE_PROCESS_FAILED"),
        ({"photo": PNG, "caption": "x" * 1025}, "Bad Request: message caption is too long"),
        ({"photo": "no-such-file-id"}, "Bad Request: wrong file identifier/HTTP URL specified"),
    ],
)
async def test_bad_photos_are_refused(
    bot: Bot, standin: StandIn, kwargs: dict[str, object], description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_photo(CHAT, **kwargs)  # type: ignore[arg-type]
    assert last_description(standin) == description


async def test_commands_are_validated_and_scoped(bot: Bot, standin: StandIn) -> None:
    commands = [BotCommand("start", "Begin"), BotCommand("help", "What I can do")]
    assert await bot.set_my_commands(commands)
    assert standin.commands == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "What I can do"},
    ]
    assert await bot.get_my_commands() == tuple(commands)
    scope = BotCommandScopeChat(CHAT)
    await bot.set_my_commands([BotCommand("stop", "Stop reminders")], scope=scope)
    assert [c.command for c in await bot.get_my_commands(scope=scope)] == ["stop"]
    assert await bot.get_my_commands(language_code="de") == ()
    assert await bot.delete_my_commands()
    assert standin.commands == []


@pytest.mark.parametrize(
    ("command", "description", "error"),
    [
        ("Start", "Begin", "Bad Request: BOT_COMMAND_INVALID"),
        ("with-dash", "Begin", "Bad Request: BOT_COMMAND_INVALID"),
        ("x" * 33, "Begin", "Bad Request: command length must not exceed 32"),
        ("start", " ", "Bad Request: command description must be non-empty"),
        ("start", "d" * 257, "Bad Request: command description length must not exceed 256"),
        ("/", "Begin", "Bad Request: command must be non-empty"),
    ],
)
async def test_bad_commands_are_refused(
    bot: Bot, standin: StandIn, command: str, description: str, error: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand(command, description)])
    assert last_description(standin) == error


async def test_chat_action_and_get_chat(bot: Bot, standin: StandIn) -> None:
    assert await bot.send_chat_action(CHAT, "typing")
    assert standin.private_chat(CHAT).actions == ["typing"]
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")
    chat = await bot.get_chat(CHAT)
    assert (chat.id, chat.type, chat.first_name) == (CHAT, "private", "Amina")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.get_chat(404)


async def test_unknown_method_and_wrong_token(standin: StandIn, bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{standin.base_url}{standin.token}/sendTelepathy")
        wrong = await client.post(f"{standin.base_url}654321:WRONG/getMe")
    assert (missing.status_code, missing.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")
    with pytest.raises(InvalidToken):
        await Bot("654321:WRONG", base_url=standin.base_url).get_me()


async def test_method_names_are_case_insensitive_and_json_bodies_work(standin: StandIn) -> None:
    url = f"{standin.base_url}{standin.token}/SENDMESSAGE"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            url, json={"chat_id": CHAT, "text": "hi", "reply_markup": markup}
        )
    assert answer.json()["result"]["reply_markup"] == markup
    assert standin.calls[-1].method == "sendMessage"
    assert standin.private_chat(CHAT).last.buttons[0][0].callback_data == "a"


async def test_captions_are_edited_and_a_photo_has_no_text(bot: Bot, standin: StandIn) -> None:
    photo = await bot.send_photo(CHAT, PNG, caption="before")
    edited = await bot.edit_message_caption(
        CHAT, photo.message_id, caption="<i>after</i>", parse_mode="HTML"
    )
    assert isinstance(edited, Message) and edited.caption == "after"
    assert standin.private_chat(CHAT).last.caption == "after"
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_caption(
            CHAT, photo.message_id, caption="<i>after</i>", parse_mode="HTML"
        )
    with pytest.raises(BadRequest, match="(?i)there is no text in the message to edit"):
        await bot.edit_message_text("text", CHAT, photo.message_id)


async def test_replies_must_point_at_an_existing_message(bot: Bot, standin: StandIn) -> None:
    asked = standin.private_chat(CHAT).send("Can I wash my face?")
    answer = await bot.send_message(CHAT, "Gently, yes.", reply_parameters=ReplyParameters(asked))
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Can I wash my face?"
    with pytest.raises(BadRequest, match="(?i)message to be replied not found"):
        await bot.send_message(CHAT, "?", reply_parameters=ReplyParameters(999))
    lenient = ReplyParameters(999, allow_sending_without_reply=True)
    assert (await bot.send_message(CHAT, "ok", reply_parameters=lenient)).reply_to_message is None


async def test_the_control_api_drives_a_chat_by_hand(standin: StandIn, bot: Bot) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{standin.port}") as client:
        sent = await client.post(f"/_standin/{CHAT}/send", data={"text": "/start"})
        await bot.send_message(CHAT, "Hello", reply_markup=keyboard("Go"))
        pressed = await client.post(f"/_standin/{CHAT}/press", data={"button": "0"})
        shown = await client.get(f"/_standin/{CHAT}/messages")
    assert sent.json() == {"message_id": 1}
    assert "callback_query_id" in pressed.json()
    assert [m["text"] for m in shown.json()] == ["Hello"]
    start, press = await bot.get_updates()
    assert start.message is not None and start.message.text == "/start"
    assert press.callback_query is not None and press.callback_query.data == "Go"
