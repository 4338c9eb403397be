from messaging.rendering import (
    Button,
    Reply,
    fits_callback,
    from_rasa,
    split_text,
    telegram_markup,
    terminal_text,
)


def test_rasa_messages_become_replies_with_buttons():
    replies = from_rasa(
        [
            {
                "recipient_id": "pz-1",
                "text": "How did it go?",
                "buttons": [
                    {"title": "Done", "payload": "/report_done"},
                    {"title": "", "payload": "/broken"},
                ],
            },
            {"recipient_id": "pz-1", "text": "   "},
        ]
    )
    assert replies == [Reply("How did it go?", (Button("Done", "/report_done"),))]


def test_buttons_within_telegrams_64_bytes_only():
    assert fits_callback("x" * 64) and not fits_callback("x" * 65) and not fits_callback("")
    assert not fits_callback("é" * 33)  # 66 bytes
    reply = Reply("pick", (Button("ok", "/affirm"), Button("too long", "/" + "a" * 70)))
    markup = telegram_markup(reply)
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["/affirm"]]
    assert telegram_markup(Reply("no buttons")) is None


def test_long_text_is_split_under_the_limit_at_breaks():
    text = ("word " * 2000).strip()
    parts = split_text(text, limit=4096)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == text
    emoji = "😀" * 3000  # two UTF-16 units each
    parts = split_text(emoji)
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts) and "".join(parts) == emoji
    assert split_text("short") == ["short"]


def test_terminal_numbers_the_buttons():
    text = terminal_text(
        Reply("Well?", (Button("Done", "/report_done"), Button("Not yet", "/report_not_done")))
    )
    assert text.splitlines() == ["Well?", "  [1] Done", "  [2] Not yet"]
