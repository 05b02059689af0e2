"""Cases about the owner: their feelings, their own life (people, plans, past talks), and recall."""

from __future__ import annotations

from device.evals.dialogue.cases import (
    FEELINGS,
    OWN_LIFE,
    RECALL,
    RESTART,
    Case,
    Summary,
    ask,
    single,
    tell,
)
from device.evals.dialogue.checks import (
    all_of,
    bad_news,
    calm,
    mentions,
    mentions_any,
    never_invents,
    no_new_names,
    update_wins,
    warmth,
)
from device.evals.dialogue.checks_talk import clean, spoken

_SAD = {
    "loss": [
        "My grandmother passed away last night.",
        "my dog died this morning",
        "We lost my dad in March and today would have been his birthday.",
        "I just found out my uncle died.",
        "i miss my mum so much since she died",
        "My best friend's funeral is tomorrow.",
        "We had to have our old cat put down today.",
    ],
    "loneliness": [
        "I feel lonely lately.",
        "nobody called me on my birthday",
        "I don't really have anyone to talk to.",
        "everyone's busy and i'm just sitting at home alone again",
        "I moved to a new city and I don't know anyone here.",
        "Sometimes I feel like nobody notices me.",
    ],
    "stress": [
        "I had a rough day at work today.",
        "I'm so stressed about my exams.",
        "work is just too much right now, i can't keep up",
        "My boss keeps piling things on me and I'm exhausted.",
        "I've got three deadlines tomorrow and I haven't slept.",
        "Money's really tight this month and I'm worried about rent.",
    ],
    "failure": [
        "I failed my driving test.",
        "I didn't get the job.",
        "i totally messed up my presentation in front of everyone",
        "I got my results back and I failed maths.",
        "The business I started just folded.",
        "I got rejected from the university I really wanted.",
    ],
    "illness": [
        "The doctor says I have diabetes.",
        "I've had a horrible migraine all day.",
        "my mum's in hospital again",
        "I tested positive for covid and I feel awful.",
        "My back has been really bad for a week and I can barely walk.",
        "They found a lump and I'm waiting for the biopsy results.",
    ],
    "break-up": [
        "My girlfriend broke up with me.",
        "Tom and I split up last night.",
        "my wife says she wants a divorce",
        "I think my relationship is over.",
        "He left me for someone else.",
        "I got dumped by text, can you believe it",
    ],
}
_GOOD = [
    "I got the job!",
    "My sister had a baby girl this morning!",
    "i passed my driving test",
    "We just got engaged!",
    "I finally finished my first marathon.",
    "My boss gave me a promotion today.",
    "Guess what, I got into the university I wanted!",
]
_ANGRY = [
    "I'm so angry at my landlord, he still hasn't fixed the heating.",
    "My brother borrowed my car, crashed it and didn't even say sorry.",
    "this stupid bus is late AGAIN",
    "I'm furious, someone stole my bike from outside the shop.",
    "My coworker took credit for my work in the meeting.",
    "I'm sick of people interrupting me all the time.",
]


def _feelings() -> list[Case]:
    out: list[Case] = []
    # A kind word buried in a long ramble is not a kind reply: feelings replies must be spoken too.
    for sub, texts in _SAD.items():
        out += single(FEELINGS, sub, f"feelings-{sub}", [(t, all_of(bad_news(), spoken())) for t in texts])
    out += single(FEELINGS, "good news", "feelings-good", [(t, all_of(warmth(), spoken())) for t in _GOOD])
    out += single(FEELINGS, "anger", "feelings-anger", [(t, all_of(calm(), spoken())) for t in _ANGRY])
    return out


# (stored facts, the question, what the answer must mention: all of `needles`, or any if a tuple)
_PEOPLE: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = [
    (("My sister Anna lives in Lyon.",), "Where does my sister live?", ("Lyon",)),
    (("My brother is called Sam.",), "What's my brother's name?", ("Sam",)),
    (
        ("My best friend is called Priya.", "Priya works as a nurse."),
        "What does Priya do for a living?",
        ("nurse",),
    ),
    (("My dog is called Biscuit.",), "what's my dog called again", ("Biscuit",)),
    (("My mum lives in Leeds.",), "Where does mum live?", ("Leeds",)),
    (("My partner is called Jo.", "Jo is allergic to peanuts."), "Is Jo allergic to anything?", ("peanut",)),
    (("My boss is called Mr Grant.",), "Who's my boss?", ("Grant",)),
    (("My niece Lily is turning six on Saturday.",), "How old is Lily going to be?", ("six|6",)),
]
_PLANS: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = [
    (("I'm going to Lisbon in June for my cousin's wedding.",), "Where's my cousin's wedding?", ("Lisbon",)),
    (("I want to learn Spanish this year.",), "What did I say I wanted to learn?", ("Spanish",)),
    (("My book club meets on Thursdays.",), "When does my book club meet?", ("Thursday",)),
    (("I'm running the Berlin marathon in September.",), "Which marathon am I running?", ("Berlin",)),
    (("I'm planning to paint the kitchen yellow.",), "what colour am i painting the kitchen", ("yellow",)),
    (("I've started saving for a trip to Japan.",), "What am I saving up for?", ("Japan",)),
    (("My mum is visiting in August.",), "When is my mum coming to visit?", ("August",)),
]
_NEVER_TOLD = [
    "Where does my sister live?",
    "What's my brother's name?",
    "What did we talk about yesterday?",
    "What's my dog called?",
    "Who's my best friend?",
    "where did i grow up",
    "When is my mum's birthday?",
    "What does my wife do for work again?",
    "Do you remember what I told you about my boss?",
    "What's my favourite food?",
    "What did I say I was doing this weekend?",
    "Which city am I moving to?",
    "do you remember my sister's name",
    "What did we chat about last time?",
]


