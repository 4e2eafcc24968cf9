"""Short answers, answers from more than one sentence, key-fact refusals and follow-up chains."""

from __future__ import annotations

import pytest

from rag.answering.followup import HeuristicRewriter, earlier_answers, short_answer_of
from rag.answering.keyfacts import ALL_RULES, missing_facts
from rag.types import Answer, Article

COUNCIL = Article(
    id="council",
    title="Riverton council",
    source="council.txt",
    text=(
        "Ann Lee chaired the Riverton council meeting on Monday evening.\n\n"
        "The council approved 12 new electric buses for the city in 2019, after a long debate.\n\n"
        "“We will not wait for the next flood,” the host of the meeting said about the river wall.\n\n"
        "The old bridge was closed to traffic on Friday. This was because the river had flooded its banks.\n\n"
        "The mayors of Oakdale, Millford and Eastbury attended the meeting. There were also the "
        "deputy mayor of Westport, the head of the port authority, and two engineers."
    ),
)


def _verbatim(answer: Answer, assistant) -> None:
    """Every citation and the short answer are article text at their offsets."""
    for c in answer.citations:
        assert assistant.article(c.article_id).text[c.start : c.end] == c.quote
    sa = answer.short_answer
    if sa is not None:
        text = assistant.article(sa.article_id).text
        assert text[sa.start : sa.end] == sa.text
        cited = next(c for c in answer.citations if c.n == sa.n)
        assert cited.start <= sa.start and sa.end <= cited.end
        assert answer.text.startswith(f"**{sa.text}** [{sa.n}]") or "\\" in answer.text.split("\n")[0]


def _span_of(sentence: str, part: str) -> tuple[int, int]:
    at = sentence.index(part)
    return at, at + len(part)


def _text_at(sentence: str, found: tuple[int, int] | None) -> str | None:
    return sentence[found[0] : found[1]] if found else None


def _ask_with_reader(assistant, text: str, span: str, question: str) -> Answer:
    """`question` asked of an article of `text` alone, with a reader that finds `span`."""
    from tests.test_reader import FakeReader, _answerer

    assistant.index_articles([Article(id="trial", title="Trial", source="test", text=text)])
    _answerer(assistant, FakeReader(span))
    return assistant.ask(question)


@pytest.fixture
def council(assistant):
    report = assistant.index_articles([COUNCIL])
    assert report.added
    return assistant


def test_the_short_answer_leads_and_is_checked_like_a_quote(council):
    answer = council.ask("How many electric buses did the council approve in 2019?")
    assert not answer.refused
    assert answer.short_answer is not None and answer.short_answer.text == "12"
    assert answer.answer_span == "12"
    _verbatim(answer, council)
    data = answer.to_dict()
    assert data["short_answer"]["start"] == COUNCIL.text.index("12 new")
    assert Answer.from_dict(data).short_answer == answer.short_answer


def test_a_role_is_answered_with_the_name_given_earlier_and_both_sentences_are_cited(council):
    answer = council.ask("Who was the host of the meeting about the river wall?")
    assert not answer.refused
    quotes = [c.quote for c in answer.citations]
    assert any("the host of the meeting" in q for q in quotes)
    assert any("Ann Lee" in q for q in quotes)
    assert answer.short_answer is not None and answer.short_answer.text == "Ann Lee"
    _verbatim(answer, council)


def test_a_reason_in_the_next_sentence_is_cited_too(council):
    answer = council.ask("Why was the old bridge closed to traffic?")
    assert not answer.refused
    quotes = [c.quote for c in answer.citations]
    assert "The old bridge was closed to traffic on Friday." in quotes
    assert "This was because the river had flooded its banks." in quotes
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    _verbatim(answer, council)


def test_the_reason_a_sentence_gives_is_the_short_answer_to_why(council):
    answer = council.ask("Why was the old bridge closed to traffic?")
    assert answer.short_answer is not None and answer.short_answer.text == "the river had flooded its banks"
    _verbatim(answer, council)


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Germany cannot deliver the missiles, vital for hitting targets, because the system, capable of "
         "destroying bunkers, requires German personnel.", "the system, capable of destroying bunkers, requires German personnel"),
        ("The match was cancelled because of the storm that hit the coast.", "the storm that hit the coast"),
        ("The ferry stopped in 1932 due to falling demand from the town.", "falling demand from the town"),
        ("They built a wall so that the river would not flood the town.", "the river would not flood the town"),
        ("Since the bridge was closed, traffic moved to the ferry.", "the bridge was closed"),
        ("She has lived in Paris since 2014.", None),  # time, not a reason
        # No word says "because": a participle of fearing, judging or saying, or a purpose.
        ("The union opposed the deal, fearing that 1,500 jobs would be cut.", "fearing that 1,500 jobs would be cut"),
        ("The court blocked the merger, ruling that shippers would have too little choice.",
         "ruling that shippers would have too little choice"),
        ("The club sold its ground to raise money for a new stand.", "to raise money for a new stand"),
        ("The city closed the bridge in order to repair the cables.", "in order to repair the cables"),
        ("He left the meeting early, saying he was ill.", "saying he was ill"),
        ("The union said it feared that production would move to Italy.", "production would move to Italy"),
        # What a feeling takes.
        ("Many of them were angry that the report had been kept private for five months.",
         "the report had been kept private for five months"),
        ("She was disappointed that the court blocked the deal.", "the court blocked the deal"),
        ("The mayor said that the bridge would reopen.", None),  # saying is no feeling
        ("The mayor was the first to arrive.", None),  # an infinitive that gives no purpose
        ("Officials decided to close the schools.", None),
        ("Shares fell sharply, wiping out a year of gains.", None),  # a result, not a reason
        ("The council met on Monday and approved the budget.", None),
    ],
)
def test_reason_in_finds_the_clause_or_phrase_after_the_word_that_gives_a_reason(sentence, reason):
    from rag.answering.neighbours import reason_in

    span = reason_in(sentence)
    assert (sentence[span[0] : span[1]] if span else None) == reason


