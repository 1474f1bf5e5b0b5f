# ruff: noqa: E501  (phrasing and reply tables read best one entry per line)
"""Turns that need no tool: ``Commands: None``.

Greetings, thanks, creative writing, advice, explanations of ideas, and small talk that
mentions numbers or named places ("I just turned 30!", "I'm visiting Mount Velar next month")
without asking for anything to be computed or looked up. These teach the other side of the
boundary: a number or a name in the message is not a reason to call a tool.
"""

from __future__ import annotations

from typing import Any

from finetune.synth.base import Draw, Family, Sample, Split, family
from finetune.synth.corpus import entities


def chat(
    d: Draw,
    human: str,
    thought: str,
    reply: str,
    entities: tuple[str, ...] = (),
    info: dict[str, Any] | None = None,
) -> Sample:
    """A no-tool sample."""
    return Sample(d.template, None, human, thought, [], reply, entities=entities, info=info or {})


@family("chat.greeting", None, weight=1.0)
def greeting(d: Draw) -> Sample:
    human = d.text()
    if "how" in human.lower() or "well" in human.lower():
        reply = d.pick(
            [
                "I'm doing well, thank you! How can I help you today?",
                "All good here, thanks for asking! What can I do for you?",
            ]
        )
    else:
        reply = d.pick(
            [
                "Hello! How can I help you today?",
                "Hi there! What can I do for you?",
                "Hello! What would you like to talk about?",
            ]
        )
    return chat(d, human, "A greeting; no tool is needed.", reply)


@family("chat.thanks", None, weight=1.0)
def thanks(d: Draw) -> Sample:
    reply = d.pick(
        [
            "You're welcome! Let me know if there's anything else.",
            "Happy to help!",
            "Glad I could help. Anything else?",
        ]
    )
    return chat(d, d.text(), "The user says thanks; no tool is needed.", reply)


@family("chat.farewell", None, weight=0.5)
def farewell(d: Draw) -> Sample:
    reply = d.pick(
        ["Goodbye! Have a great day.", "See you soon!", "Take care, and come back any time."]
    )
    return chat(d, d.text(), "The user says goodbye; no tool is needed.", reply)


@family("chat.about", None, weight=0.6)
def about(d: Draw) -> Sample:
    reply = "I'm MOSS, a helpful assistant. I can chat, do calculations, solve equations and search for facts. What would you like to do?"
    return chat(d, d.text(), "A question about me; I answer without tools.", reply)


_CREATIVE: dict[str, tuple[str, str]] = {
    "the sea": ("Waves fold into foam,\nsalt wind carries gull voices,\nthe tide keeps its time.", "Why did the ocean never answer? It just waved."),
    "autumn": ("Red leaves drift and spin,\nthe path crunches under boots,\nwarm breath in cool air.", "What did the tree say when autumn came? Leaf me alone!"),
    "coffee": ("Dark cup, rising steam,\nthe first sip wakes the morning,\nthe day can begin.", "Why did the coffee call the police? It got mugged."),
    "cats": ("Sunlit windowsill,\na cat folds into itself,\ndreaming of soft birds.", "Why was the cat sitting on the computer? To keep an eye on the mouse."),
    "rain": ("Rain taps on the glass,\nstreetlights shimmer in puddles,\nthe whole town slows down.", "What did one raindrop say to the other? Two's company, three's a cloud."),
    "mountains": ("Stone shoulders in cloud,\nthe trail climbs through thinning air,\nsilence at the top.", "Why are mountains so funny? Because they're hill-arious."),
    "the city at night": ("Neon hums softly,\ntaxis stitch the empty streets,\nwindows glow like stars.", "Why did the city go to bed early? It felt a little run-down."),
    "friendship": ("Two cups on the table,\nlaughter fills the quiet room,\nyears feel like a day.", "Why did the two pencils become friends? They had a lot in common, and both were sharp."),
    "the number seven": ("Seven days, seven seas,\na lucky number to some,\nodd, prime and content.", "Why was six afraid of seven? Because seven ate nine."),
    "mathematics": ("Lines meet at a point,\nnumbers settle into place,\nthe proof clicks shut.", "Why was the maths book sad? It had too many problems."),
    "winter mornings": ("Frost on every pane,\nbreath clouds drift above the path,\nthe kettle sings first.", "What do snowmen eat for breakfast? Frosted flakes."),
    "a lighthouse": ("Alone on the rocks,\nits beam sweeps the restless dark,\nships find their way home.", "Why did the lighthouse do so well at school? It was very bright."),
    "trains": ("Rails hum in the dawn,\nfields slide past the window glass,\ntowns blink and are gone.", "Why did the train go to school? To stay on track."),
    "the moon": ("Silver coin of night,\ntides rise to meet its pale face,\nthe dark sky holds still.", "How does the moon cut its hair? Eclipse it."),
    "bicycles": ("Spokes spin in sunlight,\nthe road unrolls down the hill,\nwind laughs in my ears.", "Why can't a bicycle stand up on its own? It's two tired."),
}  # fmt: skip
CREATIVE_TOPICS: dict[Split, tuple[str, ...]] = {
    "train": (
        "the sea",
        "autumn",
        "coffee",
        "cats",
        "rain",
        "mountains",
        "the city at night",
        "friendship",
        "the number seven",
        "mathematics",
    ),
    "heldout": ("winter mornings", "a lighthouse", "trains", "the moon", "bicycles"),
}


