"""Issue 5: thousands of random and hostile updates, through the Bot API server, into the
running bot (Rasa, actions and all; see conftest.py). `make fuzz` runs the full size (over
ten thousand updates, several minutes, nightly-style); `make test` runs the same seeded
(derandomized) generators at a tenth of it.

Hypothesis generates batches of updates; each batch is pushed through FakeBotApi and the test
waits until the bot has taken all of it (nothing pending at the server, nothing unprocessed in
the inbox), then checks the bot's log for that batch. Three phases, each with its own checks:

A. Strangers and noise, the bulk: unknown users writing anything (every Unicode plane, control
   characters, bidi and zero-width marks, texts of Telegram's edge lengths up to 4096 UTF-16
   units, markup and SQL-ish strings, commands with hostile arguments, invite codes already
   used, entities a client made up), stickers, photos, voice and the rest, replies and
   forwards, forged callback data (random, bytes as text, "bw:..." and Rasa-shaped payloads
   naming other patients' tasks, and the real payloads taken from patients' chats); group,
   supergroup and channel traffic, including linked patients writing in groups; edits;
   membership changes; dates that go backwards; gaps in update ids and updates delivered
   again. Nothing may be stored for an unknown user, and no linked patient's rows may change.
B. Forged callbacks pressed by the linked patients themselves: other patients' task and
   assignment ids, malformed payloads, "bw:..." payloads no keyboard showed them. Their rows
   may not change (only Rasa-shaped payloads reach Rasa, so this phase is small).
C. Random talk from two linked patients (real Rasa, so a few dozen messages): commands with
   hostile arguments, random text, their own buttons. Their own rows may change, as a
   patient's words do; the third patient's may not.

Throughout: no traceback or error in the logs of the bot, Rasa and the action server; nothing
Telegram would refuse (texts over 4096, unknown chats, bad markup); every reply to a stranger
is the polite "I don't know you yet" (or "that code doesn't work", or for crisis words where
to find help, or the one question); no stranger's or group's id in any table of the app's or Rasa's database, and
no payload kept in the inbox; and the bot still answers afterwards. The run prints how many
updates went through, how long it took and the rate.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from bot.conversation import _RASA_PAYLOAD as RASA_PAYLOAD
from data.wording import content, say
from tests.support.botapi_server import BLOCKED, NOT_MODIFIED

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

FUZZ_PLAN = Path(__file__).parents[1] / "fixtures" / "fuzz_plan.yml"

# Batches of updates, per phase. A, full size: over 10,000 new updates (and ~400 delivered
# again). B and C talk to Rasa, which is slow, and each reply to a patient waits its turn
# under Telegram's one-message-a-second-per-chat limit.
FULL = os.environ.get("BRIDGEWORK_FUZZ") == "full"
A_BATCHES, A_BATCH_SIZE = (104 if FULL else 11), 100
B_BATCHES, B_BATCH_SIZE = (6 if FULL else 2), 12
C_BATCHES, C_BATCH_SIZE = (6 if FULL else 2), 12
MIN_UPDATES = 10_000 if FULL else 1_000

# Invented Telegram ids. Strangers have 9+ digits, so a scan of the database for them can't be
# fooled by a timestamp or a row id; a few sit on integer-width boundaries.
STRANGERS = [8_130_000_000 + 7_919 * i for i in range(150)] + [2**31 - 1, 2**31, 2**32 + 1, 2**52 - 1]
GROUPS = [-4_200_000_000 - i for i in range(6)]
SUPERGROUPS = [-1_002_200_000_000 - i for i in range(6)]
CHANNELS = [-1_003_300_000_000 - i for i in range(3)]
ANONYMOUS_ADMIN = 1_087_968_824  # Telegram's GroupAnonymousBot, as seen in groups
NEVER_STORED = [*STRANGERS, *GROUPS, *SUPERGROUPS, *CHANNELS, ANONYMOUS_ADMIN]


@dataclass(frozen=True)
class Linked:
    patient_id: str
    user_id: int
    code: str
    start_message_id: int = 0
    task_ids: tuple[str, ...] = ()
    assignment_ids: tuple[int, ...] = ()


LINKED = [
    Linked("p-fuzz-1", 7_301_000_001, "FUZZ-CODE-001"),
    Linked("p-fuzz-2", 7_301_000_002, "FUZZ-CODE-002"),
    Linked("p-fuzz-3", 7_301_000_003, "FUZZ-CODE-003"),
]

# The intents real buttons carry (rasa_project/domain, actions/).
BUTTON_INTENTS = (
    "affirm ask_checkin ask_rationale ask_tasks barrier_anxiety barrier_forgot barrier_low_mood "
    "barrier_not_useful barrier_privacy barrier_time barrier_timing barrier_too_hard barrier_unclear "
    "choose deny do_now expect greet importance inform later report_done report_not_done "
    "report_partial something_in_way"
).split()
# "bw:" payloads that aren't the bot's, or are but no keyboard showed them.
BW_FORGED = [
    "bw:", "bw", "bw::", "bw:consent", "bw:consent:yes", "bw:consent:no", "bw:consent:maybe",
    "bw:forget", "bw:forget:no", "bw:forget:yes ", " bw:forget:yes", "bw:forget:YES", "BW:forget:yes",
    "bw:forget:yes\n", "bw:forget:yes\x00", "bw:forget:yes:p-fuzz-2", "bw:forget:yes;bw:forget:yes",
    "bw:crisis:resources", "bw:crisis:resources:p-100", "bw:crisis", "bw:\u202eseY:tegrof", "bw:forget:ye\u0455",
    "bw:" + "x" * 61, "bw:forget:yes" + "\u200b" * 17,
]  # fmt: skip
MALFORMED_RASA = [
    "/", "/{}", "/report_done{}", '/report_done{"task_id":"x"', '/report_done{"task_id":"x"}}',
    '/report_done{"task_id":"x","assignment":"1"}', '/report_done{"task_id": "x"}', "/REPORT_DONE",
    '/inform{"rating":"4"}extra', "/report_done /report_partial", "report_done", "//report_done",
    '/report_done{"task_id":null}', '/report_done{"task_id":["x"]}', "/restart", "/session_start",
    "/EXTERNAL_checkin", '/EXTERNAL_checkin{"task_id":"walk"}', "/action_restart", "/nlu_fallback",
    '/inform{"rating":"-1"}', '/inform{"rating":"99999999999999999999"}', "/report_done\n/deny",
]  # fmt: skip
CANARY = "fuzz-canary-8d41"  # in many texts: it must never reach a log
HOSTILE = [
    "<b>", "</b>", "<i>x</i>", "<script>alert(1)</script>", "<a href='javascript:x'>y</a>", "&amp;",
    "&lt;", "&#0;", "&#x110000;", "*bold*", "_it_", "__u__", "~s~", "||spoiler||", "`code`", "```py\nx\n```",
    "[x](tg://user?id=1)", "\\", "\\\\", ">quote", "**", "#", "+", "-", "=", "|", "{", "}", ".", "!",
    "'; DROP TABLE patient; --", "' OR '1'='1", '" OR 1=1 --', "1; DELETE FROM checkin", "%s%s%n",
    "%(name)s", "{0}", "{name}", "{resources}", "${jndi:ldap://x/a}", "{{7*7}}", "../../etc/passwd",
    "null", "None", "NaN", "-0", "1e309", "\ufffd", "\x00", "\r\n", "\n\n\n", "\t", " " * 40,
    "/start", "/start@bridgework_test_bot", "/forget", "bw:forget:yes", '/report_done{"task_id":"walk"}',
    CANARY, "i want to kill myself", "everyone would be better off without me", "I did it", "not yet", "5",
]  # fmt: skip
ODD_CHARS = list(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u00ad"
    "\u034f\u180e\u2060\u2028\u2029\u0085\u00a0\u3000\ufe0f\u0301\u20e3\U0001f3fb\U000e0041\U000e007f"
    "\ud7ff\ue000\uf8ff\ufffe\uffff\U0010ffff\U000f0000\U0001f468\u2764"
) + [chr(c) for c in (*range(0, 32), 127, *range(0x80, 0xA0))]
EDGE_LENGTHS = [63, 64, 65, 255, 256, 1023, 1024, 1025, 2048, 4000, 4001, 4095, 4096]
COMMANDS = [
    "start", "help", "privacy", "forget", "mydata", "pause", "resume", "silent", "sound", "stop",
    "cancel", "settings", "report_done", "START", "Pause", "start@bridgework_test_bot",
    "start@some_other_bot", "forget@bridgework_test_bot", "a" * 32, "_",
]  # fmt: skip
NUMBERISH = [
    "²", "⁷", "½", "Ⅶ", "٣", "١٢", "𝟕", "７", "7.5", "1e3", "0x10", "-3", "+3", "0", "00007", "61",
    "60", "1", "99999999999999999999999999", "7 days", "three", "∞", "NaN", "",
]  # fmt: skip


# --- text ---------------------------------------------------------------------------------


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def fit(s: str, limit: int = 4096) -> str:
    """At most `limit` UTF-16 units and not blank: what a Telegram client can send."""
    s = s.encode("utf-16-le")[: 2 * limit].decode("utf-16-le", "ignore")
    if not s.strip():
        s = s.encode("utf-16-le")[: 2 * (limit - 1)].decode("utf-16-le", "ignore") + "?"
    return s


def fill(seed: str, length: int) -> str:
    """`seed` repeated to exactly `length` UTF-16 units (or one short, then padded)."""
    seed = seed or "x"
    s = seed * (length // max(1, utf16_len(seed)) + 1)
    s = s.encode("utf-16-le")[: 2 * length].decode("utf-16-le", "ignore")
    return s + "x" * (length - utf16_len(s))


def cap64(s: str) -> str | None:
    """Callback data as Telegram carries it: 1 to 64 bytes, or none at all."""
    return s.encode("utf-8")[:64].decode("utf-8", "ignore") or None


any_char = st.characters(codec="utf-8")  # every plane, surrogates excluded


def _plane(plane: int) -> st.SearchStrategy[str]:
    chars = st.characters(min_codepoint=plane << 16, max_codepoint=(plane << 16) | 0xFFFF, codec="utf-8")
    return st.text(chars, min_size=1, max_size=12)


plane_text = st.integers(0, 16).flatmap(_plane)
pieces = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(ODD_CHARS),
        st.text(any_char, max_size=6),
        plane_text,
    ),
    min_size=1,
    max_size=8,
).map("".join)
big_text = st.builds(fill, st.one_of(pieces, plane_text), st.sampled_from(EDGE_LENGTHS))
texts = st.one_of(
    st.text(any_char, min_size=1, max_size=24),
    pieces,
    pieces.map(lambda s: "/" + s),
    plane_text,
    big_text,
).map(fit)
short_texts = st.one_of(st.text(any_char, min_size=1, max_size=24), pieces).map(lambda s: fit(s, 300))


def command_text(used_codes: list[str]) -> st.SearchStrategy[str]:
    codes = [c for code in used_codes for c in (code, code.lower().replace("-", " "), code.replace("-", ""))]
    argument = st.one_of(
        st.just(""),
        st.sampled_from(NUMBERISH),
        st.sampled_from(codes),
        st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
        short_texts,
        big_text,
    )
    separator = st.sampled_from([" ", "  ", "\u00a0", "\n", "\t", "\u3000"])
    return st.builds(
        lambda c, sep, a: fit(f"/{c}{sep}{a}" if a else f"/{c}"),
        st.sampled_from(COMMANDS),
        separator,
        argument,
    )


ENTITY_TYPES = ["bot_command", "bold", "italic", "code", "pre", "mention", "url", "spoiler", "blockquote"]
entity_specs = st.lists(
    st.tuples(st.sampled_from(ENTITY_TYPES), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=3
)


def make_entities(s: str, specs) -> list[dict]:
    """Entities where a client put them: inside the text, on whole characters."""
    out = []
    for kind, a, b in specs:
        i = min(int(a * len(s)), len(s) - 1)
        j = i + 1 + int(b * (len(s) - i - 1))
        out.append({"type": kind, "offset": utf16_len(s[:i]), "length": utf16_len(s[i:j])})
    return out


# --- media --------------------------------------------------------------------------------

_file_ids = itertools.count(1)


def media(kind: str) -> dict:
    n = next(_file_ids)
    f = {"file_id": f"AgACAgQAAxkBAAI{n:08d}", "file_unique_id": f"AQAD{n:08d}"}
    return {
        "sticker": {
            **f,
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
        "photo": [
            {**f, "width": 90, "height": 60},
            {**f, "file_id": f["file_id"] + "b", "width": 1280, "height": 853},
        ],
        "document": {**f, "file_name": "notes.pdf", "mime_type": "application/pdf", "file_size": 1234},
        "voice": {**f, "duration": 3, "mime_type": "audio/ogg"},
        "video": {**f, "width": 640, "height": 360, "duration": 5},
        "video_note": {**f, "length": 240, "duration": 4},
        "audio": {**f, "duration": 200, "title": "t"},
        "animation": {**f, "width": 320, "height": 240, "duration": 2},
        "location": {"latitude": 51.5, "longitude": -0.12},
        "contact": {"phone_number": "+440000000000", "first_name": "Pat"},
        "dice": {"emoji": "🎲", "value": 4},
    }[kind]


MEDIA_KINDS = [
    "sticker",
    "photo",
    "document",
    "voice",
    "video",
    "video_note",
    "audio",
    "animation",
    "location",
    "contact",
    "dice",
]
CAPTIONED = {"photo", "document", "voice", "video", "audio", "animation"}

# --- the database -------------------------------------------------------------------------


def read_only(url: str) -> Engine:
    """A reader that can't change anything, not even the journal mode of Rasa's tracker."""
    path = make_url(url).database
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"uri": True})


def _rows(result) -> list[str]:
    return sorted(json.dumps(list(row), sort_keys=True, default=str) for row in result)


def snapshot(engine: Engine, patient_ids: list[str]) -> dict[str, list[str]]:
    """Every row that is a patient's data (data/models.py), for these patients."""
    meta = MetaData()
    meta.reflect(engine)
    owned = {
        "patient": "id",
        "invite": "patient_id",
        "assignment": "patient_id",
        "barrier": "patient_id",
        "worksheet": "patient_id",
        "schedule_change": "patient_id",
        "safety_event": "patient_id",
    }
    out: dict[str, list[str]] = {}
    with engine.connect() as c:
        for name, column in owned.items():
            t = meta.tables[name]
            out[name] = _rows(c.execute(select(t).where(t.c[column].in_(patient_ids))))
        a, ci = meta.tables["assignment"], meta.tables["checkin"]
        mine = select(a.c.id).where(a.c.patient_id.in_(patient_ids))
        out["checkin"] = _rows(c.execute(select(ci).where(ci.c.assignment_id.in_(mine))))
    return out