def test_a_list_over_two_sentences_cites_both(council):
    answer = council.ask("Who attended the meeting?")
    assert not answer.refused
    quotes = " ".join(c.quote for c in answer.citations)
    assert "Oakdale" in quotes and "port authority" in quotes
    _verbatim(answer, council)


@pytest.mark.parametrize(
    "question",
    [
        "How many electric buses did the council approve in 2021?",  # another year
        "How many electric buses did the council approve last year?",  # a date the article does not give
        "How many electric buses did the Millbrook council approve?",  # another name
        "How many electric trams did the council approve in 2019?",  # another thing counted
    ],
)
def test_a_question_with_a_swapped_key_fact_is_refused(council, question):
    answer = council.ask(question)
    assert answer.refused, answer.text
    assert not answer.citations and not answer.short_answer


def test_key_facts_rules():
    sentence = "The council approved 12 new electric buses for the city in 2019."
    assert missing_facts("How many buses were approved in 2019?", sentence) == []
    assert missing_facts("How many buses were approved in 2020?", sentence) == ["2020"]
    # Other numbers are checked only when asked for (they cost more false refusals than they save).
    assert missing_facts("Were 13 buses approved?", sentence) == []
    assert missing_facts("Were 13 buses approved?", sentence, rules=ALL_RULES) == ["13"]
    assert missing_facts("How many trams were approved?", sentence) == ["trams"]
    assert missing_facts("What did the council not approve?", sentence) == ["not"]
    assert "last year" in missing_facts("What was approved last year?", sentence)
    # A century is a year as coarse as that: it must be the one the evidence gives.
    norman = "In the 11th century the Normans took Dyrrachium, and they held it in the 12th."
    assert missing_facts("Who attacked Dyrrachium in the 10th century?", norman) == ["10th century"]
    assert missing_facts("Who attacked Dyrrachium in the 11th century?", norman) == []
    assert missing_facts("Who held it in the twelfth century?", norman) == []  # no number asked: nothing checked
    assert missing_facts("What happened in the 10th and 11th centuries?", "In the 10th and 11th centuries, …") == []
    # A decade is said by itself or by a year of it.
    assert missing_facts("What did Apple release in the 1980s?", "In 1985 Apple released AppleTalk.") == []
    assert missing_facts("What did Apple release in the 1970s?", "In 1985 Apple released AppleTalk.") == ["1970s"]
    assert missing_facts("What was built in the 1100s?", "By the early 1100s the abbey stood.") == []
    assert missing_facts("What was built in the 1100s?", "The abbey was built in 1154.") == []  # the century
    assert missing_facts("What was built in the 1100s?", "The abbey was built in the 12th century.") == []
    assert missing_facts("What was built in the 1100s?", "The abbey was built in the 11th century.") == ["1100s"]
    # A country is found by the word for its people ("Spain" asked, "Spanish" written).
    assert missing_facts("Who represented Spain?", "with the Spanish president, Pedro Sánchez") == []
    assert missing_facts("Who represented Chile?", "with the Spanish president, Pedro Sánchez") == ["chile"]
    # A name found elsewhere in the article is not missing where the evidence speaks of someone
    # unnamed ("the mayor", "he"), nor where it gives another of the question's names...
    mayor = "The mayor said the council approved 12 new electric buses."
    assert missing_facts("What did Ann Lee say about the buses?", mayor, article_terms={"ann", "lee"}) == []
    assert missing_facts("What did Ann Lee say about the buses?", "She said so.", article_terms={"ann", "lee"}) == []
    assert missing_facts("Did Riverton and Millbrook approve buses?", "Millbrook approved buses.",
                         article_terms={"riverton", "millbrook"}) == []
    # ...but where it names none of them and no one unnamed, it answers about something else.
    rivalry = "Harvard has an intense athletic rivalry with Yale University."
    assert missing_facts("What rivalry do Oxford and Cambridge have?", rivalry,
                         article_terms={"oxford", "cambridg", "harvard", "yale"}) != []
    assert missing_facts("What did Riverton approve?", sentence, article_terms={"riverton"}) != []
    # Someone unnamed stands in for a person, not for a country that acts in the question...
    tanks = "The French president recalled that two years ago no one thought about sending tanks."
    assert missing_facts("How many tanks did Germany send?", tanks, article_terms={"germani", "tank"}) == ["germani"]
    assert missing_facts("What did Ann Lee say about tanks?", tanks, article_terms={"ann", "lee", "tank"}) == []
    # ...while a country the question only speaks of may be said before.
    threatened = "He spoke to the leaders of the countries most directly threatened, such as Finland and Poland."
    assert missing_facts("Which countries are most threatened by Russia?", threatened, article_terms={"russia"}) == []
    # People and times counted in other words.
    assert missing_facts("How many people were hurt?", "Two fishermen were hurt.", rules=ALL_RULES) == []
    assert missing_facts("How many people were hurt?", "The wall was hit twice.", rules=ALL_RULES) == ["people"]
    assert missing_facts("How many times was it hit?", "The wall was hit twice.", rules=ALL_RULES) == []


@pytest.mark.parametrize(
    ("question", "evidence", "missing"),
    [
        # The title names both companies, so the name alone is "found"; the sentence gives the chief
        # executive to the other one.
        ("Who is the chief executive of Baltic Freight?",
         "Nordline's chief executive, Tomas Berg, argued for the deal.", ["baltic freight"]),
        ("Who is the chief executive of Nordline?", "Nordline's chief executive, Tomas Berg, argued for the deal.", []),
        ("Who is the mayor of Port Elwin?", "The mayor of Ardley, Claire Dubois, said so.", ["elwin port"]),
        ("Who is the mayor of Port Elwin?", "The mayor, Claire Dubois, said so.", []),  # no other town's
        ("Who is the mayor of Port Elwin?", "The mayor of Port Elwin and the mayor of Ardley met.", []),
    ],
)
def test_a_thing_the_evidence_gives_to_another_name_is_a_missing_fact(question, evidence, missing):
    title = "Court blocks merger of Nordline and Baltic Freight in Port Elwin and Ardley"
    assert missing_facts(question, evidence, title) == missing


