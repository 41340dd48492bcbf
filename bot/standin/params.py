"""A Bot API request's parameters, read as Telegram reads them."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from bot.standin.errors import bad_request


class Params:
    """A request's parameters, read as the Bot API reads them: everything is a string on
    the wire (PTB JSON-encodes non-strings: ``true``, ``123``, reply_markup as JSON), an
    uploaded file is ``(filename, bytes)``."""

    def __init__(self, values: dict[str, Any], request: Request | None = None) -> None:
        self.values = values
        self.request = request

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    def integer(self, key: str) -> int | None:
        try:
            return int(self.text(key).strip())
        except ValueError:
            return None

    def seconds(self, key: str) -> float:
        try:
            return float(self.text(key) or 0)
        except ValueError:
            return 0.0

    def flag(self, key: str) -> bool:
        return self.text(key).strip().lower() in ("true", "1")

    def decoded(self, key: str, error: str) -> Any:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error) from None


async def read_values(request: Request) -> dict[str, Any]:
    """The parameters of a request: its query string, then its JSON, form or multipart body
    (an uploaded file as ``(filename, bytes)``)."""
    values: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return values
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            try:
                decoded = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if isinstance(decoded, dict):
                values.update(decoded)
        return values
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form(max_files=50, max_fields=1000)
        except Exception:
            raise bad_request("can't parse the request body") from None
        try:
            for field_name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    values[field_name] = (value.filename or field_name, data)
                else:
                    values[field_name] = value
        finally:
            await form.close()
    return values
