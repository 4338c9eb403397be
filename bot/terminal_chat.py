"""The same conversation in a terminal, as the demo patient: buttons become numbers."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import uuid

from bot.conversation import Conversation, RetryLater, Sender
from messaging.rendering import Reply, terminal_text


async def chat(conversation: Conversation, patient_id: str, stop: asyncio.Event) -> None:
    sender = Sender(patient_id=patient_id)
    counter = itertools.count(1)
    session_tag = f"term{uuid.uuid4().hex[:12]}"
    buttons: tuple = ()

    def show(replies: list[Reply]) -> None:
        nonlocal buttons
        for reply in replies:
            print(f"\ncoach> {terminal_text(reply)}")
            buttons = reply.buttons or buttons

    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read_stdin() -> None:
        # A daemon thread, so a blocked input() never holds the process open.
        while True:
            try:
                line = input()
            except (EOFError, KeyboardInterrupt):
                loop.call_soon_threadsafe(lines.put_nowait, None)
                return
            loop.call_soon_threadsafe(lines.put_nowait, line)

    print("Bridgework terminal chat. Type a message, a number to press a button, or /quit.")
    show(await conversation.on_command(sender, "start", "", f"{session_tag}-0"))
    threading.Thread(target=read_stdin, daemon=True).start()
    while not stop.is_set():
        print("\nyou> ", end="", flush=True)
        line = await lines.get()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        key = f"{session_tag}-{next(counter)}"
        try:
            if line.isdigit() and 1 <= int(line) <= len(buttons):
                chosen = buttons[int(line) - 1]
                buttons = ()
                show(await conversation.on_button(sender, chosen.payload, key))
            elif line.startswith("/"):
                command, _, argument = line[1:].partition(" ")
                show(await conversation.on_command(sender, command.lower(), argument.strip(), key))
            else:
                buttons = ()
                show(await conversation.on_text(sender, line, key))
        except RetryLater as deferred:
            show(deferred.replies)
    print("\nBye.", file=sys.stderr)