def test_a_follow_up_chain_of_four_turns_keeps_the_thread(council):
    history: list[dict[str, str]] = []

    def turn(question: str) -> Answer:
        answer = council.ask(question, history=list(history))
        history.extend([{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}])
        _verbatim(answer, council)
        return answer

    first = turn("Did the council approve electric buses in 2019?")
    assert not first.refused
    second = turn("How many?")  # elliptical: the same question, about the count
    assert second.query and "how many" in second.query.lower()
    third = turn("Who chaired the council meeting?")
    assert third.short_answer is not None and third.short_answer.text == "Ann Lee"
    fourth = turn("When did she chair it?")
    assert fourth.query and "Ann Lee" in fourth.query
    assert not fourth.refused and "Monday" in " ".join(c.quote for c in fourth.citations)


def test_why_not_after_a_yes_no_question_asks_for_the_reason():
    rewriter = HeuristicRewriter()
    history = [{"role": "user", "content": "Did Germany agree to send cruise missiles?"},
               {"role": "assistant", "content": "…"}]
    assert rewriter.rewrite("Why not?", history) == "Why did Germany not agree to send cruise missiles?"
    assert rewriter.rewrite("Why?", history) == "Why did Germany agree to send cruise missiles?"


def test_who_else_asks_the_same_question_and_leaves_out_the_answer_given(council):
    first = council.ask("Which mayors attended the meeting?")
    assert not first.refused
    history = [{"role": "user", "content": "Which mayors attended the meeting?"},
               {"role": "assistant", "content": first.text}]
    assert HeuristicRewriter().rewrite("Who else?", history) == "Which mayors attended the meeting?"
    if first.short_answer:
        assert earlier_answers("Who else?", history) == [first.short_answer.text]
        again = council.ask("Who else?", history=history)
        assert not again.short_answer or again.short_answer.text != first.short_answer.text


def _history(*questions: str) -> list[dict[str, str]]:
    return [m for q in questions for m in ({"role": "user", "content": q}, {"role": "assistant", "content": "…"})]


def test_who_else_repeats_the_last_question_it_can_stand_for_and_keeps_words_of_its_own():
    rewriter = HeuristicRewriter()
    asked = _history("Who represented the US?", "And Italy?", "Why was that significant?")
    # The last "who" question, not the "why" one just before it.
    assert rewriter.rewrite("Who else?", asked) == "Who represented Italy?"
    # A question with words of its own asks them (the answers given are still left out).
    assert rewriter.rewrite("Who else attended?", asked) == "Who else attended?"
    # "What else did he say?" with no "what" question before it is about the person just named.
    named = [{"role": "user", "content": "Who chaired the meeting?"}, {"role": "assistant", "content": "**Ann Lee** [1]"}]
    assert rewriter.rewrite("What else did he say?", named) == "What else did he say? (Ann Lee)"
    assert earlier_answers("Who else attended?", [*asked[:-1], {"role": "assistant", "content": "**Ann Lee** [1]"}]) == ["Ann Lee"]


def test_a_bare_question_word_asks_the_previous_question_again():
    rewriter = HeuristicRewriter()
    assert rewriter.rewrite("When?", _history("What did the mayor announce?")) == "When did the mayor announce?"
    assert rewriter.rewrite("And where?", _history("Which bridge did Ann Lee open?")) == "Where did Ann Lee open?"
    assert rewriter.rewrite("When?", _history("Did the council approve buses?")) == "When did the council approve buses?"
    assert rewriter.rewrite("When?", _history("Who hosted the meeting?")) == "When?"  # no auxiliary to build on


def test_the_short_answer_of_an_earlier_reply_is_read_back():
    assert short_answer_of("**Ann Lee** [1]\n\nAnn Lee chaired … [1]") == "Ann Lee"
    assert short_answer_of("Ann Lee chaired … [1]") is None
    assert short_answer_of(r"**F\*\*k** [1]") == "F**k"


def test_a_simple_web_page_is_answered_with_its_whole_sentence(assistant, tmp_path):
    page = tmp_path / "bridge.html"
    page.write_text("<html><body><p>The mayor, <b>Ann Lee</b>, opened the bridge on Friday.</p></body></html>")
    assistant.index(page)
    answer = assistant.ask("Who opened the bridge?")
    assert not answer.refused
    assert answer.citations[0].quote == "The mayor, Ann Lee, opened the bridge on Friday."
    if answer.short_answer:
        assert answer.short_answer.text in ("Ann Lee", "The mayor, Ann Lee", "The mayor")


def test_the_json_api_and_the_openai_reply_carry_the_short_answer(council):
    from fastapi.testclient import TestClient

    from rag.http.app import create_app

    question = "How many electric buses did the council approve in 2019?"
    with TestClient(create_app(council)) as client:
        body = client.post("/v1/ask", json={"question": question}).json()
        sa = body["short_answer"]
        assert sa["text"] == "12" and COUNCIL.text[sa["start"] : sa["end"]] == "12" and sa["n"] == 1
        reply = client.post("/v1/chat/completions", json={
            "model": "article-chat", "messages": [{"role": "user", "content": question}]}).json()
        assert reply["choices"][0]["message"]["content"].startswith("**12** [1]")