@family("chat.creative", None, weight=1.0)
def creative(d: Draw) -> Sample:
    topic = d.pick(CREATIVE_TOPICS[d.pools.split])
    which = d.phrasing[1]
    text = _CREATIVE[topic][which]
    reply = f"Here is a haiku about {topic}:\n{text}" if which == 0 else text
    return chat(
        d,
        d.text(topic=topic),
        "A creative request; I write it myself, no tool needed.",
        reply,
        (topic,),
    )


_ADVICE: dict[Split, tuple[tuple[str, str], ...]] = {
    "train": (
        ("How can I sleep better?", "Go to bed at the same time every night, keep screens out of the bedroom and avoid caffeine after lunch. A cool, dark room helps too."),
        ("Any tips for learning a new language?", "Practise a little every day, learn common phrases first and speak with native speakers whenever you can. Music and podcasts in the language help too."),
        ("How do I stay focused while studying?", "Work in short blocks of about 25 minutes with small breaks, put your phone in another room and set one clear goal for each session."),
        ("I have 3 presentations this week. How can I feel less nervous?", "Rehearse each one out loud a few times, breathe slowly before you start, and remember that the audience wants you to do well."),
        ("What should I pack for a weekend camping trip?", "A tent, a sleeping bag, warm layers, a rain jacket, a torch, water, simple food and a small first-aid kit."),
        ("How can I save money each month?", "Track your spending for a month, set a budget, cook at home more often and move a fixed amount to savings as soon as you are paid."),
        ("How do I start running if I've never done it?", "Start with walk-run intervals three times a week and slowly increase the running time. Good shoes and rest days matter."),
        ("What's a good way to remember names?", "Repeat the name when you hear it, link it to something about the person and use it once or twice in the conversation."),
        ("My plants keep dying. What am I doing wrong?", "Most house plants die from too much water. Check that the pot drains, water only when the top of the soil is dry, and give them enough light."),
        ("What should I cook for 6 friends on a budget?", "A big pot of pasta, chilli or curry goes a long way. Add a simple salad and bread, and ask friends to bring dessert."),
        ("I'm feeling stressed about work. Any advice?", "Take short breaks, write down what worries you and pick one thing to tackle first. Talking to someone you trust helps too."),
    ),
    "heldout": (
        ("How do I keep my desk tidy?", "Keep only what you use every day on the desk, give everything else a place, and clear it for two minutes at the end of each day."),
        ("Any advice for a first job interview?", "Learn about the company, prepare two or three examples of your work, arrive early and have a question ready for them."),
        ("How can I drink more water during the day?", "Keep a bottle on your desk, drink a glass with every meal and add a slice of lemon if you like some taste."),
        ("I want to read more books this year. Any tips?", "Carry a book with you, read a few pages before bed and pick books you enjoy rather than ones you feel you should read."),
        ("My 2 kids argue all the time. What can I do?", "Set a few clear family rules, praise them when they cooperate and give each child some one-to-one time every week."),
    ),
}  # fmt: skip


@family("chat.advice", None, weight=1.2)
def advice(d: Draw) -> Sample:
    q, a = d.pick(_ADVICE[d.pools.split])
    thought = "This asks for advice, not a calculation or a fact to look up."
    return chat(d, q, thought, a, (q,))


