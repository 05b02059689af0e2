"""Every word list and sentence rule the companion uses on text, in one place: where a sentence ends,
which words cannot end a phrase, the stop phrases, the wake phrase's remains in a transcript, and the
ways text is normalised for comparing or speaking.

One sentence rule serves the chunker (what the TTS gets), the tone splitter (one prosody a sentence)
and the output guard (how many sentences were said): they must agree on "Dr. Smith", "3.5", "e.g."
and "…", or the guard counts a sentence the voice never paused on.
"""

from __future__ import annotations

import difflib
import re

# Words ending in "." that do not end a sentence.
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "approx",
        "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "u.s", "u.k", "a.m", "p.m",
    }
)  # fmt: skip
# Words that need more after them: a sentence (or a first chunk) does not end on one.
TRAILING_WORDS = frozenset(
    {
        "a", "an", "the", "of", "to", "and", "or", "but", "with", "my", "your", "in", "on", "at", "for",
        "from", "about", "is", "are", "was", "um", "uh", "like", "so", "because", "that", "if", "when",
    }
)  # fmt: skip
FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "mm"})  # "Tell me, um." is not finished
STOP_PHRASES = ("stop", "wait", "hang on", "hold on", "be quiet", "shh", "quiet", "never mind", "enough")

# A terminator (. ! ? or an ellipsis, plus closing quotes and brackets) once whitespace follows, or a
# newline. Whitespace must follow so "3.5" and a "." still being streamed are not ends yet.
_TERMINATOR = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
_CLOSERS = "\"'”’)]"


def _ends_sentence(text: str, start: int, mark: str) -> bool:
    """Whether the terminator `mark` found at `start` in `text` closes a sentence."""
    bare = mark.rstrip(_CLOSERS)
    if bare.startswith(("..", "…")):
        return False  # an ellipsis is a pause, mostly mid-sentence in these models
    if bare == ".":
        word = re.search(r"([\w.]+)$", text[:start])
        w = word.group(1).lower() if word else ""
        if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha() and w != "i"):
            return False  # "Dr." or an initial ("J. Smith")
    return True


def sentence_ends(text: str) -> list[int]:
    """Offsets just past each complete sentence in `text`. A sentence needs a letter, so a list
    number ("1.") or a blank line joins the next one."""
    ends, start = [], 0
    for m in _TERMINATOR.finditer(text):
        if not _ends_sentence(text, m.start(), m.group()):
            continue
        if not any(c.isalpha() for c in text[start : m.start()]):
            continue
        ends.append(m.end())
        start = m.end()
    return ends


def split_sentences(text: str) -> list[str]:
    """`text` cut into sentences by `sentence_ends`; an unfinished last one is kept as it is."""
    text = text.strip()
    out, start = [], 0
    for end in sentence_ends(text):
        out.append(text[start:end].strip())
        start = end
    out.append(text[start:].strip())
    return [s for s in out if s]


def complete_sentences(text: str) -> list[str]:
    """Only the sentences that end with a terminator: a model's half sentence at its token budget
    is left out."""
    ends = sentence_ends(text + " ")
    return split_sentences(text[: ends[-1]]) if ends else []


# ------------------------------------------------------------------------------ normalising
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})


def normalize_word(word: str) -> str:
    """Compare words case- and punctuation-blind: 'Paris,' == 'paris'."""
    return word.lower().replace("’", "'").strip("\"'“”‘’()[]{}.,;:!?…-—*_#")


def plain(text: str, lower: bool = True) -> str:
    """Words, digits and apostrophes only, single-spaced: 'What's the time?' -> "what's the time"."""
    t = text.translate(_APOSTROPHES)
    t = t.lower() if lower else t
    t = re.sub(r"\b([apAP])\.\s?[mM]\b\.?", lambda m: m[1].lower() + "m", t)  # "5 p.m." -> "5 pm"
    t = re.sub(r"[^\w':\s-]|_", " ", t)
    t = re.sub(r"(?<![\w])'|'(?![a-zA-Z])", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def tidy_transcript(text: str) -> str:
    """Tidy an STT engine's output: one space between words, no space before punctuation, no ",,"
    and no dangling comma at the end (a streaming decode made just after the last word leaves one).
    Punctuation alone is nothing heard (Whisper reads a second of silence in a 10-s window as ".")."""
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"\w", text):
        return ""
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,.!?;:])\1+", r"\1", text)
    return re.sub(r"[\s,;:]+$", "", text)


def tidy_for_history(said: str) -> str:
    """The reply as the model will read it back next turn, with its trailing-off ellipses made full
    stops: a tiny model copies "Paris...blue..." from its history until every reply is a chain of
    them (seen live after six turns)."""
    return re.sub(r"\s*(?:\.{2,}|…)+\s*", ". ", said).strip()


_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ASIDE = re.compile(r"\(([^)]*)\)|\*([^*]+)\*|\[([^\]]*)\]")
_MARKUP = re.compile(r"[#_`~>|]+|^\s*[-•]\s+", re.MULTILINE)