def test_a_heading_is_never_the_answer(assistant):
    """A Markdown heading or the title line shares the question's words but labels the text: the
    sentence that says it is cited instead."""
    from rag.answering.extractive import is_heading

    assert is_heading("# Bridge opened", "")
    assert is_heading("Bridge  opened\n", "Bridge opened")
    assert not is_heading("The bridge was opened.", "Bridge opened")
    article = Article(
        id="bridge", title="Mayor opens the Riverton bridge", source="bridge.md",
        text="# Mayor opens the Riverton bridge\n\nThe mayor, Ann Lee, opened the bridge on Friday.\n",
    )
    assert assistant.index_articles([article]).added
    answer = assistant.ask("Who opens the Riverton bridge?")
    assert not answer.refused
    assert [c.quote for c in answer.citations] == ["The mayor, Ann Lee, opened the bridge on Friday."]



def test_why_is_answered_with_the_reason_its_sentence_gives_on_the_seed_article(seeded):
    answer = seeded.ask("Why can't Germany deliver Taurus missiles?")
    assert answer.short_answer is not None
    assert answer.short_answer.text.endswith("requires the participation of German military personnel")
    assert not answer.short_answer.text.startswith("because")
    _verbatim(answer, seeded)


def test_a_word_that_says_not_on_its_own_matches_a_negated_question():
    sentence = "Macron was unable to participate in Saturday's videoconference meeting of G-7 leaders."
    assert missing_facts("Which meeting could Macron not attend?", sentence) == []
    assert missing_facts("Which meeting could Macron not attend?", "Macron attended the meeting.") == ["not"]


def test_who_is_a_named_person_asks_what_they_are_not_an_earlier_name():
    from rag.answering.neighbours import asks_what_someone_named_is

    sentence = "There were also the German chancellor, Olaf Scholz, and the Spanish president, Pedro Sánchez."
    assert asks_what_someone_named_is("Who is Pedro Sánchez?", sentence)
    assert asks_what_someone_named_is("who was Olaf Scholz", sentence)
    assert not asks_what_someone_named_is("Who is the German chancellor?", sentence)  # a role: the name is the answer
    assert not asks_what_someone_named_is("Who is Ann Lee?", sentence)  # not named here
    assert not asks_what_someone_named_is("Who hosted the meeting?", sentence)


def test_who_is_a_named_person_is_answered_from_the_sentence_that_names_them_on_the_seed_article(seeded):
    answer = seeded.ask("Who is Pedro Sánchez?")
    assert not answer.refused
    assert "the Spanish president, Pedro Sánchez" in answer.citations[0].quote
    assert answer.short_answer is not None and "Macron" not in answer.short_answer.text
    _verbatim(answer, seeded)


def test_a_yes_no_question_is_answered_by_its_sentence_without_a_bold_word():
    from rag.answering.language import is_yes_no

    assert is_yes_no("Did Germany agree to send Taurus missiles?")
    assert is_yes_no("Is Macron the host")
    assert not is_yes_no("Is the focus on mentorship high or low?")  # one of the two is the answer
    assert not is_yes_no("Did Macron say who attended?")
    assert not is_yes_no("Who attended?")


def test_a_yes_no_question_on_the_seed_article_cites_the_sentence_that_settles_it(seeded):
    answer = seeded.ask("Did Germany agree to send Taurus missiles?")
    assert not answer.refused and answer.short_answer is None
    assert "Germany cannot deliver Taurus cruise missiles" in answer.citations[0].quote
    assert not answer.text.startswith("**")


@pytest.mark.parametrize(
    ("question", "sentence", "clause"),
    [
        ("What did the mayor say on Friday?",
         "The mayor said on Friday that the bridge would reopen in May, because repairs had gone well.",
         "the bridge would reopen in May"),
        ("What did the minister not rule out?",
         "The minister has not ruled out that taxes may rise next year.", "taxes may rise next year"),
        ("What did the council commit to?",
         "The council has committed to build a new school for the village.", "to build a new school for the village"),
        ("What did the fire service send?", "The fire service sent 45 firefighters and six boats, its chief said.",
         "45 firefighters and six boats"),
        ("What did the union ask for?", "The union thanked the board but asked for higher wages.", "higher wages"),
        # "to do" asks for what the verb's "to" takes.
        ("What does the council refuse to do?", "The council refuses to close the old bridge before May.",
         "to close the old bridge before May"),
        ("What did the mayor want to do?", "The mayor was ill and wanted to open the bridge herself.",
         "to open the bridge herself"),
        # A relative clause inside the clause's subject is part of what was said.
        ("What did the analysts say?",
         "Analysts said the company, which lost money last year, would struggle to raise capital, which worried investors.",
         "the company, which lost money last year, would struggle to raise capital"),
        # What something was called: the question names the thing.
        ("What did the spokeswoman call the ruling?", 'The spokeswoman called the ruling "a good day for workers".',
         "a good day for workers"),
        ("What did the coach call the referee?", "The coach called the decision a disgrace.", None),
        ("What did Davies call his method?",
         'Davies called his method "packet switching", a simpler name, and proposed a national network.',
         "packet switching"),
        ("What did the mayor tell reporters?",  # spaCy reads this "what" as a dative
         "“We could not wait until morning,” she told reporters at the town hall.", "We could not wait until morning"),
        ("What did Berg accuse the mayor of?",  # spaCy hangs the stranded "of" on "the mayor"
         "She accused the mayor, Thomas Reid, of ignoring the traders for two years.",
         "ignoring the traders for two years"),
        ("What did the coach stress?", "“We will play to win every match,” he stressed.", "We will play to win every match"),
        ("What did the mayor say about the bridge?",  # the topic may be in the clause
         "The mayor warned that the bridge is unsafe.", "the bridge is unsafe"),
        ("What did the mayor say about closing the bridge?",
         "The mayor said that closing the bridge was not an option.", "closing the bridge was not an option"),
        # The question asks for part of the clause, or for something the sentence does not say.
        ("What did the scientist believe X-rays were?", "The scientist believed that X-rays were waves.", None),
        ("What did the mayor say in Berlin?", "The mayor said that the bridge would reopen in Berlin.", None),
        ("What did the mayor open?", "The mayor said that the bridge would reopen.", None),
        # Another verb of saying stands for "say" with a clause, not with a thing.
        ("What did Varga say?", "Prime Minister Elena Varga declared a state of emergency in the province.", None),
        ("What did Varga declare?", "Prime Minister Elena Varga declared a state of emergency in the province.",
         "a state of emergency in the province"),
        # "what" is the object of another verb than "tell".
        ("What did the mayor tell reporters she would build?", "“A wall,” she told reporters.", None),
        ("Who did the mayor say would open the bridge?", "The mayor said that Ann Lee would open it.", None),
    ],
)
def test_object_clause_is_what_the_questions_verb_takes(question, sentence, clause):
    from rag.answering.clauses import object_clause

    span = object_clause(question, sentence)
    assert (sentence[span[0] : span[1]] if span else None) == clause


