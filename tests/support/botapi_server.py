"""A strict fake of the Telegram Bot API, served over real HTTP for tests.

The real Telegram is out of reach in tests, so the bot is pointed at this server instead::

    with FakeBotApi(TOKEN) as api:
        app = (ApplicationBuilder().token(TOKEN)
               .base_url(f"{api.base_url}/bot").base_file_url(f"{api.base_url}/file/bot").build())
        api.send_text(42, "/start")
        api.wait_for_sent(42, 1)

It is deliberately as strict as Telegram: the errors a real deployment would hit (a text over
4096 UTF-16 units, 65 bytes of callback_data, unescaped HTML, a flood of messages to one chat, a
second getUpdates poller, a user who blocked the bot...) come back with Telegram's status codes
and descriptions, so a test fails where production would.

Only the standard library is used.  The server runs on a daemon thread, so it serves synchronous
pytest code and asyncio code alike.  All state is guarded by one ``threading.Condition``; the
long poll waits on it, and the test-side ``wait_*`` helpers do too.

Like the real server, every request parameter is handled as a string (JSON bodies are converted
the way Telegram's own server does), so ``calls`` shows exactly what went over the wire.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["ApiError", "FakeBotApi"]

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, counted after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA = 64  # bytes of UTF-8
MAX_CALLBACK_ANSWER = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DELETE_WINDOW_SECONDS = 48 * 3600
LONG_POLL_MAX_TIMEOUT = 50

BLOCKED = "Forbidden: bot was blocked by the user"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

# Telegram rejects a token of the wrong shape with 404 and a well-formed but wrong one with 401.
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_LEADING_INT = re.compile(r"\s*(-?\d+)")

# Update types delivered when allowed_updates is empty or was never given.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}

_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}

# Methods that post into a chat; only these count against the flood limits.
_RATE_LIMITED = {
    "sendMessage",
    "sendDocument",
    "sendPhoto",
    "sendAudio",
    "sendVideo",
    "sendVoice",
    "sendAnimation",
    "sendSticker",
    "sendVideoNote",
    "sendMediaGroup",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendPoll",
    "sendDice",
    "sendInvoice",
    "sendGame",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "editMessageMedia",
}

# Every method python-telegram-bot 22.8 can call.  Real methods this fake does not implement get
# a loud 501 instead of Telegram's 404, because PTB turns a 404 into a misleading InvalidToken.
_KNOWN_METHODS = set(
    """
addStickerToSet answerCallbackQuery answerGuestQuery answerInlineQuery answerPreCheckoutQuery
answerShippingQuery answerWebAppQuery approveChatJoinRequest approveSuggestedPost banChatMember
banChatSenderChat close closeForumTopic closeGeneralForumTopic convertGiftToStars copyMessage
copyMessages createChatInviteLink createChatSubscriptionInviteLink createForumTopic
createInvoiceLink createNewStickerSet declineChatJoinRequest declineSuggestedPost
deleteAllMessageReactions deleteBusinessMessages deleteChatPhoto deleteChatStickerSet
deleteForumTopic deleteMessage deleteMessageReaction deleteMessages deleteMyCommands
deleteStickerFromSet deleteStickerSet deleteStory deleteWebhook editChatInviteLink
editChatSubscriptionInviteLink editForumTopic editGeneralForumTopic editMessageCaption
editMessageChecklist editMessageLiveLocation editMessageMedia editMessageReplyMarkup
editMessageText editStory editUserStarSubscription exportChatInviteLink forwardMessage
forwardMessages getAvailableGifts getBusinessAccountGifts getBusinessAccountStarBalance
getBusinessConnection getChat getChatAdministrators getChatGifts getChatMember
getChatMemberCount getChatMenuButton getCustomEmojiStickers getFile getForumTopicIconStickers
getGameHighScores getManagedBotAccessSettings getManagedBotToken getMe getMyCommands
getMyDefaultAdministratorRights getMyDescription getMyName getMyShortDescription
getMyStarBalance getStarTransactions getStickerSet getUpdates getUserChatBoosts getUserGifts
getUserPersonalChatMessages getUserProfileAudios getUserProfilePhotos getWebhookInfo
giftPremiumSubscription hideGeneralForumTopic leaveChat logOut pinChatMessage postStory
promoteChatMember readBusinessMessage refundStarPayment removeBusinessAccountProfilePhoto
removeChatVerification removeMyProfilePhoto removeUserVerification reopenForumTopic
reopenGeneralForumTopic replaceManagedBotToken replaceStickerInSet repostStory
restrictChatMember revokeChatInviteLink savePreparedInlineMessage savePreparedKeyboardButton
sendAnimation sendAudio sendChatAction sendChecklist sendContact sendDice sendDocument sendGame
sendGift sendInvoice sendLivePhoto sendLocation sendMediaGroup sendMessage sendMessageDraft
sendPaidMedia sendPhoto sendPoll sendSticker sendVenue sendVideo sendVideoNote sendVoice
setBusinessAccountBio setBusinessAccountGiftSettings setBusinessAccountName
setBusinessAccountProfilePhoto setBusinessAccountUsername setChatAdministratorCustomTitle
setChatDescription setChatMemberTag setChatMenuButton setChatPermissions setChatPhoto
setChatStickerSet setChatTitle setCustomEmojiStickerSetThumbnail setGameScore
setManagedBotAccessSettings setMessageReaction setMyCommands setMyDefaultAdministratorRights
setMyDescription setMyName setMyProfilePhoto setMyShortDescription setPassportDataErrors
setStickerEmojiList setStickerKeywords setStickerMaskPosition setStickerPositionInSet
setStickerSetThumbnail setStickerSetTitle setUserEmojiStatus setWebhook stopMessageLiveLocation
stopPoll transferBusinessAccountStars transferGift unbanChatMember unbanChatSenderChat
unhideGeneralForumTopic unpinAllChatMessages unpinAllForumTopicMessages
unpinAllGeneralForumTopicMessages unpinChatMessage upgradeGift uploadStickerFile verifyChat
verifyUser
""".split()
)


class ApiError(Exception):
    """A Bot API failure: becomes ``{"ok": false, ...}`` with the matching HTTP status."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(f"{code} {description}")
        self.code, self.description, self.parameters = code, description, parameters