_CONCEPTS: dict[Split, tuple[tuple[str, str], ...]] = {
    "train": (
        ("What is a prime number?", "A prime number is a whole number greater than 1 that can only be divided evenly by 1 and itself, like 2, 3, 5, 7 and 11."),
        ("What does percent mean?", "Percent means 'per hundred'. 25% is 25 out of every 100, or a quarter."),
        ("What's the difference between mean and median?", "The mean is the sum of the values divided by how many there are; the median is the middle value once they are sorted."),
        ("Why can't you divide by zero?", "Division asks how many times one number fits into another. No number times zero gives a non-zero number, so dividing by zero has no answer."),
        ("What is an equation?", "An equation says that two expressions are equal, like 2x + 3 = 11. Solving it means finding the value of the unknown that makes it true."),
        ("What is compound interest?", "Compound interest is interest on the original amount plus the interest already earned, so savings grow faster over time."),
        ("What's the difference between weather and climate?", "Weather is what the atmosphere does on a given day; climate is the typical weather of a place over many years."),
        ("What is a square number?", "A square number is a whole number times itself, like 1, 4, 9, 16 and 25."),
    ),
    "heldout": (
        ("What is a square root?", "The square root of a number is the value that, multiplied by itself, gives that number. The square root of 49 is 7."),
        ("What does factorial mean?", "The factorial of a whole number n, written n!, is the product of all whole numbers from 1 to n. For example, 4! = 24."),
        ("What is a ratio?", "A ratio compares two amounts, like 3 to 2: for every 3 of one thing there are 2 of the other."),
    ),
}  # fmt: skip


@family("chat.concept", None, weight=0.8)
def concept(d: Draw) -> Sample:
    q, a = d.pick(_CONCEPTS[d.pools.split])
    thought = "This asks me to explain an idea; I can answer without tools."
    return chat(d, q, thought, a, (q,))


# (message, reply, what it mentions: "n" a number, "e" a named place)
_SMALLTALK_TRAIN: list[tuple[str, str, str]] = [
    ("I just turned {age} today!", "Happy birthday! I hope {age} brings you a wonderful year.", "n"),
    ("I ran {km} km this morning and I'm exhausted.", "Well done on your {km} km run! Rest, drink some water and enjoy the feeling.", "n"),
    ("My {pet} is {n} years old and still acts like a baby.", "That sounds adorable! Some pets stay playful their whole lives.", "n"),
    ("I'm visiting {ref} next month!", "How exciting! I hope you have a wonderful trip to {ref}.", "e"),
    ("I just finished a book about {ref}. It was fascinating.", "That sounds like a great read! What did you enjoy most about it?", "e"),
    ("It's {t} degrees outside today, way too hot.", "That does sound hot! Stay in the shade and drink plenty of water.", "n"),
    ("My phone battery is at {p}% and I forgot my charger.", "Oh no! Switching on battery saver mode can make it last longer.", "n"),
    ("I started {hobby} {n} weeks ago.", "That's great! {n} weeks is a good start. Keep practising and enjoy it.", "n"),
    ("I've got {n} exams next week, wish me luck!", "Good luck! You've got this. Take breaks and get some sleep.", "n"),
    ("We have {n} people coming for dinner tonight.", "That sounds like a lovely evening! Enjoy the cooking and the company.", "n"),
    ("My friend lives near {ref}, it's beautiful there.", "It sounds like a lovely place. You must enjoy visiting your friend.", "e"),
    ("We watched a documentary about {ref} last night.", "That sounds interesting! Documentaries are a great way to see new places.", "e"),
]  # fmt: skip
_SMALLTALK_HELDOUT: list[tuple[str, str, str]] = [
    ("My grandmother is turning {age} on Sunday.", "How wonderful! I hope she has a lovely birthday celebration.", "n"),
    ("Guess what, I saw {ref} on TV yesterday.", "Nice! It must have looked impressive. Would you like to visit it one day?", "e"),
    ("I've been {hobby} for {n} months now.", "That's a great achievement! Keep it up.", "n"),
    ("Our team won {n} to {m} last night!", "Congratulations! That sounds like an exciting match.", "n"),
    ("I bought {n} new books yesterday.", "Lovely! I hope you enjoy reading them.", "n"),
    ("My flight to {ref} leaves tomorrow morning.", "Have a safe flight and a great time at {ref}!", "e"),
    ("Can't believe it's been {n} years since I moved here.", "Time flies! I hope the move has treated you well.", "n"),
]  # fmt: skip
_PLACE_KINDS = ("city", "mountain", "tower", "lake", "bridge", "river")


