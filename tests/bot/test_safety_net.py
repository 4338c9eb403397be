import pytest

from bot.safety_net import detect

CRISIS = [
    "i want to kill myself",
    "honestly thinking about ending my life tonight",
    "everyone would be better off without me",
    "I won't be around much longer",
    "i cut myself again last night",
    "i took a whole packet of pills",
    "Im sooooo done, i want to diiie... want to die",
    "he hits me when he's drunk",
    "i dont want to be alive anymore",
    "kms",
    "took 40 paracetamol an hour ago",
    "my family would be fine without me",
    "urge to cut is bad tonight",
]
ORDINARY = [
    "this homework is killing me",
    "i did my thought record",
    "work is killing me this week, no time",
    "just killing time before the bus",
    "not yet, too tired",
    "my therapist said to write it down",
    "took my pills this morning like usual",
    "going to jump in the shower then do it",
    "i left a note for my flatmate about the bins",
    "work deadline is going to be the death of me lol",
]


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_language_is_caught(text):
    assert detect(text) is not None


@pytest.mark.parametrize("text", ORDINARY)
def test_everyday_language_is_not(text):
    assert detect(text) is None