def test_what_someone_said_is_the_short_answer_on_the_seed_article(seeded):
    answer = seeded.ask("What did Scholz say in Berlin?")
    assert answer.short_answer is not None
    assert answer.short_answer.text.startswith("Germany cannot deliver Taurus cruise missiles to Ukraine")
    _verbatim(answer, seeded)
    # The sentence in which he says it, not the one that lists him among those present.
    answer = seeded.ask("What did Scholz say?")
    assert answer.short_answer is not None
    assert answer.short_answer.text.startswith("Germany cannot deliver Taurus cruise missiles to Ukraine")
    answer = seeded.ask("What did Macron not rule out?")
    assert answer.short_answer is not None
    assert answer.short_answer.text.startswith("Ukraine’s allied countries may send troops")
    _verbatim(answer, seeded)


@pytest.mark.parametrize(
    ("question", "sentence", "name"),
    [
        ("What storm hit the coast?", "Residents left as Storm Hilda brought winds to the coast.", "Storm Hilda"),
        ("Which stadium hosted the game?", "The game was played at Levi's Stadium in Santa Clara.", "Levi's Stadium"),
        ("What river flows through the town?", "The town lies on the River Elwin.", "River Elwin"),
        ("Which university did he attend?", "He attended Riverton University and Oakdale University.", None),  # two
        ("What stadium was built?", "Stadium officials said it was built.", None),  # no name
        ("Which king signed the treaty?", "The treaty was signed by King Charles III in 911.", "Charles III"),  # a title
        ("Which Yale alumnus paid for it?", "Edward Harkness, a graduate of Yale University, paid.", None),  # not asked for
        ("What storm was Storm Hilda?", "Storm Hilda hit the coast.", None),  # the question names it
        # The noun in lower case after the name; an acronym that spells a stopword stays.
        ("Which union represents the workers?", "The IF Metall union, which represents its workers, objected.",
         "IF Metall union"),
        ("Which union objected?", "The union objected.", None),  # no name
        ("Which company owns it?", "It is owned by NDS, a Cisco Systems company.", None),  # describes NDS
    ],
)
def test_named_as_asked_is_the_one_name_that_holds_the_noun_asked_about(question, sentence, name):
    from rag.answering.language import named_as_asked

    span = named_as_asked(question, sentence)
    assert (sentence[span[0] : span[1]] if span else None) == name


def test_what_storm_is_answered_with_the_whole_name(assistant):
    from tests.test_reader import FakeReader, _answerer

    assistant.index_articles([Article(id="storm", title="Storm", source="test", text=(
        "Around 3,000 residents of Port Elwin were evacuated on Tuesday as Storm Hilda brought strong winds."))])
    _answerer(assistant, FakeReader("Hilda"))  # the reader cuts the name
    answer = assistant.ask("What storm hit Port Elwin?")
    assert answer.short_answer is not None and answer.short_answer.text == "Storm Hilda"
    _verbatim(answer, assistant)


def test_an_irregular_past_form_says_the_questions_verb(assistant):
    from tests.test_reader import FakeReader, _answerer

    assistant.index_articles([Article(id="storm", title="Storm", source="test", text=(
        "The harbour was quiet on Monday. Storm Hilda brought strong winds to the northern coast."))])
    _answerer(assistant, FakeReader("strong winds", null=2.0))  # not sure enough to answer on the reading alone
    answer = assistant.ask("What did it bring?")  # "bring" is the question's only word
    assert not answer.refused, answer.text
    assert "Storm Hilda brought strong winds" in answer.citations[0].quote



@pytest.mark.parametrize(("question", "sentence", "by_role"), [
    ("Who hosted the summit?", "After the host’s introductory speech, a video recorded by Volodymyr Zelensky was shown.", True),
    ("Who hosted the summit?", "“Russia must not win,” the host of the meeting insisted.", True),
    ("Who founded the company?", "The founder of the company died in 1990.", True),
    ("Who hosted the summit?", "The host, Emmanuel Macron, opened the summit.", False),  # named there
    ("Who hosted the summit?", "Emmanuel Macron, the host, opened the summit.", False),
    ("Who spoke after the host?", "After the host’s introductory speech, a video was shown.", False),  # no verb of it
])
def test_a_sentence_refers_by_the_role_the_questions_verb_asks_about(question, sentence, by_role):
    from rag.answering.neighbours import refers_by_the_role_asked

    assert refers_by_the_role_asked(question, sentence) is by_role


def test_who_did_what_a_role_names_is_whom_the_role_means_not_another_name_of_the_sentence(assistant):
    from tests.test_reader import FakeReader, _answerer

    text = ("Ann Lee opened the Riverton flood summit on Monday. She warned that the river wall was too old.\n\n"
            "After the host’s opening speech, a video recorded by the engineer Tom Reyes was shown.")
    assistant.index_articles([Article(id="summit", title="Flood summit", source="test", text=text)])
    _answerer(assistant, FakeReader("Tom Reyes"))  # the reader finds the engineer's name likeliest
    answer = assistant.ask("Who hosted the flood summit?")
    assert answer.short_answer is not None and answer.short_answer.text == "Ann Lee"
    quotes = [c.quote for c in answer.citations]
    assert any("the host’s" in q for q in quotes) and any("Ann Lee" in q for q in quotes)
    _verbatim(answer, assistant)
    assert assistant.ask("Who recorded the video?").short_answer.text == "Tom Reyes"  # not a role asked


