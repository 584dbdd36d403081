#!/usr/bin/env python3
"""Generates the content tree for benches/site-vs-hugo.sh.

    python3 benches/make-pages.py OUT_DIR [PAGES]

Writes, deterministically (same PAGES, same bytes):

    OUT_DIR/_index.md                 the home page (links to the section)
    OUT_DIR/bench/_index.md           the section page
    OUT_DIR/bench/page-0001.md ...    PAGES guidance pages, 600-1,000 words each

Every page has `+++` TOML front matter (title, description, weight) that both
`portal build` and Hugo read, and a body of the kind the portal's guidance pages
have: h2/h3 headings, paragraphs with emphasis and inline code, bullet and numbered
lists, a small table, and a few internal links to other generated pages
(`/bench/page-0042/`, some with a `#heading` anchor that exists on that page).
No Tera or Hugo template syntax appears in the bodies, so neither tool treats a
page as a template.
"""

import os
import random
import sys

TOPICS = [
    "claim denials", "timely filing", "prior authorization", "coordination of benefits",
    "recoupments", "claim line edits", "provider registration", "dispute windows",
    "remittance advice", "retro-eligibility", "out-of-network claims", "bundling rules",
    "modifier use", "NPI mismatches", "duplicate claims", "interest payments",
]
SUBJECTS = [
    "The provider", "Your billing office", "The managed care organization", "HFS",
    "The MCO's dispute unit", "A registered submitter", "The reviewer", "Each claim line",
    "The complaint template", "The clearinghouse", "Your practice manager", "The plan",
]
WHO = ["Provider", "Billing office", "MCO", "HFS", "Reviewer", "Clearinghouse"]
VERBS = [
    "should confirm", "must record", "reviews", "keeps a copy of", "checks", "explains",
    "sends back", "compares", "looks up", "flags", "attaches", "answers",
]
OBJECTS = [
    "the internal control number", "the date the claim was filed with the MCO",
    "the reason code on the remittance advice", "the member's recipient identification number",
    "every line of the complaint template", "the MCO's written response",
    "the billed and paid amounts", "the service dates on each line",
    "the rendering provider's NPI", "the registration confirmation",
    "the thirty to sixty day window", "the dispute reference number",
]
TAILS = [
    "before the complaint is sent", "within two business days", "so that nothing is lost",
    "when the MCO has not answered", "for every disputed line", "as the guidance describes",
    "once the window has opened", "and notes the outcome", "in the same email",
    "before the window closes", "so the reviewer can match it", "without changing the template",
]
ADVERBS = ["carefully", "promptly", "always", "usually", "first", "again"]
HEADINGS_2 = [
    "Before you start", "What to gather", "How the review works", "Common problems",
    "When to escalate", "What happens next", "Keeping records", "Worked example",
    "Who to contact", "Deadlines and windows",
]
HEADINGS_3 = [
    "Documents", "Dates", "Amounts", "Codes", "Contacts", "Follow up", "Exceptions",
    "Checklist", "Examples", "Notes",
]


def page_name(number):
    return f"page-{number:04d}"


def sentence(rng):
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
    roll = rng.random()
    if roll < 0.12:
        text = text.replace(" must ", " *must* ", 1) if " must " in text else text + ", " + rng.choice(ADVERBS)
    elif roll < 0.2:
        word = rng.choice(OBJECTS)
        text = f"{text}; keep **{word}** with it"
    elif roll < 0.26:
        text = f"{text}, quoting `ICN-{rng.randrange(10**9):09d}`"
    return text + "."


def upper_first(text):
    return text[:1].upper() + text[1:]


def paragraph(rng, sentences):
    return " ".join(sentence(rng) for _ in range(sentences))


def link(rng, pages, this, headings_of):
    other = rng.randrange(1, pages + 1)
    if other == this:
        other = other % pages + 1
    label = rng.choice(["the guidance on", "see", "the page on", "read"]) + " " + rng.choice(TOPICS)
    if rng.random() < 0.3:
        anchor = slug(headings_of(other)[0])
        return f"[{label}](/bench/{page_name(other)}/#{anchor})"
    return f"[{label}](/bench/{page_name(other)}/)"


def slug(text):
    return "-".join(text.lower().split())


def headings(number):
    """The h2 headings of page `number`: fixed by the number, so links can target them."""
    rng = random.Random(f"headings-{number}")
    return rng.sample(HEADINGS_2, 5)


def body(number, pages):
    rng = random.Random(f"page-{number}")
    parts = []
    topic = TOPICS[number % len(TOPICS)]
    parts.append(
        f"This page explains how to handle *{topic}* when you bring an unresolved dispute to HFS. "
        + paragraph(rng, 3)
    )
    h3_pool = HEADINGS_3[:]
    rng.shuffle(h3_pool)
    for index, heading in enumerate(headings(number)):
        parts.append(f"## {heading}")
        parts.append(paragraph(rng, rng.randint(3, 4)) + " For more, " + link(rng, pages, number, headings) + ".")
        if index == 1:
            parts.append("\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(4, 6))))
        if index == 2:
            rows = ["| Step | Who | Within |", "|---|---|---:|"]
            for step in range(1, rng.randint(4, 6)):
                rows.append(f"| {step}. {upper_first(rng.choice(OBJECTS))} | {rng.choice(WHO)} | {rng.randint(1, 60)} days |")
            parts.append("\n".join(rows))
        if index in (1, 3):
            parts.append(f"### {h3_pool.pop()}")
            parts.append(paragraph(rng, rng.randint(2, 4)))
            parts.append("\n".join(f"{n}. {sentence(rng)}" for n in range(1, rng.randint(4, 6))))
        if index == 4:
            parts.append(f"### {h3_pool.pop()}")
            parts.append(paragraph(rng, 3) + " Also " + link(rng, pages, number, headings) + ".")
    parts.append(paragraph(rng, 2))
    return "\n\n".join(parts) + "\n"


def front(title, description, weight):
    def q(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"+++\ntitle = {q(title)}\ndescription = {q(description)}\nweight = {weight}\n+++\n\n"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    pages = int(sys.argv[2]) if len(sys.argv) == 3 else 1000
    if pages < 1:
        sys.exit("PAGES must be at least 1")
    os.makedirs(os.path.join(out, "bench"), exist_ok=True)
    with open(os.path.join(out, "_index.md"), "w", encoding="utf-8") as file:
        file.write(front("Benchmark home", "The home page of the generated benchmark site.", 1))
        file.write("## About this site\n\nA generated site for timing builds. "
                   "The pages are in [the guidance section](/bench/).\n")
    with open(os.path.join(out, "bench", "_index.md"), "w", encoding="utf-8") as file:
        file.write(front("Guidance pages", "Every generated guidance page.", 2))
        file.write(f"{pages} generated guidance pages, listed below. Start with [the first](/bench/{page_name(1)}/).\n")
    words = 0
    for number in range(1, pages + 1):
        topic = TOPICS[number % len(TOPICS)]
        text = body(number, pages)
        words += len(text.split())
        with open(os.path.join(out, "bench", page_name(number) + ".md"), "w", encoding="utf-8") as file:
            file.write(front(f"Guidance {number:04d}: {topic}",
                             f"How to handle {topic} in a dispute brought to HFS (page {number}).", number))
            file.write(text)
    print(f"wrote {pages} pages (+2 index pages) into {out}, {words / pages:.0f} words per page on average",
          file=sys.stderr)


if __name__ == "__main__":
    main()