def everyone(engine: Engine) -> dict[str, list[str]]:
    """Who can talk to the bot: all patients, therapists and invites."""
    meta = MetaData()
    meta.reflect(engine, only=["patient", "therapist", "invite"])
    with engine.connect() as c:
        return {n: _rows(c.execute(select(t))) for n, t in meta.tables.items()}


def diff(before: dict, after: dict) -> list[str]:
    out = []
    for table in before:
        gone = set(before[table]) - set(after[table])
        new = set(after[table]) - set(before[table])
        out += [f"{table} -{row}" for row in gone] + [f"{table} +{row}" for row in new]
    return out


def mentions(engine: Engine, ids: list[int]) -> list[str]:
    """Cells anywhere in the database holding one of these ids (as a whole number)."""
    needles = {str(abs(i)) for i in ids}
    meta = MetaData()
    meta.reflect(engine)
    hits = []
    with engine.connect() as c:
        for table in meta.sorted_tables:
            for row in c.execute(select(table)):
                for column, value in row._mapping.items():
                    found = set(re.findall(r"\d{9,}", str(value))) & needles if value is not None else set()
                    if found:
                        hits.append(f"{table.name}.{column}: {sorted(found)}")
    return hits


def unprocessed(engine: Engine) -> int:
    with engine.connect() as c:
        return c.scalar(text("SELECT count(*) FROM inbox_update WHERE processed_at IS NULL"))