def _mention(needles: tuple[str, ...]) -> list:
    """`mentions` for each needle; 'six|6' means either spelling."""
    return [mentions_any(*n.split("|")) if "|" in n else mentions(n) for n in needles]


def _own_life() -> list[Case]:
    out: list[Case] = []
    for sub, items in (("people", _PEOPLE), ("plans", _PLANS)):
        for i, (facts, question, needles) in enumerate(items, 1):
            turn = ask(question, *_mention(needles), no_new_names(), clean())
            out.append(Case(f"own-{sub}-{i}", OWN_LIFE, sub, (turn,), facts=facts))
    out += [
        Case("own-past-1", OWN_LIFE, "past conversations",
             (ask("What did we talk about yesterday?", mentions_any("Anna", "job", "tomato", "garden"),
                  no_new_names(), clean()),),
             summaries=(Summary(1, ("My sister Anna got a new job", "I planted tomatoes in the garden")),)),
        Case("own-past-2", OWN_LIFE, "past conversations",
             (ask("what were we chatting about the other day", mentions_any("interview", "bank"),
                  no_new_names(), clean()),),
             summaries=(Summary(2, ("I'm nervous about my job interview at the bank",)),)),
        Case("own-past-3", OWN_LIFE, "past conversations",
             (ask("How did things go with my dad, from what I told you yesterday?",
                  mentions_any("knee", "operation", "surgery"), no_new_names(), clean()),),
             summaries=(Summary(1, ("My dad's knee operation went well",)),)),
        Case("own-past-4", OWN_LIFE, "past conversations",
             (tell("I've been learning to play the piano."),
              tell("My teacher says my scales are getting better."), RESTART,
              ask("What did we talk about last time?", mentions("piano"), no_new_names(), clean()))),
        Case("own-past-5", OWN_LIFE, "past conversations",
             (tell("We're adopting a beagle puppy next week."), RESTART,
              ask("Remind me what I was telling you about before?", mentions_any("beagle", "puppy", "dog"),
                  no_new_names(), clean()))),
    ]  # fmt: skip
    out += [
        Case(f"own-never-{i}", OWN_LIFE, "never invents", (ask(q, never_invents(), clean()),))
        for i, q in enumerate(_NEVER_TOLD, 1)
    ]
    return out


def _recall() -> list[Case]:
    same_run = [
        ("My sister Anna lives in Lyon.", "Where does Anna live?", ("Lyon",)),
        ("I'm allergic to cats.", "What am I allergic to?", ("cat",)),
        ("My favourite band is Radiohead.", "What's my favourite band?", ("Radiohead",)),
        ("My car is a blue Fiat.", "what colour is my car", ("blue",)),
        ("I work as a nurse at the children's hospital.", "What do I do for work?", ("nurse",)),
        ("My brother Sam just started at Oxford.", "Where did Sam just start?", ("Oxford",)),
        ("My neighbour is called Greta.", "What's my neighbour's name?", ("Greta",)),
        ("I parked on level three today.", "Which level did I park on?", ("three|3",)),
    ]
    earlier_run = [
        ("My sister Anna lives in Lyon.", "Where does my sister live?", ("Lyon",)),
        ("My cat is called Miso.", "What's my cat's name?", ("Miso",)),
        ("I'm allergic to peanuts.", "Is there anything I'm allergic to?", ("peanut",)),
        ("My favourite food is ramen.", "what's my favourite food", ("ramen",)),
        ("My best friend is called Priya.", "Who is my best friend?", ("Priya",)),
        ("I live in Bristol.", "Where do I live?", ("Bristol",)),
    ]
    out: list[Case] = []
    for i, (fact, question, needles) in enumerate(same_run, 1):
        turns = (tell(fact), ask(question, *_mention(needles), no_new_names(), clean()))
        out.append(Case(f"recall-same-{i}", RECALL, "same run", turns))
    for i, (fact, question, needles) in enumerate(earlier_run, 1):
        turns = (tell(fact), RESTART, ask(question, *_mention(needles), no_new_names(), clean()))
        out.append(Case(f"recall-earlier-{i}", RECALL, "earlier run", turns))
    out += [
        Case("recall-update-1", RECALL, "update",
             (tell("My sister Anna lives in Lyon."), tell("Anna moved to Paris."),
              ask("Where does Anna live now?", update_wins("Paris", "Lyon"), clean()))),
        Case("recall-update-2", RECALL, "update",
             (tell("My sister Anna lives in Lyon."), RESTART, tell("Anna moved to Paris."), RESTART,
              ask("Where does Anna live?", update_wins("Paris", "Lyon"), clean()))),
        Case("recall-update-3", RECALL, "update",
             (tell("My favourite colour is green."), tell("Actually, my favourite colour is purple now."),
              ask("What's my favourite colour?", update_wins("purple", "green"), clean()))),
        Case("recall-update-4", RECALL, "update",
             (tell("My dog is called Rex."), tell("Sorry, I got that wrong: my dog is called Max."),
              ask("What's my dog's name?", update_wins("Max", "Rex"), clean()))),
        Case("recall-update-5", RECALL, "update",
             (tell("I live in Bristol."), RESTART, tell("I moved to Cardiff last month."), RESTART,
              ask("where do i live", update_wins("Cardiff", "Bristol"), clean()))),
    ]  # fmt: skip
    return out


def cases() -> list[Case]:
    return _feelings() + _own_life() + _recall()