@pytest.mark.parametrize(
    ("question", "sentence", "number", "other"),
    [
        ("How many people were hurt?", "Nobody was hurt, but about 300 homes were damaged.", "300", True),
        ("How many homes were damaged?", "Nobody was hurt, but about 300 homes were damaged.", "300", False),
        ("How many people attended?", "It ended with about twenty heads of state present.", "twenty", False),
        ("How many buses did the council approve?", "The council approved 12 new electric buses.", "12", False),
        ("How many floodgates no longer close?", "Two of the four floodgates no longer close.", "Two", False),
        ("How many points did they score?", "Their score rose by 12 in the second half.", "12", False),
        ("How many Nobel prize winners studied there?", "Some 150 Nobel laureates studied there.", "150", False),
        # The thing counted may be inside the span.
        ("How many people work there?", "The firm has two plants in Sweden.", "two plants", True),
        ("How many plants does it have?", "The union represents its 3,200 workers in Sweden.", "3,200 workers", False),
        ("How many workers does it have?", "The union represents its 3,200 workers in Sweden.", "3,200 workers", False),
    ],
)
def test_a_number_followed_by_another_plural_counts_another_thing(question, sentence, number, other):
    from rag.answering.keyfacts import counts_another_thing

    at = sentence.index(number)
    assert counts_another_thing(question, sentence, at, at + len(number)) is other


@pytest.mark.parametrize(
    ("question", "sentence", "number", "part"),
    [
        ("How many floodgates no longer close?", "She said that two of the four floodgates no longer closed fully.",
         "four", "two"),
        ("How many buses broke down?", "Three of its 12 new buses broke down.", "12", "Three"),
        ("How many homes were flooded?", "Dozens of the 300 homes were flooded.", "300", "Dozens"),
        ("How many entrances are closed?", "Three of the market's five entrances are closed.", "five", "Three"),
        ("How many of the buses does the city have?", "Three of its 12 new buses broke down.", "12", "Three"),
        # No part taken, or the whole asked for: the number stands.
        ("How many floodgates were opened?", "The authority opened all four floodgates.", "four", None),
        ("How many are old?", "Two of the floodgates are new; the other four are old.", "four", None),
        ("How many megaregions are there?", "It is one of the 11 megaregions of the country.", "11", None),
        ("How many floodgates does the dam have?", "Two of the four floodgates no longer close.", "four", None),
        ("How many lines are there in all?", "Six of the seven lines start downtown.", "seven", None),
    ],
)
def test_part_of_whole_is_the_number_a_part_is_taken_with(question, sentence, number, part):
    from rag.answering.keyfacts import part_of_whole

    assert _text_at(sentence, part_of_whole(question, sentence, *_span_of(sentence, number))) == part


def test_how_many_of_a_part_is_answered_with_the_part_not_the_whole(assistant):
    answer = _ask_with_reader(assistant, "The engineers inspected the dam in March. They found that two of the "
                              "four floodgates no longer closed fully.",
                              "four", "How many floodgates no longer close fully?")  # the number by the noun
    assert answer.short_answer is not None and answer.short_answer.text == "two"
    _verbatim(answer, assistant)


@pytest.mark.parametrize(
    ("question", "sentence", "unnamed"),
    [
        ("Who founded Nordcell?", "Nordcell was founded in 2012 and supplies batteries to three carmakers.", True),
        ("Who founded Nordcell?", "Nordcell, founded in 2012, supplies batteries.", True),
        ("Who discovered penicillin?", "Penicillin was discovered in 1928.", True),
        # The doer is named, or the sentence does not say the verb, or the question asks for no doer.
        ("Who founded Nordcell?", "Nordcell was founded in 2012 by Ingrid Sahlin.", False),
        ("Who founded Nordcell?", "Nordcell, founded in 2012 by Ingrid Sahlin, supplies batteries.", False),
        ("Who founded Nordcell?", "Ingrid Sahlin founded Nordcell in 2012.", False),
        ("Who founded Nordcell?", "Nordcell supplies batteries to three carmakers.", False),
        ("Who represented the US?", "The US was represented by a deputy secretary of state.", False),
        ("Who is the mayor?", "The mayor was elected in 2019.", False),
        ("Who did the mayor meet?", "The mayor was met at the airport.", False),
        ("Who was elected mayor?", "Ann Lee was elected mayor in 2019.", False),
        # Said only as not done, unless the question asks who did not.
        ("Who will pay for the strike?", "Brandt said that workers could no longer pay their bills.", True),
        ("Who commented on the ruling?", "Reid did not comment on the ruling.", True),
        ("Who never paid?", "Reid never paid the fine.", False),
        ("Who did not comment on the ruling?", "Reid did not comment on the ruling.", False),
        ("Who commented on the ruling?", "Reid did not comment, but Berg commented at length.", False),
    ],
)
def test_names_no_doer_of_a_passive_without_by(question, sentence, unnamed):
    from rag.answering.doers import names_no_doer

    assert names_no_doer(question, sentence) is unnamed


def test_who_did_it_is_refused_where_the_sentence_names_no_doer(assistant):
    said = "Velora agreed to buy Nordcell on Monday. Nordcell was founded in 2012 "
    span = "three European carmakers"
    assert _ask_with_reader(assistant, said + "and supplies batteries to three European carmakers.", span,
                            "Who founded Nordcell?").refused
    # Where the sentence names the founder, the same reader's answer stands.
    answer = _ask_with_reader(assistant, said + "by three European carmakers.", span, "Who founded Nordcell?")
    assert answer.short_answer is not None and answer.short_answer.text == "three European carmakers"