def kept_payloads(engine: Engine) -> int:
    """Handled updates whose payload is still there (a JSON column keeps None as 'null')."""
    with engine.connect() as c:
        return c.scalar(
            text(
                "SELECT count(*) FROM inbox_update WHERE processed_at IS NOT NULL"
                " AND payload IS NOT NULL AND payload != 'null'"
            )
        )


# --- the bot's log ------------------------------------------------------------------------

TROUBLE = re.compile(r"Traceback|\bERROR\b|CRITICAL|update \d+ failed|update \d+ deferred|telegram refused")


class LogWatch:
    """What a process logged since the last look, and whether any of it is trouble."""

    def __init__(self, path: Path):
        self.path, self.offset = path, path.stat().st_size

    def trouble(self) -> list[str]:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            new = handle.read()
        new = new[: new.rfind(b"\n") + 1]  # whole lines only
        self.offset += len(new)
        found, follow = [], False
        for line in new.decode("utf-8", "replace").splitlines():
            # A log record starts with its date; the lines after it are its traceback.
            follow = bool(TROUBLE.search(line)) or (follow and not re.match(r"\d{4}-\d\d-\d\d ", line))
            if follow:
                found.append(f"{self.path.name}: {line}")
        return found


# --- driving FakeBotApi -------------------------------------------------------------------


