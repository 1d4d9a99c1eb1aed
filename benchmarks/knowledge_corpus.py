"""A deterministic corpus and query set for `benchmarks/knowledge.py`.

Documents read like loose encyclopaedia prose: sentences of 8–20 words mixing function
words, a general vocabulary, the terms of the document's topic (a few hundred topics, each
with its own dozen terms, used with Zipf-like weights) and a handful of rarer words of the
document's own. Two documents of one topic share most of their topic words, so a query has
to combine words to find its document, as a real one does.

Each query is built from one document (its *answer*): one or two of its rare words, two of
its topic words and, for some, a general word it contains, with a question's opening
("how does", "what is the") now and then. Rare words are drawn with replacement, so many
belong to two or three documents; the topic words then decide. Recall@3 is whether the
answer is among a search's first three documents.

The words come from zxcvbn's English Wikipedia frequency list (a dependency of Podium, so
no download): the same package version gives the same corpus, byte for byte.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Glue between the content words; the repeated ones are drawn more often.
FUNCTION_TEXT = """
the the the the of of of and and a a to to in in is for on with as by that this it
from at are was be or an which its their has have not but can into more when also
"""
FUNCTION_WORDS = tuple(FUNCTION_TEXT.split())
QUESTION_OPENINGS = ("", "", "", "how does", "what is the", "why", "where", "notes on")
SEED = 14


@dataclass(frozen=True, slots=True)
class Document:
    key: str
    title: str
    text: str  # the title as a Markdown heading, then the body
    topic: int


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    answer: str  # the key of the document the query was made from


@dataclass(frozen=True)
class Vocabulary:
    common: list[str]
    topics: list[list[str]]
    rare: list[str]


def vocabulary(topics: int) -> Vocabulary:
    """General, topic and rare words, disjoint, from the frequency list (most frequent first)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = [w for w in FREQUENCY_LISTS["english_wikipedia"] if re.fullmatch(r"[a-z]{3,}", w)]
    words = [w for w in dict.fromkeys(words) if w not in FUNCTION_WORDS]
    common, topical, rare = words[:2500], words[2500:9000], words[9000:]
    rng = random.Random(SEED)
    rng.shuffle(topical)
    per_topic = 12
    if topics * per_topic > len(topical):
        raise ValueError(f"at most {len(topical) // per_topic} topics")
    groups = [topical[i * per_topic : (i + 1) * per_topic] for i in range(topics)]
    return Vocabulary(common, groups, rare)


def _zipf_cumulative(n: int) -> list[float]:
    """Cumulative Zipf weights (`random.choices(cum_weights=...)` bisects them: fast)."""
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(n)))


def generate(count: int, topics: int = 300, seed: int = SEED) -> list[Document]:
    """`count` documents of 100–300 words over `topics` topics, the same on every call."""
    words = vocabulary(topics)
    rng = random.Random(seed)
    topic_weights = _zipf_cumulative(12)
    common_weights = _zipf_cumulative(len(words.common))
    documents = []
    for number in range(count):
        topic = number % topics
        terms = words.topics[topic]
        # A second topic lends a couple of words, as real documents wander.
        other = words.topics[rng.randrange(topics)]
        own = rng.sample(words.rare, 4)
        length = rng.randint(100, 300)
        body: list[str] = []
        sentence: list[str] = []
        sentence_length = rng.randint(8, 20)
        while len(body) + len(sentence) < length:
            draw = rng.random()
            if draw < 0.38:
                word = rng.choice(FUNCTION_WORDS)
            elif draw < 0.74:
                word = rng.choices(words.common, cum_weights=common_weights)[0]
            elif draw < 0.92:
                word = rng.choices(terms, cum_weights=topic_weights)[0]
            elif draw < 0.95:
                word = rng.choice(other[:4])
            else:
                word = rng.choice(own)
            sentence.append(word)
            if len(sentence) == sentence_length:
                body.extend(_sentence(sentence))
                sentence, sentence_length = [], rng.randint(8, 20)
        body.extend(_sentence(sentence))
        for word in own:  # every rare word of the document is in it at least once
            if word not in body:
                body.insert(rng.randrange(len(body) + 1), word)
        title = " ".join([terms[0].capitalize(), *rng.sample(terms[1:6], 2), own[0]])
        paragraphs = _paragraphs(body, rng)
        documents.append(
            Document(
                key=f"topic-{topic:03d}/doc-{number:05d}",
                title=title,
                text=f"# {title}\n\n{paragraphs}\n",
                topic=topic,
            )
        )
    return documents


def _sentence(words: list[str]) -> list[str]:
    if not words:
        return []
    return [words[0].capitalize(), *words[1:-1], words[-1] + "."] if len(words) > 1 else words


def _paragraphs(body: list[str], rng: random.Random) -> str:
    out, start = [], 0
    while start < len(body):
        end = min(len(body), start + rng.randint(40, 90))
        while end < len(body) and not body[end - 1].endswith("."):
            end += 1
        out.append(" ".join(body[start:end]))
        start = end
    return "\n\n".join(out)


def document_words(document: Document) -> set[str]:
    return set(re.findall(r"[a-z]+", document.text.lower()))


def queries(documents: list[Document], count: int, seed: int = SEED + 1) -> list[Query]:
    """`count` queries, each made from a different document (its answer)."""
    if count > len(documents):
        raise ValueError("more queries than documents")
    rng = random.Random(seed)
    topics = max(d.topic for d in documents) + 1
    words = vocabulary(topics)
    rare = set(words.rare)
    common = set(words.common)
    out = []
    for document in rng.sample(documents, count):
        present = document_words(document)
        own = sorted(present & rare)
        topic_terms = [t for t in words.topics[document.topic] if t in present]
        parts = rng.sample(own, min(len(own), rng.choice((1, 1, 2))))
        parts += rng.sample(topic_terms, min(2, len(topic_terms)))
        if rng.random() < 0.3:
            parts.append(rng.choice(sorted(present & common)))
        rng.shuffle(parts)
        opening = rng.choice(QUESTION_OPENINGS)
        out.append(Query(" ".join([opening, *parts]).strip(), document.key))
    return out


def sizes(documents: list[Document]) -> Iterator[int]:
    for document in documents:
        yield len(document.text.split())