def _aside(m: re.Match[str]) -> str:
    """A short aside without numbers is a stage direction ("(laughs)", "*smiles*"): drop it.
    A longer one carries content: keep its words, lose the brackets."""
    inner = next(g for g in m.groups() if g is not None)
    is_direction = len(inner.split()) <= 3 and not re.search(r"\d", inner)
    return " " if is_direction else f" {inner} "


_LABEL = re.compile(r"^\s*[A-Z][a-z]+(?: [A-Z][a-z]+)?:\s+(?=\S)")  # "Theo: 17 * 3 = 45" (a speaker label)


def strip_speaker_label(text: str) -> str:
    """A reply the model began as a script ("Theo: 17 * 3 = 45"), without the label. For the LLM's
    words only: "Reminder: call Mum." is said as it is."""
    return _LABEL.sub("", text)


def speakable(text: str) -> str:
    """What a voice should say: no stage directions, markdown or emoji."""
    text = _BOLD.sub(r"\1", text)
    text = _ASIDE.sub(_aside, text)
    text = _MARKUP.sub(" ", text)
    text = "".join(ch for ch in text if ord(ch) < 0x2190 or ch in "–—…")  # drop emoji and symbols
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


# ------------------------------------------------------------------------------ what the owner said
def strip_wake_phrase(transcript: str, phrase: str) -> str:
    """Drop the wake phrase from the start of a transcript ("Hey Jarvis, what…" -> "what…").

    The pre-roll buffer hands the STT a little audio from before the wake word fired, so the phrase,
    or a mishearing of it ("Hey, Travis"), often leads the transcript.
    """
    if not phrase:
        return transcript
    words = transcript.split()
    target = re.sub(r"[^a-z ]", "", phrase.lower().replace("_", " "))
    n_phrase = len(target.split())
    best, best_ratio = 0, 0.7  # the head that matches the phrase best, if any matches well
    for n in range(1, min(len(words), n_phrase + 1) + 1):
        head = re.sub(r"[^a-z ]", "", " ".join(words[:n]).lower())
        ratio = difflib.SequenceMatcher(None, head, target).ratio()
        if ratio >= best_ratio:
            best, best_ratio = n, ratio
    rest = " ".join(words[best:]).lstrip(" ,.!?")
    return rest[:1].upper() + rest[1:] if best else transcript


def is_stop_phrase(transcript: str, phrases: tuple[str, ...] = STOP_PHRASES) -> bool:
    """ "Stop.", "Wait, wait", "OK hang on": a short request that only asks for quiet."""
    words = re.sub(r"[^a-z ]", " ", transcript.lower()).split()
    text = " ".join(w for w in words if w not in ("ok", "okay", "please", "no", "oh", "um", "jarvis", "hey"))
    if text.startswith("stop listening"):  # not quiet now: the mute (intents/settings.py)
        return False
    return bool(words) and len(words) <= 4 and any(text.startswith(p) or text == p for p in phrases)


def looks_complete(hypothesis: str) -> bool:
    """Whether a transcript reads as a finished request: it ends a sentence, and not on a word that
    needs more after it ("the", "of", "and")."""
    text = hypothesis.strip()
    if not text or text[-1] not in ".?!" or text.endswith(("...", "…")):
        return False
    words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
    return len(words) >= 2 and words[-1] not in TRAILING_WORDS and words[-1] not in FILLERS


# The tiny model's answer to almost anything: "I'm glad to hear that you're enjoying the outdoors!" to
# "What do you think about rainy days?" (measured; SmolLM2-135M, greedy).
NON_ANSWER = re.compile(
    r"^(?:awesome[!,.]?\s*|wow[!,.]?\s*|oh[!,.]?\s*)?i'?m (?:so |really )?glad (?:to (?:hear|see) )?"
    r"(?:of |that )?(?:you'?re|you are) (?:enjoying|finding|having)"
    r"|^i'?m (?:so )?glad (?:of you|you asked|for asking)|glad to make your acquaintance|\bmy blog\b",
    re.I,
)


def answer_lead(question: str) -> str:
    """A start for an answer to `question`, for a second try after a non-answer ("" if none fits)."""
    t = plain(question)
    if m := re.search(r"\byour favou?rite (\w+)", t):
        return f"My favourite {m[1]} is"
    if re.search(r"\b(?:what|which) (?:should|could|shall|can) i\b|\bany ideas\b|\bwhat's a good\b", t):
        return "How about"
    if re.search(r"\bhow are you\b|\bhow's it going\b|\bhow are things\b", t):
        return "I'm doing well, thanks."
    if m := re.search(r"^do you (?:like|love|enjoy) (.+)$", t):
        return f"I love {m[1]}, especially"
    if m := re.search(r"\bwhat do you think (?:about|of) (.+)$", t):
        return f"I like {m[1]}, because"
    if re.search(r"\btell me something\b", t):
        return "Here's something I find amazing:"
    return ""