@dataclass
class Driver:
    """Turns generated operations into FakeBotApi calls and counts the updates."""

    stack: object
    db: Engine
    patients: list[Linked]
    logs: list[LogWatch]  # the bot's, Rasa's and the action server's
    pushed: int = 0
    redelivered: int = 0
    update_ids: list[int] = field(default_factory=list)
    last_own: dict[tuple[int, int], int] = field(default_factory=dict)  # (user, chat) -> message id
    blocked: set[int] = field(default_factory=set)
    kinds: Counter = field(default_factory=Counter)
    timings: dict = field(default_factory=dict)
    errors_from: int = 0  # FakeBotApi.errors before the fuzz
    forged: list = field(default_factory=list)  # phase B's presses, to trace a change to one

    def __post_init__(self):
        self.api = self.stack.api
        self.strangers = itertools.cycle(STRANGERS)

    # Settling: the bot has taken everything, and the log says nothing bad.

    def settle(self, what: str, timeout: float = 240) -> None:
        problems = self.problems(timeout)
        assert not problems, f"{what}:\n" + "\n".join(problems)

    def problems(self, timeout: float = 240) -> list[str]:
        """Wait until the bot has taken everything; then whatever went wrong meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api.wait_until_consumed(timeout=max(1.0, deadline - time.monotonic()))
            except AssertionError as exc:  # timed out: the bot is stuck, or dead
                return [str(exc)]
            if unprocessed(self.db) == 0:
                break
            if time.monotonic() > deadline:
                return ["the inbox still holds unprocessed updates"]
            time.sleep(0.2)
        found = [line for log in self.logs for line in log.trouble()][:60]
        return found + [f"FakeBotApi failed: {e}" for e in self.api.server_errors[-1:]]

    def fuzz(self, phase: str, strategy: st.SearchStrategy, count: int, push, timeout: float = 240) -> None:
        """Push `count` generated batches, each op by `push`. While hypothesis generates a
        batch the bot works on the one before, which is checked only then; what went wrong is
        collected and raised afterwards, with the batch that caused it (raising inside the
        hypothesis test would have it replay a batch the bot has already taken)."""
        started, pushed, numbers = time.monotonic(), self.pushed, itertools.count(1)
        previous: list = []
        failures: list[str] = []

        def check(batch) -> None:
            label, ops = batch
            if problems := self.problems(timeout):
                shown = "\n".join("    " + repr(op)[:200] for op in ops)
                failures.append(
                    f"phase {phase}, batch {label}:\n" + "\n".join(problems) + "\n  its ops:\n" + shown
                )

        def body(ops) -> None:
            if failures:
                return  # one failure is enough to read; the rest of the phase is skipped
            if previous:
                check(previous.pop())
            previous.append((next(numbers), ops))
            for op in ops:
                push(op)

        run_batches(strategy, count, body)
        if previous and not failures:
            check(previous.pop())
        self.timings[phase] = (time.monotonic() - started, self.pushed - pushed)
        assert not failures, failures[0]

    # The user side.

    def _note(self, update_id: int, kind: str) -> int:
        self.pushed += 1
        self.kinds[kind] += 1
        self.update_ids.append(update_id)
        update = self.api.update(update_id)
        message = update.get("message")
        if message is not None and "text" in message:  # what edit_text can change later
            self.last_own[(message["from"]["id"], message["chat"]["id"])] = message["message_id"]
        return update_id

    def send(self, user: int, content: dict, kind: str, **options) -> int:
        if options.get("chat_type", "private") == "private":
            self.blocked.discard(user)  # writing unblocks, as "Restart" does
        return self._note(self.api.send_message(user, content, **options), kind)

    def press(self, user: int, data: str | None, kind: str, **options) -> int:
        if user in self.blocked and options.get("chat_id") is None:
            self.member(user)  # a blocked user can't press: they restart the bot first
        return self._note(self.api.press_forged(user, data, **options), kind)

    def member(self, user: int) -> None:
        if user in self.blocked:
            update_id = self.api.unblock(user)
            self.blocked.discard(user)
        else:
            update_id = self.api.block(user)
            self.blocked.add(user)
        self._note(update_id, "member")

    def raw(self, update: dict, kind: str) -> int:
        return self._note(self.api.push_update(update), kind)

    def redeliver(self, index: int) -> None:
        if self.update_ids:
            self.api.redeliver(self.update_ids[index % len(self.update_ids)])
            self.redelivered += 1
            self.kinds["redelivered"] += 1

    # One generated operation of phase A.

    def stranger_op(self, op: tuple) -> None:
        kind = op[0]
        now = int(time.time())
        if kind == "text":
            _, body, age = op
            self.send(next(self.strangers), {"text": body}, kind, date=now - age if age else None)
        elif kind == "command":
            self.send(next(self.strangers), {"text": op[1]}, kind)
        elif kind == "entities":
            _, body, specs = op
            self.send(next(self.strangers), {"text": body, "entities": make_entities(body, specs)}, kind)
        elif kind == "media":
            _, what, caption = op
            content = {what: media(what)}
            if caption and what in CAPTIONED:
                content["caption"] = fit(caption, 1024)
            self.send(next(self.strangers), content, kind)
        elif kind == "forward":
            _, body, origin, who, age = op
            self.send(
                next(self.strangers), {"text": body}, kind, forward_origin=self.origin(origin, who, now - age)
            )
        elif kind == "reply":
            user = next(self.strangers)
            mine = [m["message_id"] for m in self.api.sent(user) if not m["deleted"]]
            self.send(user, {"text": op[1]}, kind, reply_to=mine[-1] if mine else None)
        elif kind == "press":
            _, data, inaccessible = op
            self.press(next(self.strangers), data, kind, inaccessible=inaccessible)
        elif kind == "group":
            _, chat, who, body, what = op
            user, is_bot = self.group_member(who)
            content = {what: media(what)} if what else {"text": body}
            chat_type = "group" if chat in GROUPS else "supergroup"
            self.send(user, content, kind, chat_id=chat, chat_type=chat_type, is_bot=is_bot)
        elif kind == "group_press":
            _, chat, who, data = op
            user, _ = self.group_member(who % 4)  # a person: anonymous admins press nothing
            self.press(user, data, kind, chat_id=chat, inaccessible=True)
        elif kind == "channel":
            _, chat, body, what = op
            self._note(self.api.post_in_channel(chat, {what: media(what)} if what else {"text": body}), kind)
        elif kind == "edit":
            _, where, body = op
            user, chat = self.editable(where)
            if (user, chat) in self.last_own:
                self._note(self.api.edit_text(user, self.last_own[(user, chat)], body, chat_id=chat), kind)
        elif kind == "member":
            self.member(next(self.strangers))
        elif kind == "group_member":
            _, chat, who, old, new = op
            user, _ = self.group_member(who)
            self.raw({"my_chat_member": self.membership(chat, user, old, new)}, kind)
        elif kind == "gap":
            _, gap, chat = op
            last = max(self.update_ids, default=0)
            user, _ = self.group_member(0)
            update = {
                "update_id": last + 1 + gap,
                "my_chat_member": self.membership(chat, user, "left", "member"),
            }
            self.raw(update, kind)
        elif kind == "redeliver":
            self.redeliver(op[1])
        else:  # pragma: no cover - a strategy named an operation this driver lacks
            raise AssertionError(kind)

    def group_member(self, who: int) -> tuple[int, bool]:
        """0: a stranger; 1..3: a linked patient (in a group: nothing for the bot); 4: an anonymous admin."""
        if who == 0:
            return next(self.strangers), False
        if who <= len(self.patients):
            return self.patients[who - 1].user_id, False
        return ANONYMOUS_ADMIN, True

    def editable(self, where: int) -> tuple[int, int]:
        """0: a stranger's own private message; 1: the latest text in a group (which may be a
        linked patient's). A patient's own edits are their words: phase C has those."""
        if where == 0:
            user = next(self.strangers)
            return user, user
        group = [key for key in self.last_own if key[1] < 0]
        return group[-1] if group else (0, 0)

    def origin(self, kind: str, who: int, date: int) -> dict:
        user = {"id": self.group_member(who)[0], "is_bot": False, "first_name": "Someone"}
        if kind == "user":
            return {"type": "user", "date": date, "sender_user": user}
        if kind == "hidden_user":
            return {"type": "hidden_user", "date": date, "sender_user_name": "Someone Else"}
        channel = {"id": CHANNELS[0], "type": "channel", "title": "Test channel"}
        return {"type": "channel", "date": date, "chat": channel, "message_id": 7}

    def membership(self, chat: int, user: int, old: str, new: str) -> dict:
        def member(status: str) -> dict:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": dict(self.api.bot_user), **extra}

        chat_type = "group" if chat in GROUPS else "supergroup"
        return {
            "chat": {"id": chat, "type": chat_type, "title": f"Test {chat_type}"},
            "from": {"id": user, "is_bot": user == ANONYMOUS_ADMIN, "first_name": "Someone"},
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    # Phase B: a linked patient presses data of the test's choosing.

    def forged_press(self, op: tuple) -> None:
        patient = self.patients[op[0] % len(self.patients)]
        self.press(patient.user_id, self.resolve(patient, op[1]), "forged")

    def resolve(self, patient: Linked, data: tuple) -> str | None:
        """Data naming another patient's task or assignment, from `patient`'s point of view."""
        if data[0] == "as_is":
            return data[1]
        _, intent, entity, (source, k) = data
        others = [p for p in self.patients if p is not patient]
        mine = set(patient.assignment_ids)
        if source == "task":
            pool = [t for p in others for t in p.task_ids] + ["thought-record", "walk"]
        elif source == "assignment":
            pool = [str(a) for p in others for a in p.assignment_ids] + [
                "0",
                "999999",
                str(2**31),
                str(2**63),
            ]
        else:
            own = k.isdigit() and int(k) in mine  # "007" is assignment 7 to the actions
            pool = ["999999" if own else k]  # a made-up id, never the presser's own
        value = pool[k % len(pool)] if isinstance(k, int) else pool[0]
        return cap64(f'/{intent}{{"{entity}":"{value}"}}')

    # Phase C: a linked patient talks.

    def talk(self, op: tuple) -> None:
        patient = self.patients[op[0] % 2]  # the third is the bystander
        kind = op[1]
        user = patient.user_id
        if kind == "text":
            self.send(user, {"text": op[2]}, "patient_text")
        elif kind == "media":
            self.send(user, {op[2]: media(op[2])}, "patient_media")
        elif kind == "edit":
            if (user, user) in self.last_own:
                self._note(self.api.edit_text(user, self.last_own[(user, user)], op[2]), "patient_edit")
        elif kind == "button":
            shown = [
                (m["message_id"], b["callback_data"])
                for m in self.api.sent(user)
                if not m["deleted"]
                for row in (m["reply_markup"] or {}).get("inline_keyboard", [])
                for b in row
                # Erasing is the patient's right, and tested elsewhere; here it would end the phase.
                if b.get("callback_data") and b["callback_data"] != "bw:forget:yes"
            ]
            if shown:
                message_id, data = shown[op[2] % len(shown)]
                self._note(self.api.press_button(user, message_id, data), "patient_button")
            else:
                self.send(user, {"text": "hi"}, "patient_text")
        else:  # pragma: no cover
            raise AssertionError(kind)


def batches(weighted: list[tuple[int, st.SearchStrategy]], size: int) -> st.SearchStrategy[tuple]:
    """`size` operations in the given proportions, in an order hypothesis picks (its own
    choice among weighted alternatives strays far from the weights)."""
    total = sum(weight for weight, _ in weighted)
    slots = [i for i, (weight, _) in enumerate(weighted) for _ in range(round(weight * size / total))]
    return st.permutations(slots).flatmap(lambda order: st.tuples(*[weighted[i][1] for i in order]))


def run_batches(strategy: st.SearchStrategy, count: int, body) -> None:
    """`count` hypothesis examples against the live stack: generated only (shrinking would
    replay batches into a bot whose state has moved on), derandomized so a run repeats."""

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def one(batch):
        body(batch)

    one()


# --- strategies for each phase ------------------------------------------------------------


def callback_data(extra: list[str]) -> st.SearchStrategy[str | None]:
    """Whatever a modified client might send as callback data (1 to 64 bytes), or none."""
    made_up_value = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)
    rasa_shaped = st.builds(
        lambda i, e, v: cap64(f'/{i}{{"{e}":"{v}"}}'),
        st.sampled_from([*BUTTON_INTENTS, "crisis"]),
        st.sampled_from(["task_id", "assignment", "option", "rating", "nudge", "time"]),
        st.one_of(made_up_value, st.sampled_from(extra or ["x"]), st.integers(-1, 2**63).map(str)),
    )
    return st.one_of(
        st.none(),  # a game button carries no data
        st.text(any_char, min_size=1, max_size=64).map(cap64),
        st.binary(min_size=1, max_size=64).map(lambda b: cap64(b.decode("latin-1"))),
        st.binary(min_size=1, max_size=64).map(lambda b: cap64(b.decode("utf-8", "replace"))),
        st.sampled_from(BW_FORGED + MALFORMED_RASA + ["bw:forget:yes"]),
        rasa_shaped,
        st.sampled_from(extra) if extra else st.nothing(),
    )


def stranger_ops(data: st.SearchStrategy, used_codes: list[str]) -> list[tuple[int, st.SearchStrategy]]:
    """Phase A's operations, weighted: about a third are strangers writing to the bot in
    private (each answered, at Telegram's 30 messages a second), the rest arrive in groups
    and channels, or are edits and membership changes, which the bot reads and drops."""
    ages = st.one_of(st.just(0), st.integers(1, 120), st.integers(3_600, 10**8))
    who = st.integers(0, 4)
    chats = st.sampled_from(GROUPS + SUPERGROUPS)
    kinds = st.sampled_from(MEDIA_KINDS)
    maybe_media = st.one_of(st.none(), kinds)
    CHANGES = [("member", "left"), ("left", "member"), ("member", "kicked"), ("kicked", "member")]  # noqa: N806
    weighted = [
        (12, st.tuples(st.just("text"), texts, ages)),
        (6, st.tuples(st.just("command"), command_text(used_codes))),
        (3, st.tuples(st.just("entities"), texts, entity_specs)),
        (3, st.tuples(st.just("media"), kinds, st.one_of(st.none(), short_texts))),
        (1, st.tuples(st.just("forward"), short_texts, st.sampled_from(["user", "hidden_user", "channel"]), who, st.integers(60, 10**7))),
        (1, st.tuples(st.just("reply"), short_texts)),
        (6, st.tuples(st.just("press"), data, st.sampled_from([False, False, False, True]))),
        (26, st.tuples(st.just("group"), chats, who, texts, maybe_media)),
        (8, st.tuples(st.just("group_press"), chats, who, data)),
        (8, st.tuples(st.just("channel"), st.sampled_from(CHANNELS), texts, maybe_media)),
        (12, st.tuples(st.just("edit"), st.integers(0, 1), texts)),
        (4, st.just(("member",))),
        (4, st.builds(lambda c, w, change: ("group_member", c, w, *change), chats, who, st.sampled_from(CHANGES))),
        (2, st.tuples(st.just("gap"), st.integers(1, 1000), chats)),
        (4, st.tuples(st.just("redeliver"), st.integers(0, 10**6))),
    ]  # fmt: skip
    return weighted


def forged_ops() -> list[tuple[int, st.SearchStrategy]]:
    """Phase B's callback data, for Driver.resolve: other patients' task and assignment ids in
    the payloads real buttons carry, made-up ids, and data that was never a button's."""
    refused = [d for d in BW_FORGED + MALFORMED_RASA if not RASA_PAYLOAD.match(d)]
    not_a_button = st.one_of(st.none(), st.text(any_char, min_size=1, max_size=64).map(cap64)).filter(
        lambda d: d is None or not RASA_PAYLOAD.match(d)
    )
    named = st.one_of(
        st.tuples(st.sampled_from(["task", "assignment"]), st.integers(0, 99)),
        st.tuples(st.just("made_up"), st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)),
    )
    intents, entities = st.sampled_from(BUTTON_INTENTS), st.sampled_from(["task_id", "assignment"])
    return [
        (6, st.tuples(st.just("rasa"), intents, entities, named)),
        (3, st.tuples(st.just("as_is"), st.sampled_from(refused + ["/restart", "/session_start"]))),
        (3, st.tuples(st.just("as_is"), not_a_button)),
    ]