def _bad(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def _utf16_len(text: str) -> int:
    # Telegram measures texts and entity offsets in UTF-16 code units, not code points.
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Parse errors point at UTF-8 byte offsets, as Telegram's do.
    return len(text[:index].encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Formatted text: Telegram parses parse_mode markup itself and rejects what it cannot parse, so
# the fake does too.  Each parser returns the plain text and its entities.


class _EntityError(Exception):
    pass


class _Out:
    """Plain text being built by a markup parser, with its length in UTF-16 units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.len16 = 0

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.len16 += _utf16_len(piece)

    def text(self) -> str:
        return "".join(self.parts)


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# Only these named entities exist for Telegram; any other '&' is kept as a literal character.
_HTML_ESCAPE = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r"""([^\s=>/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


def _decode_html_escape(match: re.Match) -> str:
    if match.group(1):
        return _HTML_NAMED[match.group(1)]
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return match.group(0)


def _html_entity(tag: str, attrs: dict, stack: list, where: int) -> dict | None:
    """The entity a start tag opens, or None when it contributes no entity of its own."""
    kind = _HTML_TAGS[tag]
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise _EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {where}')
    if kind == "text_link":
        return {"type": kind, "url": attrs["href"]} if attrs.get("href") else None
    if kind == "custom_emoji":
        emoji_id = attrs.get("emoji-id")
        return {"type": kind, "custom_emoji_id": emoji_id} if emoji_id else None
    if tag == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attrs.get("class", "")
        if language.startswith("language-") and stack[-1][1] is not None:
            stack[-1][1]["language"] = language[len("language-") :]
        return None
    if tag == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    return {"type": kind}


def _parse_html(src: str) -> tuple[str, list[dict]]:
    out, entities = _Out(), []
    stack: list[tuple[str, dict | None, int]] = []  # open tags: (tag, entity, start offset)
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "&" and (escape := _HTML_ESCAPE.match(src, i)):
            out.add(_decode_html_escape(escape))
            i = escape.end()
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        where = _byte_offset(src, i)
        if src.startswith("</", i):
            close = src.find(">", i)
            if not stack:
                raise _EntityError(f"Unexpected end tag at byte offset {where}")
            if close < 0:
                raise _EntityError(f"Unclosed end tag at byte offset {where}")
            name = src[i + 2 : close].strip().lower()
            tag, entity, start = stack.pop()
            if name and name != tag:
                raise _EntityError(
                    f'Unmatched end tag at byte offset {where}, expected "</{tag}>", found "</{name}>"'
                )
            if entity is not None and out.len16 > start:
                entities.append({**entity, "offset": start, "length": out.len16 - start})
            i = close + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        tag = src[i + 1 : j].lower()
        if j >= n:
            raise _EntityError(f"Unclosed start tag at byte offset {where}")
        if tag not in _HTML_TAGS:
            raise _EntityError(f'Unsupported start tag "{tag}" at byte offset {where}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise _EntityError(f"Unclosed start tag at byte offset {where}")
            if src[j] == ">":
                break
            attr = _HTML_ATTR.match(src, j)
            if not attr:
                raise _EntityError(f"Unclosed start tag at byte offset {where}")
            name, values = attr.group(1).lower(), attr.group(2, 3, 4)
            if values == (None, None, None) and not (tag == "blockquote" and name == "expandable"):
                raise _EntityError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {where}'
                )
            value = next((v for v in values if v is not None), "")
            attrs[name] = _HTML_ESCAPE.sub(_decode_html_escape, value)
            j = attr.end()
        stack.append((tag, _html_entity(tag, attrs, stack, where), out.len16))
        i = j + 1
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), entities


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_closes(kind: str, src: str, i: int) -> bool:
    char = src[i]
    return {
        "bold": char == "*",
        "italic": char == "_" and not src.startswith("__", i),
        "underline": src.startswith("__", i),
        "strikethrough": char == "~",
        "spoiler": src.startswith("||", i),
        "code": char == "`",
        "pre": src.startswith("```", i),
        "text_link": char == "]",
        "custom_emoji": char == "]",
    }[kind]


def _parse_markdown_v2(src: str) -> tuple[str, list[dict]]:
    out, entities = _Out(), []
    stack: list[list] = []  # open entities: [kind, start offset, byte offset, extra fields]
    quote_start: int | None = None  # a '>' line opened a blockquote at this offset
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.add(src[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        if char == ">" and not in_code and (i == 0 or src[i - 1] == "\n"):
            quote_start = out.len16 if quote_start is None else quote_start
            i += 1
            continue
        if char not in ("`" if in_code else _MDV2_RESERVED):
            if char == "\n" and quote_start is not None and not src.startswith(">", i + 1):
                entities.append(
                    {"type": "blockquote", "offset": quote_start, "length": out.len16 - quote_start}
                )
                quote_start = None
            out.add(char)
            i += 1
            continue
        if stack and _mdv2_closes(stack[-1][0], src, i):
            kind, start, _, extra = stack.pop()
            i += {"pre": 3, "underline": 2, "spoiler": 2}.get(kind, 1)
            if kind in ("text_link", "custom_emoji"):
                if not src.startswith("(", i):
                    continue  # "[text]" without a URL is just text
                j, url = i + 1, []
                while j < n and src[j] != ")":
                    j += 1 if src[j] == "\\" and j + 1 < n else 0
                    url.append(src[j])
                    j += 1
                if j >= n:
                    where = _byte_offset(src, i)
                    raise _EntityError(f"Can't find end of a URL at byte offset {where}")
                key = "url" if kind == "text_link" else "custom_emoji_id"
                extra = {
                    key: "".join(url).removeprefix("tg://emoji?id=")
                    if kind == "custom_emoji"
                    else "".join(url)
                }
                i = j + 1
            if out.len16 > start:
                entities.append({"type": kind, **extra, "offset": start, "length": out.len16 - start})
            continue
        if in_code:
            raise _EntityError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        where, extra = _byte_offset(src, i), {}
        if src.startswith("```", i):
            kind, i = "pre", i + 3
            language = re.match(r"[^\s`]*", src[i:]).group(0)
            if language and i + len(language) < n and src[i + len(language)] != "`":
                extra, i = {"language": language}, i + len(language)
            i += 1 if src.startswith("\n", i) else 0
        elif src.startswith("__", i) or src.startswith("||", i) or src.startswith("![", i):
            kind, i = {"_": "underline", "|": "spoiler", "!": "custom_emoji"}[char], i + 2
        elif char in "_*~[`":
            kind, i = (
                {"_": "italic", "*": "bold", "~": "strikethrough", "[": "text_link", "`": "code"}[char],
                i + 1,
            )
        else:
            raise _EntityError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        stack.append([kind, out.len16, where, extra])
    if quote_start is not None:
        entities.append({"type": "blockquote", "offset": quote_start, "length": out.len16 - quote_start})
    if stack:
        kind, _, where, _ = stack[-1]
        raise _EntityError(f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {where}")
    return out.text(), entities


def _parse_markdown(src: str) -> tuple[str, list[dict]]:
    """Legacy Markdown: no nesting, and only _ * ` [ are special."""
    out, entities = _Out(), []
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        missing = _EntityError(f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}")
        start, extra = out.len16, {}
        if src.startswith("```", i):
            end = src.find("```", i + 3)
            if end < 0:
                raise missing
            kind, body, i = "pre", src[i + 3 : end].removeprefix("\n"), end + 3
        elif char == "[":
            end = src.find("]", i + 1)
            if end < 0:
                raise missing
            kind, body, i = "text_link", src[i + 1 : end], end + 1
            if src.startswith("(", i):
                close = src.find(")", i)
                if close < 0:
                    raise missing
                extra, i = {"url": src[i + 1 : close]}, close + 1
        else:
            end = src.find(char, i + 1)
            if end < 0:
                raise missing
            kind = {"_": "italic", "*": "bold", "`": "code"}[char]
            body, i = src[i + 1 : end], end + 1
        out.add(body)
        if out.len16 > start and (kind != "text_link" or extra):
            entities.append({"type": kind, **extra, "offset": start, "length": out.len16 - start})
    return out.text(), entities


def _strip_formatted(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram trims surrounding whitespace from texts; entities are shifted and clipped."""
    stripped = text.strip()
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    size = _utf16_len(stripped)
    kept = []
    for entity in entities:
        begin = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > begin:
            kept.append({**entity, "offset": begin, "length": end - begin})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, kept


# --------------------------------------------------------------------------------------------
# Request parameters


class _Params(dict):
    """Request parameters.  Like Telegram's own server, every value is a string."""

    def integer(self, name: str) -> int | None:
        # Telegram reads the leading digits and treats garbage as 0.
        raw = self.get(name)
        if raw is None or raw == "":
            return None
        match = _LEADING_INT.match(raw)
        return int(match.group(1)) if match else 0

    def number(self, name: str, default: float) -> float:
        try:
            return float(self.get(name) or default)
        except ValueError:
            return default

    def flag(self, name: str) -> bool:
        return self.get(name, "").strip().lower() in ("true", "1")

    def json(self, name: str, error: str) -> Any:
        try:
            return json.loads(self[name])
        except ValueError:
            raise _bad(error) from None


def _as_param(value: Any) -> str | None:
    """Convert one JSON body value the way Telegram's server does: everything becomes text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, dict]]:
    """Returns (parameters, uploaded files by part name)."""
    kind = content_type.split(";")[0].strip().lower()
    params: dict[str, str] = {}
    files: dict[str, dict] = {}
    if not body:
        return params, files
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise _bad("can't parse JSON encoded request body") from None
        if not isinstance(data, dict):
            raise _bad("JSON object expected as request body")
        params = {k: v for k, v in ((k, _as_param(v)) for k, v in data.items()) if v is not None}
    elif kind == "application/x-www-form-urlencoded":
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            raise _bad("can't parse multipart/form-data request body")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name is None:
                continue
            filename = part.get_filename()
            if filename is None:
                params[name] = payload.decode("utf-8", "replace")
            else:
                files[name] = {
                    "file_name": filename,
                    "mime_type": part.get_content_type(),
                    "data": payload,
                }
    return params, files


# --------------------------------------------------------------------------------------------
# Reply markup


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise _bad(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _bad(prefix + 'Field "text" must be of type String')
    if not button["text"].strip():
        raise _bad("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if not actions:
        raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _bad(prefix + f"exactly one of the optional fields must be used, got {actions}")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str):
            raise _bad(prefix + 'Field "callback_data" must be of type String')
        if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in ("http", "https", "tg") or not parts.netloc:
            raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_keyboard_button(button: Any) -> None:
    text = button if isinstance(button, str) else (button.get("text") if isinstance(button, dict) else None)
    if not isinstance(text, str):
        raise _bad("can't parse keyboard button: KeyboardButton must be a String or an Object")
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")


def _parse_markup(params: _Params, *, inline_only: bool) -> tuple[dict | None, dict | None]:
    """Validates reply_markup.  Returns (markup as sent, inline markup shown on the message)."""
    if not params.get("reply_markup"):
        return None, None
    markup = params.json("reply_markup", "can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise _bad("object expected as reply markup")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                _check_inline_button(button)
        # An empty inline keyboard is Telegram's way of saying "no keyboard".
        shown = markup if any(rows) else None
        return markup, shown
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                _check_keyboard_button(button)
    return markup, None


# --------------------------------------------------------------------------------------------
# What a user's client may send (send_message, edit_text, post_in_channel)

_FILE_KINDS = {"sticker", "document", "voice", "video", "video_note", "audio", "animation"}
_MEDIA_KINDS = _FILE_KINDS | {"photo", "location", "contact", "dice"}
_CAPTIONED = {"photo", "document", "voice", "video", "audio", "animation"}
_ENTITY_FIELDS = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}
_ENTITY_TYPES = {
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
    "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
    "code", "pre", *_ENTITY_FIELDS,
}  # fmt: skip


def _check_user_content(content: dict) -> None:
    """Raise ValueError unless a Telegram client could send this: one kind of content, a
    text (1..4096 UTF-16 units, not blank) or caption (up to 1024), entities inside it."""
    kinds = [key for key in content if key == "text" or key in _MEDIA_KINDS]
    unknown = set(content) - {"text", "entities", "caption", "caption_entities"} - _MEDIA_KINDS
    if len(kinds) != 1 or unknown:
        raise ValueError(f"a message has exactly one kind of content, not {sorted(content)}")
    kind = kinds[0]
    if kind == "text":
        field, entities_field, limit = "text", "entities", MAX_TEXT_LENGTH
    else:
        field, entities_field, limit = "caption", "caption_entities", MAX_CAPTION_LENGTH
        if "caption" in content and kind not in _CAPTIONED:
            raise ValueError(f"a {kind} has no caption")
        value = content[kind]
        if kind == "photo":
            ok = (
                isinstance(value, list)
                and value
                and all("file_id" in p and "file_unique_id" in p for p in value)
            )
        elif kind in _FILE_KINDS:
            ok = isinstance(value, dict) and "file_id" in value and "file_unique_id" in value
        else:
            need = {"location": ("latitude", "longitude"), "contact": ("phone_number", "first_name")}
            ok = isinstance(value, dict) and all(k in value for k in need.get(kind, ("emoji", "value")))
        if not ok:
            raise ValueError(f"not a Telegram-shaped {kind}: {value!r}")
    if {"text", "entities", "caption", "caption_entities"} & set(content) - {field, entities_field}:
        raise ValueError(f"a {kind} message has no {'caption' if field == 'text' else 'text'}")
    text = content.get(field)
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"the {field} is empty")  # MESSAGE_EMPTY
        text.encode("utf-8")  # a lone surrogate can't travel: UnicodeEncodeError is a ValueError
        if _utf16_len(text) > limit:
            raise ValueError(f"the {field} is longer than {limit} UTF-16 units")  # MESSAGE_TOO_LONG
    entities = content.get(entities_field)
    if entities is not None:
        size = _utf16_len(text or "")
        if not isinstance(entities, list):
            raise ValueError("entities are a list")
        for entity in entities:
            if not isinstance(entity, dict) or entity.get("type") not in _ENTITY_TYPES:
                raise ValueError(f"not a message entity: {entity!r}")
            offset, length = entity.get("offset"), entity.get("length")
            if not (isinstance(offset, int) and isinstance(length, int)):
                raise ValueError(f"entity offsets are integers: {entity!r}")
            if offset < 0 or length < 1 or offset + length > size:
                raise ValueError(f"entity outside the text: {entity!r}")
            if entity["type"] in _ENTITY_FIELDS and _ENTITY_FIELDS[entity["type"]] not in entity:
                raise ValueError(f"a {entity['type']} entity needs its {_ENTITY_FIELDS[entity['type']]}")


# --------------------------------------------------------------------------------------------
# Flood control


class _TokenBucket:
    """`rate` tokens a second, holding at most `burst`.  A non-positive rate means no limit."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        if self.rate <= 0 or math.isinf(self.rate):
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        # A hair of tolerance, so that waiting exactly retry_after seconds is always enough.
        return 0.0 if self.tokens >= 1 - 1e-6 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        if self.rate > 0 and not math.isinf(self.rate):
            self.tokens -= 1


# --------------------------------------------------------------------------------------------
# The HTTP front


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeBotApi

    def handle_error(self, request, client_address) -> None:
        # A client dropping its connection (e.g. a cancelled long poll) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as httpx's connection pool expects from api.telegram.org.
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.api._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.api._track(self.connection, add=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep pytest output clean

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._respond()

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._respond()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _respond(self) -> None:
        api = self.server.api
        api._in_flight(+1)
        try:
            status, payload, content_type = api._serve(
                self.path, self.headers.get("Content-Type", ""), self._read_body()
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. a cancelled long poll)
        finally:
            api._in_flight(-1)


# --------------------------------------------------------------------------------------------


class FakeBotApi:
    """A strict, in-memory Telegram Bot API with a "user side" for driving tests.

    User ids double as private chat ids, as on Telegram.  A chat is known to the bot only once
    a user wrote from it (``send_text``); sending anywhere else is "chat not found".
    """

    def __init__(
        self,
        token: str,
        *,
        bot_id: int = 777000111,
        bot_username: str = "bridgework_test_bot",
        bot_first_name: str = "Bridgework Test",
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 5,
        global_rate: float = 30.0,
        global_burst: int = 30,
        first_update_id: int = 100_000_001,
    ):
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"not a Telegram-shaped token: {token!r}")
        self.token = token
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.base_url = ""
        # Observations; read them freely from tests.
        self.calls: list[tuple[str, dict]] = []  # every authorised call, in order
        self.errors: list[tuple[str, int, str]] = []  # (method, error_code, description)
        self.server_errors: list[str] = []  # tracebacks of bugs in this fake itself
        self.unimplemented: list[str] = []  # real Bot API methods the fake does not serve
        self.confirmed_offset = 0

        self._cond = threading.Condition()
        self._per_chat_limit = (per_chat_rate, per_chat_burst)
        self._chat_buckets: dict[int, _TokenBucket] = {}
        self._global_bucket = _TokenBucket(global_rate, global_burst)
        self._429s = 0
        self._injected: list[list] = []  # [method, ApiError, remaining times]

        self._next_update_id = first_update_id
        self._queue: list[dict] = []  # updates not yet confirmed
        self._redeliveries: list[dict] = []  # see redeliver()
        self._update_log: dict[int, dict] = {}  # every update ever produced
        self._poll_generation = 0  # bumped by every getUpdates; older waiters see a conflict
        self._polls_waiting = 0
        self._allowed_updates: set[str] | None = None
        self._webhook: dict | None = None

        self._users: dict[int, dict] = {}
        self._chats: dict[int, dict] = {}
        self._blocked: set[int] = set()
        self._messages: dict[int, dict[int, dict]] = {}  # chat id -> message id -> record
        self._last_message_id: dict[int, int] = {}
        self._queries: dict[str, dict] = {}  # callback query id -> {"answer": ... or None}
        self._query_ids = itertools.count(4_382_000_000_000_000_001)
        self._files: dict[str, dict] = {}
        self._commands: dict[tuple[str, str], list[dict]] = {}

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._requests_in_flight = 0
        self._stopping = False

        implemented = [name[5:] for name in dir(self) if name.startswith("_api_")]
        self._methods: dict[str, str] = {name.lower(): name for name in implemented}
        self._methods.update({name.lower(): name for name in _KNOWN_METHODS - set(implemented)})

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotApi:
        if self._server is not None:
            raise RuntimeError("FakeBotApi already started")
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeBotApi",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with self._cond:
            self._stopping = True  # parked long polls return at once...
            self._cond.notify_all()
            # ...and get to write their answer before the connections are cut below.
            self._cond.wait_for(lambda: self._requests_in_flight == 0, timeout=2)
        self._server.shutdown()
        # Idle keep-alive connections would otherwise hold their handler threads.
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _in_flight(self, change: int) -> None:
        with self._cond:
            self._requests_in_flight += change
            self._cond.notify_all()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._cond:
            (self._connections.add if add else self._connections.discard)(connection)

    # ---------------------------------------------------------------- the user side

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Tester",
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        reply_to: int | None = None,
    ) -> int:
        """The user writes `text`; returns the update_id.  Writing unblocks a blocked bot,
        as pressing "Restart" does in the Telegram apps."""
        chat_id = user_id if chat_id is None else chat_id
        if chat_type == "private" and chat_id != user_id:
            raise ValueError("a private chat's id is the user's id")
        with self._cond:
            if reply_to is not None and reply_to not in self._messages.get(chat_id, {}):
                raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
            user = self._users.setdefault(user_id, {"id": user_id, "is_bot": False})
            user.update(first_name=first_name, language_code=language_code)
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": first_name}
            else:
                chat = {"id": chat_id, "type": chat_type, "title": f"Test {chat_type}"}
            self._chats[chat_id] = chat
            if chat_id in self._blocked:
                self.unblock(user_id)
            message = {
                "message_id": self._new_message_id(chat_id),
                "from": dict(user),
                "chat": dict(chat),
                "date": int(time.time()),
                "text": text,
            }
            if entities := self._detect_commands(text):
                message["entities"] = entities
            if reply_to is not None:
                message["reply_to_message"] = self._message_for_reply(chat_id, reply_to)
            self._store(chat_id, message, from_bot=False)
            return self._push({"message": message})

    def press_button(self, user_id: int, message_id: int, data: str) -> int:
        """The user presses the inline button carrying `data` on one of the bot's messages in
        their private chat.  Only a button currently shown can be pressed."""
        with self._cond:
            record = self._messages.get(user_id, {}).get(message_id)
            if record is None or not record["from_bot"] or record["deleted"]:
                raise AssertionError(f"no bot message {message_id} in chat {user_id} to press")
            shown = record["message"].get("reply_markup", {}).get("inline_keyboard", [])
            if not any(b.get("callback_data") == data for row in shown for b in row):
                raise AssertionError(
                    f"message {message_id} shows no button with callback_data {data!r}; keyboard is {shown}"
                )
            if user_id in self._blocked:
                raise AssertionError(f"user {user_id} has blocked the bot")
            query_id = str(next(self._query_ids))
            self._queries[query_id] = {"user_id": user_id, "answer": None}
            return self._push(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": dict(self._users[user_id]),
                        "message": copy.deepcopy(record["message"]),
                        "chat_instance": str(user_id * 2_654_435_761 % 2**63),
                        "data": data,
                    }
                }
            )

    def push_update(self, update: dict) -> int:
        """Queue a raw update; an update_id is assigned when missing."""
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" in update:
                if update["update_id"] < self._next_update_id:
                    raise ValueError("update_id must be greater than every earlier one")
                self._next_update_id = update.pop("update_id")
            return self._push(update)

    def send_message(
        self,
        user_id: int,
        content: dict,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Tester",
        is_bot: bool = False,
        date: int | None = None,
        forward_origin: dict | None = None,
        reply_to: int | None = None,
    ) -> int:
        """The user sends a message of any kind: `content` holds its fields (``text`` and maybe
        ``entities``; or a ``sticker``, ``photo``, ``voice``... with maybe a ``caption``), checked
        as Telegram checks what a client sends: one kind of content, a text of 1 to 4096 UTF-16
        units that is not blank, a caption of at most 1024, entities inside the text.  Without
        ``entities`` bot commands are detected, as by send_text; the client chooses entities, so
        a test may give any (even a bot_command where no command is).  `date` defaults to now;
        the Bot API promises nothing about dates following update ids, so a test may set an
        earlier one (a message that reached the bot late).  Returns the update_id."""
        content = copy.deepcopy(content)
        _check_user_content(content)
        chat_id = user_id if chat_id is None else chat_id
        if chat_type == "private" and (chat_id != user_id or is_bot):
            raise ValueError("a private chat's id is the user's id, and bots can't write to bots")
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError("users write in private chats, groups and supergroups")
        if chat_type != "private" and chat_id >= 0:
            raise ValueError("group ids are negative")
        if date is not None and not 0 < date <= time.time() + 60:
            raise ValueError("a message's date is a Unix time, not in the future")
        with self._cond:
            if reply_to is not None and reply_to not in self._messages.get(chat_id, {}):
                raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
            user = self._users.setdefault(user_id, {"id": user_id, "is_bot": is_bot})
            user.update(first_name=first_name, is_bot=is_bot)
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": first_name}
            else:
                chat = self._chats.get(chat_id) or {
                    "id": chat_id,
                    "type": chat_type,
                    "title": f"Test {chat_type}",
                }
            self._chats[chat_id] = chat
            if chat_id in self._blocked:
                self.unblock(user_id)
            if "text" in content and "entities" not in content:
                if entities := self._detect_commands(content["text"]):
                    content["entities"] = entities
            message = {
                "message_id": self._new_message_id(chat_id),
                "from": dict(user),
                "chat": dict(chat),
                "date": int(time.time()) if date is None else date,
                **{k: v for k, v in content.items() if v != []},
            }
            if forward_origin is not None:
                message["forward_origin"] = copy.deepcopy(forward_origin)
            if reply_to is not None:
                message["reply_to_message"] = self._message_for_reply(chat_id, reply_to)
            self._store(chat_id, message, from_bot=False)
            return self._push({"message": message})

    def edit_text(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> int:
        """The user edits one of their own text messages: an ``edited_message`` update."""
        _check_user_content({"text": text})
        chat_id = user_id if chat_id is None else chat_id
        with self._cond:
            record = self._messages.get(chat_id, {}).get(message_id)
            if record is None or record["from_bot"] or record["deleted"]:
                raise ValueError(f"no message {message_id} of the user in chat {chat_id} to edit")
            # A new dict: the update that first delivered the message stays as it was.
            message = record["message"] = copy.deepcopy(record["message"])
            if message["from"]["id"] != user_id or "text" not in message:
                raise ValueError("a user can only edit the text of their own messages")
            message["text"] = text
            message.pop("entities", None)
            if entities := self._detect_commands(text):
                message["entities"] = entities
            message["edit_date"] = max(int(time.time()), message["date"])
            return self._push({"edited_message": copy.deepcopy(message)})

    def post_in_channel(self, chat_id: int, content: dict, *, title: str = "Test channel") -> int:
        """A post in a channel the bot is in: a ``channel_post``, sent by the channel itself."""
        _check_user_content(content)
        if chat_id > -1_000_000_000_000:
            raise ValueError("channel ids are -100 followed by the channel's number")
        with self._cond:
            chat = {"id": chat_id, "type": "channel", "title": title}
            self._chats[chat_id] = chat
            message = {
                "message_id": self._new_message_id(chat_id),
                "sender_chat": dict(chat),
                "chat": dict(chat),
                "date": int(time.time()),
                **copy.deepcopy(content),
            }
            self._store(chat_id, message, from_bot=False)
            return self._push({"channel_post": message})

    def press_forged(
        self,
        user_id: int,
        data: str | None,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        inaccessible: bool = False,
    ) -> int:
        """A callback query carrying whatever `data` the test likes, as a modified client could
        send (whether Telegram checks the data against the keyboard is undocumented, so a bot
        must not rely on it).  Still as Telegram shapes it: data of 1 to 64 bytes, or none at
        all (a game button); the message is the bot's message `message_id` in the chat (its
        latest when not given), or with `inaccessible`, an InaccessibleMessage (date 0), as
        the Bot API sends for a message that was deleted or is otherwise inaccessible."""
        if data is not None and not 0 < len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise ValueError("callback data is 1 to 64 bytes")
        chat_id = user_id if chat_id is None else chat_id
        with self._cond:
            if user_id not in self._users or chat_id not in self._chats:
                raise ValueError(f"user {user_id} never wrote in chat {chat_id}")
            if chat_id == user_id and user_id in self._blocked:
                raise AssertionError(f"user {user_id} has blocked the bot")
            records = self._messages.get(chat_id, {})
            if inaccessible:
                message_id = message_id or self._last_message_id.get(chat_id, 0)
                if message_id not in records:
                    raise ValueError(f"no message {message_id} in chat {chat_id}")
                message = {"chat": dict(self._chats[chat_id]), "message_id": message_id, "date": 0}
            else:
                if message_id is None:
                    mine = [k for k, r in records.items() if r["from_bot"] and not r["deleted"]]
                    message_id = max(mine, default=None)
                record = records.get(message_id) if message_id is not None else None
                if record is None or not record["from_bot"] or record["deleted"]:
                    raise ValueError(f"no bot message {message_id} in chat {chat_id} to press")
                message = copy.deepcopy(record["message"])
            query_id = str(next(self._query_ids))
            self._queries[query_id] = {"user_id": user_id, "answer": None}
            query = {
                "id": query_id,
                "from": dict(self._users[user_id]),
                "message": message,
                "chat_instance": str(chat_id * 2_654_435_761 % 2**63),
            }
            if data is not None:
                query["data"] = data
            return self._push({"callback_query": query})

    def renumber(self, next_update_id: int) -> None:
        """Start the update ids again from `next_update_id`, lower than before, as Telegram
        does after a week without updates ("the identifier of the next update will be chosen
        randomly instead of sequentially")."""
        with self._cond:
            self._next_update_id = next_update_id

    def redeliver(self, update_id: int) -> None:
        """Deliver an update once more, unchanged, after newer ones.  Telegram promises never
        to send an update again once a later offset confirmed it; a bot that stores updates
        should shrug it off anyway, and this is how a test checks that it does."""
        with self._cond:
            if update_id not in self._update_log:
                raise ValueError(f"no update {update_id} was ever produced")
            self._redeliveries.append(copy.deepcopy(self._update_log[update_id]))
            self._cond.notify_all()

    def wait_until_consumed(self, timeout: float = 60.0) -> None:
        """Block until the bot has confirmed every update and is long-polling again: it has
        fetched and handled everything (a bot asks for more only when done with a batch)."""
        self.wait_until(
            lambda: not self._queue and not self._redeliveries and self._polls_waiting > 0,
            timeout,
            "the bot to take every update",
        )

    def block(self, user_id: int) -> int | None:
        """The user blocks the bot: sends to their chat fail with 403 from now on.
        Returns the update_id of the my_chat_member update (None if already blocked)."""
        with self._cond:
            if user_id not in self._blocked:
                update_id = self._set_member_status(user_id, old="member", new="kicked")
                self._blocked.add(user_id)
                return update_id
            return None

    def unblock(self, user_id: int) -> int | None:
        with self._cond:
            if user_id in self._blocked:
                update_id = self._set_member_status(user_id, old="kicked", new="member")
                self._blocked.discard(user_id)
                return update_id
            return None

    def age_message(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Pretend the message was sent `seconds` earlier (for the 48-hour delete rule)."""
        with self._cond:
            self._messages[chat_id][message_id]["message"]["date"] -= int(seconds)

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        parameters: dict | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with the given error (fault injection)."""
        with self._cond:
            self._injected.append([method.lower(), ApiError(error_code, description, parameters), times])

    # ---------------------------------------------------------------- observation

    def sent(self, chat_id: int) -> list[dict]:
        """The bot's messages in the chat, oldest first, deleted ones included (flagged)."""
        with self._cond:
            records = self._messages.get(chat_id, {})
            return [self._view(records[k]) for k in sorted(records) if records[k]["from_bot"]]

    def wait_for_sent(self, chat_id: int, count: int, timeout: float = 30.0) -> list[dict]:
        """Block until the bot has sent at least `count` messages to the chat; return them."""

        def enough() -> bool:
            return sum(r["from_bot"] for r in self._messages.get(chat_id, {}).values()) >= count

        with self._cond:
            if not self._cond.wait_for(enough, timeout):
                seen = [(m["message_id"], m["text"] or m["caption"]) for m in self.sent(chat_id)]
                raise AssertionError(
                    f"expected {count} bot messages in chat {chat_id} within {timeout}s, "
                    f"saw {len(seen)}: {seen}; recent API errors: {self.errors[-5:]}"
                )
            return self.sent(chat_id)

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """Block until `predicate()` (evaluated under the lock, after each change) is true."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def wait_for_polling(self, timeout: float = 10.0) -> None:
        """Block until a getUpdates long poll is parked on the server (the bot is listening)."""
        self.wait_until(lambda: self._polls_waiting > 0, timeout, "a getUpdates long poll")

    def calls_of(self, method: str) -> list[dict]:
        """Parameters of every call of `method` (values are strings, as sent on the wire)."""
        with self._cond:
            return [params for name, params in self.calls if name.lower() == method.lower()]

    def count_429(self) -> int:
        with self._cond:
            return self._429s

    def update(self, update_id: int) -> dict:
        """Any update ever produced, confirmed or not."""
        with self._cond:
            return copy.deepcopy(self._update_log[update_id])

    def pending_updates(self) -> list[dict]:
        """Updates the bot has not confirmed yet."""
        with self._cond:
            return copy.deepcopy(self._queue)

    def callback_answer(self, query_id: str) -> dict | None:
        """How the bot answered a callback query, or None while unanswered."""
        with self._cond:
            return copy.deepcopy(self._queries[query_id]["answer"])

    def file_bytes(self, file_id: str) -> bytes:
        with self._cond:
            return self._files[file_id]["data"]

    # ---------------------------------------------------------------- internals: state

    def _push(self, update: dict) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, **update}
        self._update_log[update_id] = update
        # Like Telegram, allowed_updates filters updates as they are created, not as delivered.
        if self._is_allowed(update):
            self._queue.append(update)
        self._cond.notify_all()
        return update_id

    def _new_message_id(self, chat_id: int) -> int:
        # In a private chat both sides share one message_id sequence, as on Telegram.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store(self, chat_id: int, message: dict, *, from_bot: bool, **extra: Any) -> dict:
        record = {
            "message": message,
            "from_bot": from_bot,
            "deleted": False,
            "edits": 0,
            "raw_text": None,
            "parse_mode": None,
            "reply_markup": None,
            "protect_content": False,
            "disable_notification": False,
            "document_bytes": None,
            "method": None,
            **extra,
        }
        self._messages.setdefault(chat_id, {})[message["message_id"]] = record
        self._cond.notify_all()
        return record

    def _message_for_reply(self, chat_id: int, message_id: int) -> dict:
        message = copy.deepcopy(self._messages[chat_id][message_id]["message"])
        message.pop("reply_to_message", None)  # Telegram nests replies one level deep only
        return message

    def _detect_commands(self, text: str) -> list[dict]:
        entities = []
        for match in re.finditer(
            r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?"
            r"(?=\s|$)",
            text,
        ):
            entities.append(
                {
                    "type": "bot_command",
                    "offset": _utf16_len(text[: match.start()]),
                    "length": _utf16_len(match.group(0)),
                }
            )
        return entities

    def _set_member_status(self, user_id: int, *, old: str, new: str) -> int:
        if user_id not in self._chats:
            raise ValueError(f"user {user_id} never wrote to the bot in private")

        def member(status: str) -> dict:
            # A "kicked" ChatMember always carries until_date (0 = forever).
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": dict(self.bot_user), **extra}

        # Telegram tells the bot with a my_chat_member update.
        return self._push(
            {
                "my_chat_member": {
                    "chat": dict(self._chats[user_id]),
                    "from": dict(self._users[user_id]),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    def _view(self, record: dict) -> dict:
        message = record["message"]
        return {
            "message_id": message["message_id"],
            "chat_id": message["chat"]["id"],
            "date": message["date"],
            "text": message.get("text"),
            "caption": message.get("caption"),
            "entities": copy.deepcopy(message.get("entities") or message.get("caption_entities") or []),
            "raw_text": record["raw_text"],
            "parse_mode": record["parse_mode"],
            "reply_markup": copy.deepcopy(record["reply_markup"]),
            "protect_content": record["protect_content"],
            "disable_notification": record["disable_notification"],
            "reply_to_message_id": message.get("reply_to_message", {}).get("message_id"),
            "document": copy.deepcopy(message.get("document")),
            "document_bytes": record["document_bytes"],
            "deleted": record["deleted"],
            "edits": record["edits"],
            "edit_date": message.get("edit_date"),
            "method": record["method"],
            "message": copy.deepcopy(message),
        }

    # ---------------------------------------------------------------- internals: HTTP

    def _serve(self, raw_path: str, content_type: str, body: bytes) -> tuple[int, bytes, str]:
        path, _, query = raw_path.partition("?")
        path = unquote(path)
        if path.startswith("/file/bot"):
            return self._serve_file(path[len("/file/bot") :])
        token, method = "", ""
        if path.startswith("/bot"):
            token, _, method = path[len("/bot") :].partition("/")
        method_name = method
        try:
            if not _TOKEN_RE.fullmatch(token):
                raise ApiError(404, "Not Found")
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            method_name = self._methods.get(method.lower())
            if method_name is None:
                raise ApiError(404, "Not Found")
            params, files = _parse_body(content_type, body)
            params = _Params({**dict(parse_qsl(query, keep_blank_values=True)), **params})
            with self._cond:
                self.calls.append((method_name, self._call_record(params, files)))
                self._cond.notify_all()
                result = self._dispatch(method_name, params, files)
            status, response = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, response = (
                error.code,
                {"ok": False, "error_code": error.code, "description": error.description},
            )
            if error.parameters:
                response["parameters"] = error.parameters
            with self._cond:
                self.errors.append((method_name, error.code, error.description))
        except Exception:  # a bug in the fake: answer like Telegram's 500, keep the evidence
            with self._cond:
                self.server_errors.append(traceback.format_exc())
            status, response = (
                500,
                {"ok": False, "error_code": 500, "description": "Internal Server Error"},
            )
        payload = json.dumps(response, ensure_ascii=False).encode("utf-8")
        return status, payload, "application/json"

    def _serve_file(self, rest: str) -> tuple[int, bytes, str]:
        token, _, file_path = rest.partition("/")
        with self._cond:
            stored = next((f for f in self._files.values() if f["file_path"] == file_path), None)
        if token != self.token or stored is None:
            return (
                404,
                b'{"ok":false,"error_code":404,"description":"Not Found"}',
                "application/json",
            )
        return 200, stored["data"], "application/octet-stream"

    @staticmethod
    def _call_record(params: dict, files: dict) -> dict:
        record = dict(params)
        for name, upload in files.items():
            record[name] = {
                "file_name": upload["file_name"],
                "mime_type": upload["mime_type"],
                "size": len(upload["data"]),
            }
        return record

    def _dispatch(self, method: str, params: _Params, files: dict) -> Any:
        for injected in self._injected:
            if injected[0] == method.lower() and injected[2] > 0:
                injected[2] -= 1
                raise injected[1]
        handler = getattr(self, "_api_" + method, None)
        if handler is None:
            self.unimplemented.append(method)
            raise ApiError(501, f"Not Implemented: FakeBotApi does not implement {method}")
        return handler(params, files)

    # ---------------------------------------------------------------- internals: shared checks

    def _chat(self, params: _Params) -> dict:
        raw = params.get("chat_id", "").strip()
        if not raw:
            raise _bad("chat_id is empty")
        if not re.fullmatch(r"-?\d+", raw) or int(raw) not in self._chats:
            raise _bad("chat not found")
        return self._chats[int(raw)]

    def _check_not_blocked(self, chat_id: int) -> None:
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)

    def _take_send_slot(self, chat_id: int) -> None:
        now = time.monotonic()
        bucket = self._chat_buckets.setdefault(chat_id, _TokenBucket(*self._per_chat_limit))
        wait = max(bucket.wait(now), self._global_bucket.wait(now))
        if wait > 0:
            self._429s += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        bucket.take()
        self._global_bucket.take()

    def _formatted(self, params: _Params, field: str, entities_field: str) -> tuple[str, list]:
        """Parse `field` per parse_mode (or explicit entities) into plain text and entities."""
        raw = params.get(field, "")
        mode = params.get("parse_mode", "").strip().lower()
        parsers = {
            "html": _parse_html,
            "markdownv2": _parse_markdown_v2,
            "markdown": _parse_markdown,
        }
        try:
            if mode in parsers:
                text, entities = parsers[mode](raw)
            elif mode:
                raise _bad("unsupported parse_mode")
            else:
                text = raw
                entities = (
                    params.json(entities_field, "can't parse entities JSON object")
                    if params.get(entities_field)
                    else []
                )
                if not isinstance(entities, list):
                    raise _bad("can't parse entities JSON object")
        except _EntityError as error:
            raise _bad(f"can't parse entities: {error}") from None
        return _strip_formatted(text, entities)

    def _reply_target(self, chat_id: int, params: _Params) -> dict | None:
        target, allow = (
            params.integer("reply_to_message_id"),
            params.flag("allow_sending_without_reply"),
        )
        if params.get("reply_parameters"):
            reply = params.json("reply_parameters", "can't parse reply parameters JSON object")
            if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
                raise _bad("can't parse reply parameters JSON object")
            target = reply["message_id"]
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        if not target:
            return None
        record = self._messages.get(chat_id, {}).get(target)
        if record is None or record["deleted"]:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return self._message_for_reply(chat_id, target)

    def _post(
        self,
        method: str,
        chat: dict,
        params: _Params,
        content: dict,
        shown_markup: dict | None,
        **record: Any,
    ) -> dict:
        """The common tail of every send method: reply, block and flood checks, then store."""
        reply_to = self._reply_target(chat["id"], params)
        self._check_not_blocked(chat["id"])
        self._take_send_slot(chat["id"])
        message = {
            "message_id": self._new_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": dict(chat),
            "date": int(time.time()),
            **content,
        }
        if reply_to:
            message["reply_to_message"] = reply_to
        if params.flag("protect_content"):
            message["has_protected_content"] = True
        if shown_markup:
            message["reply_markup"] = shown_markup
        self._store(
            chat["id"],
            message,
            from_bot=True,
            method=method,
            protect_content=params.flag("protect_content"),
            disable_notification=params.flag("disable_notification"),
            **record,
        )
        return copy.deepcopy(message)

    def _editable(self, params: _Params) -> dict:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # the fake has no inline messages
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if not message_id:
            raise _bad("message identifier is not specified")
        record = self._messages.get(chat["id"], {}).get(message_id)
        if record is None or record["deleted"]:
            raise _bad("message to edit not found")
        if not record["from_bot"]:
            raise _bad("message can't be edited")
        return record

    def _finish_edit(
        self, record: dict, changes: dict, shown_markup: dict | None, sent_markup: dict | None
    ) -> dict:
        message = record["message"]
        current = {key: message.get(key) for key in changes} | {"reply_markup": message.get("reply_markup")}
        if current == {**changes, "reply_markup": shown_markup}:
            raise _bad(NOT_MODIFIED)
        chat_id = message["chat"]["id"]
        self._check_not_blocked(chat_id)
        self._take_send_slot(chat_id)
        for key, value in {**changes, "reply_markup": shown_markup}.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = int(time.time())
        record["reply_markup"] = sent_markup
        record["edits"] += 1
        self._cond.notify_all()
        return copy.deepcopy(message)

    # ---------------------------------------------------------------- Bot API methods
    # Each takes (params, files) and returns the "result", or raises ApiError.  They run with
    # the lock held.

    def _api_getMe(self, params: _Params, files: dict) -> dict:  # noqa: N802
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getUpdates(self, params: _Params, files: dict) -> list[dict]:  # noqa: N802
        offset = params.integer("offset") or 0
        limit = params.integer("limit")
        limit = 100 if limit is None else min(max(limit, 1), 100)  # clamped, not rejected
        timeout = min(max(params.number("timeout", 0.0), 0.0), LONG_POLL_MAX_TIMEOUT)
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        if params.get("allowed_updates"):
            allowed = params.json("allowed_updates", "can't parse allowed updates JSON object")
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            self._allowed_updates = set(allowed) if allowed else None
        # A newer request terminates any poll still waiting.
        self._poll_generation += 1
        generation = self._poll_generation
        self._cond.notify_all()
        if offset > self._next_update_id:
            # Beyond anything issued: a bot's offset from before the ids were renumbered
            # (Telegram picks a random next id after a week without updates). It confirms
            # nothing any more, as with Telegram, which then returns the new updates.
            offset = 0
        if offset < 0:
            del self._queue[:offset]  # keep the last -offset updates, forget the rest
        elif offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
        deadline = time.monotonic() + timeout
        while True:
            self._queue += self._redeliveries  # after the offset, which would drop them
            self._redeliveries.clear()
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            if self._webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            remaining = deadline - time.monotonic()
            if self._queue or remaining <= 0 or self._stopping:
                return copy.deepcopy(self._queue[:limit])
            self._polls_waiting += 1
            self._cond.notify_all()
            try:
                self._cond.wait(remaining)
            finally:
                self._polls_waiting -= 1

    def _is_allowed(self, update: dict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _api_setWebhook(self, params: _Params, files: dict) -> bool:  # noqa: N802
        url = params.get("url", "")
        if not url:
            return self._api_deleteWebhook(params, files)
        try:
            parts = urlsplit(url)
            port = parts.port or 443
        except ValueError:
            raise _bad("bad webhook: Wrong port number specified in the URL") from None
        if parts.scheme != "https" or not parts.hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if port not in (80, 88, 443, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if params.flag("drop_pending_updates"):
            self._queue.clear()
        self._webhook = {"url": url, "max_connections": params.integer("max_connections") or 40}
        if params.get("allowed_updates"):
            self._webhook["allowed_updates"] = params.json(
                "allowed_updates", "can't parse allowed updates JSON object"
            )
        self._cond.notify_all()  # parked polls now conflict with the webhook
        return True

    def _api_deleteWebhook(self, params: _Params, files: dict) -> bool:  # noqa: N802
        if params.flag("drop_pending_updates"):
            self._queue.clear()
        self._webhook = None
        return True

    def _api_getWebhookInfo(self, params: _Params, files: dict) -> dict:  # noqa: N802
        info = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info.update(self._webhook)
        return info

    def _api_sendMessage(self, params: _Params, files: dict) -> dict:  # noqa: N802
        chat = self._chat(params)
        if "text" not in params:
            raise _bad("message text is empty")
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise _bad("message text is empty")
        if _utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        sent_markup, shown_markup = _parse_markup(params, inline_only=False)
        content = {"text": text, **({"entities": entities} if entities else {})}
        return self._post(
            "sendMessage",
            chat,
            params,
            content,
            shown_markup,
            raw_text=params["text"],
            parse_mode=params.get("parse_mode"),
            reply_markup=sent_markup,
        )

    def _api_sendDocument(self, params: _Params, files: dict) -> dict:  # noqa: N802
        chat = self._chat(params)
        upload = self._document_upload(params, files)
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if _utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        sent_markup, shown_markup = _parse_markup(params, inline_only=False)
        document = self._store_file(upload)
        content: dict = {"document": document}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return self._post(
            "sendDocument",
            chat,
            params,
            content,
            shown_markup,
            raw_text=params.get("caption"),
            parse_mode=params.get("parse_mode"),
            reply_markup=sent_markup,
            document_bytes=upload["data"],
        )

    def _document_upload(self, params: _Params, files: dict) -> dict:
        """The uploaded file, or a file already on the server referenced by file_id."""
        reference = params.get("document")
        if reference is None and "document" in files:
            upload = files["document"]
        elif reference and reference.startswith("attach://") and reference[9:] in files:
            upload = files[reference[9:]]
        elif reference and reference in self._files:
            return self._files[reference]
        elif reference and reference.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        elif reference:
            raise _bad("wrong file identifier/HTTP URL specified")
        else:
            raise _bad("there is no document in the request")
        if not upload["data"]:
            raise _bad("file must be non-empty")
        if len(upload["data"]) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return upload

    def _store_file(self, upload: dict) -> dict:
        if "file_id" in upload:  # re-sent by file_id
            stored = upload
        else:
            file_id = "BQACAgIAAxkDAAI" + secrets.token_urlsafe(24)
            extension = upload["file_name"].rpartition(".")[2] if "." in upload["file_name"] else ""
            stored = {
                **upload,
                "file_id": file_id,
                "file_unique_id": "AgAD" + secrets.token_urlsafe(9),
                "file_path": f"documents/file_{len(self._files)}" + (f".{extension}" if extension else ""),
            }
            self._files[file_id] = stored
        return {
            "file_id": stored["file_id"],
            "file_unique_id": stored["file_unique_id"],
            "file_name": stored["file_name"],
            "mime_type": stored["mime_type"],
            "file_size": len(stored["data"]),
        }

    def _api_getFile(self, params: _Params, files: dict) -> dict:  # noqa: N802
        stored = self._files.get(params.get("file_id", ""))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored["file_id"],
            "file_unique_id": stored["file_unique_id"],
            "file_size": len(stored["data"]),
            "file_path": stored["file_path"],
        }

    def _api_editMessageText(self, params: _Params, files: dict) -> dict:  # noqa: N802
        record = self._editable(params)
        if "text" not in record["message"]:
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise _bad("message text is empty")
        if _utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        # Leaving reply_markup out removes the keyboard, exactly as Telegram does.
        sent_markup, shown_markup = _parse_markup(params, inline_only=True)
        result = self._finish_edit(
            record, {"text": text, "entities": entities or None}, shown_markup, sent_markup
        )
        record.update(raw_text=params["text"], parse_mode=params.get("parse_mode"))
        return result

    def _api_editMessageCaption(self, params: _Params, files: dict) -> dict:  # noqa: N802
        record = self._editable(params)
        if "document" not in record["message"]:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if _utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        sent_markup, shown_markup = _parse_markup(params, inline_only=True)
        result = self._finish_edit(
            record,
            {"caption": caption or None, "caption_entities": entities or None},
            shown_markup,
            sent_markup,
        )
        record.update(raw_text=params.get("caption"), parse_mode=params.get("parse_mode"))
        return result

    def _api_editMessageReplyMarkup(self, params: _Params, files: dict) -> dict:  # noqa: N802
        record = self._editable(params)
        sent_markup, shown_markup = _parse_markup(params, inline_only=True)
        return self._finish_edit(record, {}, shown_markup, sent_markup)

    def _api_deleteMessage(self, params: _Params, files: dict) -> bool:  # noqa: N802
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if not message_id:
            raise _bad("message identifier is not specified")
        self._delete(chat, message_id)
        return True

    def _delete(self, chat: dict, message_id: int) -> None:
        record = self._messages.get(chat["id"], {}).get(message_id)
        if record is None or record["deleted"]:
            raise _bad("message to delete not found")
        # In private chats bots may delete both sides; elsewhere only their own (no admin here).
        if chat["type"] != "private" and not record["from_bot"]:
            raise _bad("message can't be deleted")
        if time.time() - record["message"]["date"] >= DELETE_WINDOW_SECONDS:
            raise _bad("message can't be deleted for everyone")
        record["deleted"] = True
        self._cond.notify_all()

    def _api_deleteMessages(self, params: _Params, files: dict) -> bool:  # noqa: N802
        chat = self._chat(params)
        ids = (
            params.json("message_ids", "can't parse message identifiers JSON object")
            if params.get("message_ids")
            else None
        )
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a non-empty Array of at most 100 identifiers")
        for message_id in ids:
            try:
                self._delete(chat, message_id)
            except ApiError:
                pass  # Telegram skips messages it cannot delete
        return True

    def _api_answerCallbackQuery(self, params: _Params, files: dict) -> bool:  # noqa: N802
        query = self._queries.get(params.get("callback_query_id", ""))
        if query is None or query["answer"] is not None:
            raise _bad(QUERY_INVALID)
        if len(params.get("text", "")) > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        query["answer"] = {
            "text": params.get("text"),
            "show_alert": params.flag("show_alert"),
            "url": params.get("url"),
            "cache_time": params.integer("cache_time"),
        }
        self._cond.notify_all()
        return True

    def _api_sendChatAction(self, params: _Params, files: dict) -> bool:  # noqa: N802
        chat = self._chat(params)
        action = params.get("action", "")
        if not action:
            raise _bad("action is empty")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._check_not_blocked(chat["id"])
        return True

    def _api_getChat(self, params: _Params, files: dict) -> dict:  # noqa: N802
        chat = self._chat(params)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = (
            params.json("scope", "can't parse BotCommandScope JSON object")
            if params.get("scope")
            else {"type": "default"}
        )
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    def _api_setMyCommands(self, params: _Params, files: dict) -> bool:  # noqa: N802
        if "commands" not in params:
            raise _bad('parameter "commands" is required')
        commands = params.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _api_getMyCommands(self, params: _Params, files: dict) -> list[dict]:  # noqa: N802
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _api_deleteMyCommands(self, params: _Params, files: dict) -> bool:  # noqa: N802
        self._commands.pop(self._commands_key(params), None)
        return True

    def _api_close(self, params: _Params, files: dict) -> bool:
        return True

    def _api_logOut(self, params: _Params, files: dict) -> bool:  # noqa: N802
        return True