def test_an_amount_of_money_is_no_count(assistant):
    assert _ask_with_reader(assistant, "The city wanted to replace the market hall with a car park and a hotel. "
                            "The deputy mayor said the hall needed repairs costing at least $9 million, which "
                            "the city could not afford.", "9 million", "How many hotels does the city own?").refused


def test_a_question_that_counts_money_is_answered_by_an_amount():
    from rag.answering.extractive import _must_say

    assert not _must_say("How many hotels does the city own?")("The repairs cost $9 million.")
    assert _must_say("How many dollars did the repairs cost?")("The repairs cost $9 million.")


@pytest.mark.parametrize(
    ("sentence", "money"),
    [("The repairs cost $9 million.", True), ("The repairs cost 9 million euros.", True),
     ("The repairs cost US 40 a month.", True), ("The city has 9 million residents.", False),
     ("It bought 300 buses for $9 million.", False)],  # a count beside an amount
)
def test_a_count_is_not_an_amount_of_money(sentence, money):
    from rag.answering.extractive import _says_a_count, _says_a_number

    assert _says_a_number(sentence, count=True)
    assert _says_a_count(sentence) is not money


@pytest.mark.parametrize(
    ("question", "sentence", "doer"),
    [
        ("Who blocked the plan?", "A district court on Thursday blocked the city of Brenton's plan.", "district court"),
        ("Who sold the rights?", "Jean's nephew Maciot de Bethencourt sold the rights in 1418.",
         "Maciot de Bethencourt"),  # the name set beside the noun
        ("Who led the project?", "Paul Everett, a deputy mayor, led the project.", "Paul Everett"),
        ("Who opened the bridge?", "The mayor, Ann Lee, opened the bridge on Friday.", "Ann Lee"),
        # No doer to give: another question, a pronoun, a passive, another verb.
        ("Who did Newton throw the pass to?", "Newton threw the pass to Ted Ginn Jr.", None),
        ("Who led the project?", "He led the project until 2020.", None),
        ("Who represented the US?", "The US was represented by a deputy secretary of state.", None),
        ("Who is the mayor?", "The mayor, Thomas Reid, did not comment.", None),
        ("Who blocked the plan?", "The court heard the case on Thursday.", None),
    ],
)
def test_doer_in_is_the_subject_of_the_verb_asked_about(question, sentence, doer):
    from rag.answering.doers import doer_in

    end = len(sentence)  # a span outside every subject
    assert _text_at(sentence, doer_in(question, sentence, end, end)) == doer


def test_who_did_it_is_answered_with_the_verbs_subject(assistant):
    answer = _ask_with_reader(assistant, "A district court on Thursday blocked the city of Brenton's plan to close "
                              "the Harlow Street market.", "Brenton", "Who blocked the plan?")  # a name by the words
    assert answer.short_answer is not None and answer.short_answer.text == "district court"
    _verbatim(answer, assistant)


@pytest.mark.parametrize(
    ("question", "sentence", "number"),
    [
        ("How many hospitals did the army send?", "The army sent 400 soldiers and two field hospitals.", "two"),
        ("How many soldiers did the army send?", "The army sent 400 soldiers and two field hospitals.", "400"),
        ("How many people were killed?", "The quake struck on Sunday, killing at least 14 people.", "14"),
        # None counts it, or more than one does, or a stopword comes first.
        ("How many hotels will it build?", "It will build a car park and a hotel.", None),
        ("How many people live there?", "Some 300 people live in the town and 200 people nearby.", None),
        ("How many teams won?", "It is one of the teams that won.", None),
    ],
)
def test_number_counting_is_the_one_number_before_the_noun_counted(question, sentence, number):
    from rag.answering.keyfacts import number_counting

    assert _text_at(sentence, number_counting(question, sentence)) == number


def test_how_many_is_answered_with_the_number_that_counts_the_noun_asked_about(assistant):
    answer = _ask_with_reader(assistant, "The army sent 400 soldiers and two field hospitals to the area on Sunday.",
                              "400", "How many field hospitals did the army send?")
    assert answer.short_answer is not None and answer.short_answer.text == "two"
    _verbatim(answer, assistant)


@pytest.mark.parametrize(
    ("question", "sentence", "span", "doer"),
    [
        ("Who rescued the girl?", "Rescue teams pulled a girl from the rubble after nine hours, the agency's "
         "director, Marta Quinn, told reporters.", "Marta Quinn", "Rescue teams"),
        ("Who robbed the bank?", "Two men robbed a bank in the town centre on Monday, police said.", "police", "Two men"),
        # A question about saying, a pronoun reported, a span that is not the one who reports.
        ("Who said the bank was robbed?", "Two men robbed a bank, police said.", "police", None),
        ("Who robbed the bank?", "He robbed a bank, police said.", "police", None),
        ("Who robbed the bank?", "Two men robbed a bank, police said.", "Two men", None),
        ("Who led the project?", "Deputy mayor Paul Everett, who led the project, said the building needed repairs.",
         "Paul Everett", None),  # the speaker did it
        ("Who will pay for the repairs?", "Paul Everett said the building needed repairs.", "Paul Everett", None),
    ],
)
def test_reported_doer_is_who_did_it_not_who_reports_it(question, sentence, span, doer):
    from rag.answering.doers import reported_doer

    assert _text_at(sentence, reported_doer(question, sentence, *_span_of(sentence, span))) == doer


def test_who_did_it_is_not_who_reports_it(assistant):
    answer = _ask_with_reader(assistant, "Rescue teams pulled a girl from the rubble after nine hours, the agency's "
                              "director, Marta Quinn, told reporters.",
                              "Marta Quinn", "Who rescued the girl?")  # not the verb the sentence says it with
    assert answer.short_answer is not None and answer.short_answer.text == "Rescue teams"
    _verbatim(answer, assistant)