# The commands that read a number, with numbers of every script and shape.
nudge_commands = st.builds(
    lambda c, sep, a: fit(f"/{c}{sep}{a}"),
    st.sampled_from(["pause", "pause", "silent", "resume", "sound"]),
    st.sampled_from([" ", "  ", "\u00a0"]),
    st.one_of(
        st.sampled_from(NUMBERISH), st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3)
    ),
)


def talk_ops(used_codes: list[str]) -> list[tuple[int, st.SearchStrategy]]:
    weighted = [
        (5, st.tuples(st.just("text"), texts)),
        (3, st.tuples(st.just("text"), command_text(used_codes))),
        (2, st.tuples(st.just("text"), nudge_commands)),
        (1, st.tuples(st.just("media"), st.sampled_from(MEDIA_KINDS))),
        (3, st.tuples(st.just("button"), st.integers(0, 50))),
        (1, st.tuples(st.just("edit"), short_texts)),
    ]
    return weighted


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(stack):
    engine = read_only(stack.settings.database_url)
    yield engine
    engine.dispose()


def forget(api, user: int) -> None:
    """The patient asks to be forgotten, confirms, and is."""
    before = len(api.sent(user))

    def shown() -> list[dict]:
        return [m for m in api.sent(user)[before:] if "bw:forget:yes" in json.dumps(m["reply_markup"])]

    api.send_text(user, "/forget")
    api.wait_until(lambda: bool(shown()), 120, "the question whether to erase")
    api.press_button(user, shown()[0]["message_id"], "bw:forget:yes")
    done = content()["forget_done"]["erased"]  # all erased, Rasa's transcript included
    api.wait_until(
        lambda: any(m["text"].startswith(done) for m in api.sent(user)[before:]), 120, "the erasure"
    )