@family("chat.smalltalk", None, train=_SMALLTALK_TRAIN, heldout=_SMALLTALK_HELDOUT, weight=2.0)
def smalltalk(d: Draw) -> Sample:
    text, reply, mentions = d.phrasing
    split: Split = d.pools.split
    place = d.pick([e for e in entities(split) if e.kind in _PLACE_KINDS])
    n = d.rng.randint(2, 12)
    slots = {
        "age": d.rng.choice([18, 21, 25, 30, 40, 50, 65, 80, 90]), "km": d.rng.choice([5, 8, 10, 12, 21]),
        "pet": d.pick(d.pools.pets), "n": n, "m": d.rng.randint(0, n - 1), "ref": place.ref,
        "t": d.rng.randint(30, 42), "p": d.rng.randint(2, 15), "hobby": d.pick(d.pools.hobbies),
    }  # fmt: skip
    human = d.text(**slots)
    if mentions == "e":
        thought = f"The user mentions {place.ref} but asks nothing about it; no tool is needed."
        used: tuple[str, ...] = (place.name,)
    else:
        thought = "This is small talk with a number in it, not a calculation; no tool is needed."
        used = (
            (slots["pet"],) if "{pet}" in text else (slots["hobby"],) if "{hobby}" in text else ()
        )
    out = reply.format(**slots)
    return chat(d, human, thought, out[:1].upper() + out[1:], used)


FAMILIES: list[Family] = [greeting, thanks, farewell, about, creative, advice, concept, smalltalk]


# -- the wider set: the "chat" kind of conversation ---------------------------------------------
# Added after the evaluation of an all-layer adapter showed it calling tools on plain chat:
# "What is a ratio?" -> Calculate, "Our team won 7 to 3" -> Calculate, a place seen on TV ->
# Search. The families above offer few shapes of each (8 concept questions, statements with
# one number), so a model trained hard on them learns the shapes, not the boundary. These add
# more concepts in several wordings, statements with two or more numbers, and statements
# about a named place. They are a separate list, drawn only by the "chat" kind (share 0 by
# default), so every earlier seed and the evaluation set regenerate unchanged. Their held-out
# phrasings exist for completeness; the evaluation set does not draw on them.

_TERMS: dict[Split, tuple[tuple[str, str], ...]] = {
    "train": (
        ("a fraction", "A fraction is a part of a whole, written as one number over another: 3/4 means 3 parts out of 4 equal parts."),
        ("an average", "An average (the mean) is the total of a set of values divided by how many values there are. It shows a typical value."),
        ("an exponent", "An exponent says how many times to multiply a number by itself: in 2^3 the exponent 3 means 2 × 2 × 2."),
        ("pi", "Pi is the ratio of a circle's circumference to its diameter, about 3.14159. It is the same for every circle."),
        ("an integer", "An integer is a whole number with no fractional part: ..., -2, -1, 0, 1, 2, ..."),
        ("a perimeter", "The perimeter is the distance all the way around the edge of a shape: add up the lengths of its sides."),
        ("a decimal", "A decimal writes a number with a point that separates the whole part from tenths, hundredths and so on, like 2.75."),
        ("a variable", "In algebra a variable is a letter such as x that stands for a number we do not know yet, or one that can change."),
        ("a negative number", "A negative number is less than zero, like -3. Temperatures below freezing and debts are everyday examples."),
        ("a multiple", "A multiple of a number is that number times a whole number: the multiples of 4 are 4, 8, 12, 16 and so on."),
        ("a logarithm", "A logarithm answers the question 'what power gives this number?': log base 10 of 1000 is 3, because 10^3 = 1000."),
        ("probability", "Probability measures how likely something is, from 0 (impossible) to 1 (certain). A fair coin lands heads with probability 1/2."),
        ("an even number", "An even number divides by 2 with nothing left over, like 2, 8 or 40. The others are odd."),
        ("a cube number", "A cube number is a whole number multiplied by itself three times, like 8 (2 × 2 × 2) or 27 (3 × 3 × 3)."),
        ("a percentage point", "A percentage point is the plain difference between two percentages: going from 10% to 12% is a rise of 2 percentage points."),
        ("inflation", "Inflation is the general rise in prices over time, so the same money buys a little less each year."),
        ("a search engine", "A search engine is a program that finds web pages or documents matching the words you type."),
        ("an algorithm", "An algorithm is a step-by-step recipe for solving a problem, like the steps of long division."),
    ),
    "heldout": (
        ("a denominator", "The denominator is the bottom number of a fraction: it says how many equal parts the whole is split into."),
        ("a polygon", "A polygon is a flat shape with straight sides, like a triangle, a square or a hexagon."),
    ),
}  # fmt: skip