_RESCUE = "Rescue teams pulled a six-year-old girl alive from the rubble of her family's home after nine hours."


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("How long was the girl under the rubble?", "nine hours"),  # a time, not an age
        ("How old was the girl?", "six-year"),  # an age is asked: the reader's span stands
        ("How long did the rescue take?", "nine hours"),
    ],
)
def test_how_long_is_not_answered_by_an_age(assistant, question, short):
    from tests.test_reader import SpansReader, _answerer

    assistant.index_articles([Article(id="trial", title="Trial", source="test", text=_RESCUE)])
    _answerer(assistant, SpansReader("six-year", "nine hours"))  # the age first, as the shipped reader reads it
    answer = assistant.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == short
    _verbatim(answer, assistant)


def test_an_age_counts_nothing(assistant):
    answer = _ask_with_reader(assistant, _RESCUE, "six", "How many girls were pulled from the rubble?")
    assert not answer.refused
    assert answer.short_answer is None  # the sentence alone: "six" of "six-year-old" counts no girls


_EVERETT = ("Deputy mayor Paul Everett, who led the project, said the building needed repairs costing at least "
            "$9 million.")


@pytest.mark.parametrize(
    ("question", "sentence", "span", "only"),
    [
        ("Who will pay for the repairs?", _EVERETT, "Paul Everett", True),
        ("Who sued the city?", "Paul Everett said the city would appeal.", "Paul Everett", True),
        ("Who built the market?", "The market opened in 1896, the historian, Ann Lee, said.", "Ann Lee", True),
        # The sentence says the verb (he did it, or someone else did), the question is about saying,
        # or the span is not the speaker.
        ("Who led the project?", _EVERETT, "Paul Everett", False),
        ("Who rescued the girl?", "Rescue teams rescued a girl, Marta Quinn said.", "Marta Quinn", False),
        ("Who said the building needed repairs?", _EVERETT, "Paul Everett", False),
        ("Who will pay for the repairs?", _EVERETT, "building", False),
    ],
)
def test_only_reports_is_a_speaker_of_a_sentence_that_never_says_the_verb(question, sentence, span, only):
    from rag.answering.doers import only_reports

    assert only_reports(question, sentence, *_span_of(sentence, span)) is only


def test_who_did_it_is_refused_where_the_sentence_only_names_who_said_something(assistant):
    answer = _ask_with_reader(assistant, _EVERETT, "Paul Everett", "Who will pay for the repairs?")
    assert answer.refused
    answer = assistant.ask("Who led the project?")
    assert not answer.refused and answer.short_answer is not None and answer.short_answer.text == "Paul Everett"


@pytest.mark.parametrize(
    ("sentence", "says"),
    [("Sales had fallen by a third since the closures.", True), ("Two thirds of the members voted.", True),
     ("Half of the traders have left.", True), ("The third entrance was closed.", False),
     ("A quarter of an hour later it stopped.", True), ("The Latin Quarter was quiet.", False)],
)
def test_a_share_in_words_says_a_number(sentence, says):
    from rag.answering.extractive import _says_a_number

    assert _says_a_number(sentence) is says


def test_by_how_much_is_answered_by_a_share_in_words(assistant):
    answer = _ask_with_reader(assistant, "Delgado said sales had fallen by a third since the closures.", "a third",
                              "By how much have sales fallen?")
    assert answer.short_answer is not None and answer.short_answer.text == "a third"
    _verbatim(answer, assistant)


_VALRAIL = "The state operator said only 40 of its usual 1,200 daily services were running on Tuesday."


@pytest.mark.parametrize(
    ("question", "part"),
    [("How many services were running?", "40"),
     ("How many daily services does the operator usually run?", None)],  # the whole, said with "usual"
)
def test_a_part_of_a_whole_with_a_word_before_the_whole(question, part):
    from rag.answering.keyfacts import part_of_whole

    assert _text_at(_VALRAIL, part_of_whole(question, _VALRAIL, *_span_of(_VALRAIL, "1,200"))) == part


@pytest.mark.parametrize(
    ("sentence", "span", "short"),
    [("Inflation was 6.8 percent last year.", "6.8", "6.8 percent"),
     ("Inflation was 6.8% last year.", "6.8", "6.8%"),
     ("Inflation was 6.8 per cent last year.", "6.8", "6.8 per cent"),
     ("Inflation was 6.8 last year and 5 percent the year before.", "6.8", "6.8")],
)
def test_a_share_keeps_its_percent(assistant, sentence, span, short):
    answer = _ask_with_reader(assistant, sentence, span, "What was inflation last year?")
    assert answer.short_answer is not None and answer.short_answer.text == short
    _verbatim(answer, assistant)


def test_by_how_much_does_not_ask_for_money():
    from rag.answering.extractive import _must_say

    sentence = "The company had already raised wages by 9 percent over the past three years."
    assert _must_say("By how much has the company raised wages?") is None
    assert not _must_say("How much did the company raise?")(sentence)  # money is asked


def test_an_amount_in_crowns_is_money(assistant):
    from rag.answering.extractive import _says_a_count, _says_money

    sentence = "Each day of the strike cost the operator about 14 million crowns."
    assert _says_money(sentence) and not _says_a_count(sentence)
    answer = _ask_with_reader(assistant, sentence, "14 million crowns", "How much does the strike cost each day?")
    assert answer.short_answer is not None and answer.short_answer.text == "14 million crowns"


def test_who_did_it_is_refused_where_the_sentence_says_it_was_not_done(assistant):
    said = "The union's leader, Tomas Brandt, told a rally that workers could no longer pay their bills."
    assert _ask_with_reader(assistant, said, "workers", "Who will pay for the strike?").refused
    answer = assistant.ask("Who told a rally that workers could no longer pay their bills?")
    assert not answer.refused