@pytest.fixture(scope="module")
def linked(stack, db) -> list[Linked]:
    """The fuzz plan's three patients, linked through /start and consented, like anyone."""
    applied = stack.coach("plan", "apply", str(FUZZ_PLAN))
    assert applied.returncode == 0, applied.stderr
    api = stack.api
    out = []
    for p in LINKED:
        update_id = api.send_text(p.user_id, f"/start {p.code}", first_name="Fuzz")
        [consent] = api.wait_for_sent(p.user_id, 1, timeout=60)
        api.press_button(p.user_id, consent["message_id"], "bw:consent:yes")
        api.wait_until(
            lambda p=p: any("homework coach" in (m["text"] or "") for m in api.sent(p.user_id)),
            120,
            "the greeting after consent",
        )
        with db.connect() as c:
            rows = c.execute(
                text("SELECT id, task_id FROM assignment WHERE patient_id = :p ORDER BY id"),
                {"p": p.patient_id},
            ).all()
        out.append(
            Linked(
                p.patient_id,
                p.user_id,
                p.code,
                start_message_id=api.update(update_id)["message"]["message_id"],
                task_ids=tuple(r.task_id for r in rows),
                assignment_ids=tuple(r.id for r in rows),
            )
        )
    yield out
    # They leave as any patient can, with /forget: the other end-to-end tests read a report of
    # every patient, where the check-ins of phase C have no place.
    for p in out:
        forget(api, p.user_id)
    report = json.loads(stack.coach("report", "--format", "json").stdout)
    assert all(r["checkins"] == [] for r in report if r["patient_id"] in {p.patient_id for p in out})