@family("chat.term", None, weight=1.0)
def term(d: Draw) -> Sample:
    name, explanation = d.pick(_TERMS[d.pools.split])
    thought = f"This asks what {name} is; I can explain it without a calculation or a search."
    return chat(d, d.text(term=name), thought, explanation, (name,))


# (message, reply); {n} > {m}, {k} a third number. Scores, results and tallies: numbers that
# are news, not sums to do.
_NUMBERS: dict[Split, tuple[tuple[str, str], ...]] = {
    "train": (
        ("We lost {n} to {m} in the final, so close!", "So close! Reaching the final is still a great result. There's always next season."),
        ("The match ended {n}-{m} and I still can't believe it.", "What a game that must have been! Results like that stay with you."),
        ("My daughter scored {n} goals and her team won {n} to {m}!", "Congratulations to her! Scoring {n} goals is a proud moment."),
        ("I got {n} out of {k} on my quiz today!", "Well done on your quiz! Your practice is paying off."),
        ("I walked {n} km on Saturday and {m} km on Sunday.", "That's a very active weekend! Your legs must be tired. Enjoy the rest."),
        ("The bus was {n} minutes late and then the train was {m} minutes late.", "What a frustrating trip! I hope the rest of your day went more smoothly."),
        ("My tomato plants gave me {n} tomatoes this week, and {m} the week before!", "What a harvest! Home-grown tomatoes taste the best."),
        ("Final score tonight: {n} to {m} for the home side.", "Sounds like a good night for the home fans! Were you at the game?"),
        ("I slept {m} hours last night after {n} hours the night before.", "That's not much sleep. Try to get an early night soon; your body will thank you."),
        ("Our quiz team scored {n} points and the winners scored {k}.", "Nice effort! Every quiz night makes the team a little stronger."),
    ),
    "heldout": (
        ("They beat us {n}-{m} again this weekend.", "Hard luck! A rematch will come round soon."),
        ("I did {n} push-ups yesterday and {m} today.", "Great work! Keep building it up steadily."),
    ),
}  # fmt: skip


@family("chat.numbers", None, weight=1.2)
def numbers(d: Draw) -> Sample:
    message, reply = d.pick(_NUMBERS[d.pools.split])
    n = d.rng.randint(3, 12)
    slots = {"n": n, "m": d.rng.randint(1, n - 1), "k": d.rng.randint(n + 1, n + 8)}
    thought = "The user shares some news with numbers in it; nothing needs computing or looking up."
    return chat(d, message.format(**slots), thought, reply.format(**slots))


_PLACE_NEWS: dict[Split, tuple[tuple[str, str], ...]] = {
    "train": (
        ("I read an article about {ref} this morning.", "That sounds interesting! Did it make you want to visit?"),
        ("My cousin just sent me a photo of {ref}.", "How lovely! Photos like that can make you want to travel."),
        ("There was a radio show about {ref} today.", "Nice! Radio shows about places can be surprisingly vivid."),
        ("I finally saw {ref} in person last summer!", "How wonderful! Seeing a place in person is always different from pictures."),
        ("A friend of mine just got back from {ref}.", "I hope your friend had a great trip! Did they share any stories?"),
        ("I dreamt about {ref} last night, funny.", "Dreams can be funny like that! Maybe it's a sign to plan a visit."),
        ("We drove past {ref} on our way home.", "That sounds like a nice drive! Did you get a good look?"),
        ("My neighbour has a painting of {ref} in her hall.", "That sounds beautiful. A painting of a place can bring back good memories."),
    ),
    "heldout": (
        ("There's a poster of {ref} in my office.", "Nice! It must brighten up the room."),
        ("I'm reading a novel set near {ref}.", "That sounds like a good read! Enjoy it."),
    ),
}  # fmt: skip


@family("chat.place_news", None, weight=1.0)
def place_news(d: Draw) -> Sample:
    message, reply = d.pick(_PLACE_NEWS[d.pools.split])
    place = d.pick([e for e in entities(d.pools.split) if e.kind in _PLACE_KINDS])
    thought = f"The user mentions {place.ref} but asks nothing about it; no tool is needed."
    return chat(d, message.format(ref=place.ref), thought, reply, (place.name,))


# Every no-tool family, old and new: what the "chat" kind draws from.
WIDER_FAMILIES: list[Family] = [*FAMILIES, term, numbers, place_news]