@pytest.fixture(scope="module")
def driver(stack, db, linked) -> Driver:
    d = Driver(stack, db, linked, [LogWatch(path) for path in sorted(stack.log_dir.glob("*.log"))])
    d.errors_from = len(stack.api.errors)
    for p in linked:
        d.last_own[(p.user_id, p.user_id)] = p.start_message_id
    started = time.monotonic()
    # Every stranger has written once (a chat to press and edit in), every group has a message.
    for user in STRANGERS:
        d.send(user, {"text": "/start"}, "seed")
    for chat in GROUPS + SUPERGROUPS:
        d.send(
            STRANGERS[0],
            {"text": "hello"},
            "seed",
            chat_id=chat,
            chat_type="group" if chat in GROUPS else "supergroup",
        )
    d.settle("seeding")
    d.timings["seed"] = time.monotonic() - started
    return d


# --- the tests ----------------------------------------------------------------------------


def test_strangers_and_noise_leave_no_trace_and_change_nothing(stack, db, linked, driver):
    ids = [p.patient_id for p in linked]
    rows_before, people_before = snapshot(db, ids), everyone(db)
    # The buttons patients really got, pressed by strangers.
    real = sorted(
        {
            b["callback_data"]
            for p in linked
            for m in stack.api.sent(p.user_id)
            for row in (m["reply_markup"] or {}).get("inline_keyboard", [])
            for b in row
        }
    )
    names = [*[t for p in linked for t in p.task_ids], *[str(a) for p in linked for a in p.assignment_ids]]
    ops = stranger_ops(callback_data(real + names), [p.code for p in linked])
    driver.fuzz("A", batches(ops, A_BATCH_SIZE), A_BATCHES, driver.stranger_op)

    changed = diff(rows_before, snapshot(db, ids)) + diff(people_before, everyone(db))
    assert not changed, "\n".join(changed)  # no patient's rows, no one new linked, no invite used
    assert mentions(db, NEVER_STORED) == []
    assert driver.pushed >= MIN_UPDATES, driver.kinds


def test_forged_callbacks_from_linked_patients_change_nothing(stack, db, linked, driver):
    ids = [p.patient_id for p in linked]
    before = snapshot(db, ids)
    rr = itertools.count()

    def press(data) -> None:
        patient = linked[next(rr) % len(linked)]
        forged = driver.resolve(patient, data)
        if forged != "bw:forget:yes":  # belt and braces: the strategy never makes it
            driver.press(patient.user_id, forged, "forged")
            driver.forged.append((patient.patient_id, forged))

    driver.fuzz("B", batches(forged_ops(), B_BATCH_SIZE), B_BATCHES, press, timeout=400)
    changed = diff(before, snapshot(db, ids))
    assert not changed, "\n".join(changed + ["presses:", *map(repr, driver.forged)])


def test_linked_patients_random_talk_is_survived(stack, db, linked, driver):
    bystander = [linked[2].patient_id]
    before = snapshot(db, bystander)
    rr = itertools.count()
    ops = batches(talk_ops([p.code for p in linked]), C_BATCH_SIZE)
    driver.fuzz("C", ops, C_BATCHES, lambda op: driver.talk((next(rr), *op)), timeout=400)
    changed = diff(before, snapshot(db, bystander))
    assert not changed, "\n".join(changed)


def test_an_update_delivered_again_is_handled_once(stack, driver):
    api, stranger = stack.api, STRANGERS[7]
    before = len(api.sent(stranger))
    update_id = driver.send(stranger, {"text": "hello again"}, "probe")
    api.wait_for_sent(stranger, before + 1)
    driver.settle("the first delivery")
    for _ in range(3):
        driver.redeliver(driver.update_ids.index(update_id))
        driver.settle("a delivery again")
    assert len(api.sent(stranger)) == before + 1


def test_afterwards_the_bot_still_answers_and_strangers_left_nothing(stack, db, linked, driver, capsys):
    api = stack.api
    stranger = STRANGERS[0]
    before = len(api.sent(stranger))
    api.send_text(stranger, "hello, is this thing on?")
    assert api.wait_for_sent(stranger, before + 1)[-1]["text"] == say("unlinked")
    patient = linked[2].user_id
    before = len(api.sent(patient))
    api.send_text(patient, "/help")
    assert api.wait_for_sent(patient, before + 1)[-1]["text"] == say("help")
    driver.settle("the last words")

    # Strangers only ever heard the polite refusal (or, for crisis words, where to find help,
    # or the one question whose buttons carry no record: nothing is stored for them), and
    # no files.
    polite = {say("unlinked"), say("invite_refused"), say("risk_no")}
    questions = set(content()["risk_question"].values())
    crisis_help = content()["crisis_unlinked"].split("{resources}")[0]
    heard = Counter(m["text"] for user in STRANGERS for m in api.sent(user))
    assert {t for t in heard if t not in polite | questions and not t.startswith(crisis_help)} == set()
    assert not any(m["document"] for user in STRANGERS for m in api.sent(user))
    for m in (m for user in STRANGERS for m in api.sent(user) if m["reply_markup"]):
        assert m["text"] in questions
        payloads = [b["callback_data"] for row in m["reply_markup"]["inline_keyboard"] for b in row]
        assert payloads == ["bw:risk:yes:0", "bw:risk:no:0", "bw:risk:unsure:0", "bw:crisis:resources"]
    # Groups and channels heard nothing at all.
    assert all(api.sent(chat) == [] for chat in GROUPS + SUPERGROUPS + CHANNELS)
    # Nothing Telegram refused but what a fuzz must cause: taking the keyboard off a message
    # that has none, or is inaccessible; sends to strangers who had blocked the bot.
    refused = Counter(description for _, _, description in api.errors[driver.errors_from :])
    expected = {NOT_MODIFIED, "message to edit not found", "message can't be edited"}
    assert set(refused) <= {"Bad Request: " + e for e in expected} | {BLOCKED}, refused
    # Nothing kept for strangers, anywhere; no message text kept in the inbox.
    assert mentions(db, NEVER_STORED) == []
    tracker = read_only(stack.settings.rasa_tracker_url)
    try:
        assert mentions(tracker, NEVER_STORED) == []
    finally:
        tracker.dispose()
    assert kept_payloads(db) == 0
    logs = stack.logs()
    assert CANARY not in logs
    assert [i for i in NEVER_STORED if str(abs(i)) in logs] == []

    total = sum(t for t, _ in (driver.timings[k] for k in "ABC")) + driver.timings["seed"]
    lines = [f"fuzz: {driver.pushed} updates pushed (+{driver.redelivered} delivered again) in {total:.0f}s"]
    for phase in "ABC":
        seconds, count = driver.timings[phase]
        lines.append(f"  phase {phase}: {count} updates in {seconds:.0f}s, {count / seconds:.1f}/s")
    lines.append(f"  kinds: {dict(driver.kinds.most_common())}")
    lines.append(f"  replies to strangers: {sum(heard.values())}; refused by Telegram: {dict(refused)}")
    with capsys.disabled():  # shown without -s: the rate is worth seeing on every run
        print("\n" + "\n".join(lines))


def test_a_press_on_a_message_telegram_calls_inaccessible_is_still_answered(stack, driver):
    """The Bot API sends an InaccessibleMessage (date 0) for a press on a message that was
    deleted or is otherwise inaccessible, e.g. an old nudge's buttons. PTB 22.8 reads it as a
    Message dated 1970; taking its keyboard off fails with a BadRequest, which is handled."""
    api, stranger = stack.api, STRANGERS[11]
    before = len(api.sent(stranger))
    driver.press(stranger, "/report_done", "probe", inaccessible=True)
    [*_, reply] = api.wait_for_sent(stranger, before + 1)
    assert reply["text"] == say("unlinked")
    driver.settle("a press on an inaccessible message")
