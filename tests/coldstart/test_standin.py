"""The stand-in cold-start models: each default stage prompt gets the reply a careful model would give."""

from __future__ import annotations

from rethinker.coldstart.prompts import DESCRIPTION_PROMPT, PSEUDO_COT_PROMPT, REASONING_PROMPT, fill_template
from rethinker.coldstart.standin import standin_reply


def test_the_count_travels_from_the_gold_answer_through_the_description_to_the_boxed_answer() -> None:
    question = "How many red dots are there?"
    cot = standin_reply(fill_template(PSEUDO_COT_PROMPT, question=question, answer="7"))["content"]
    assert "I count 7 red dots." in cot
    description = standin_reply(fill_template(DESCRIPTION_PROMPT, question=question, thinking_process=cot))["content"]
    assert description == "The image shows 7 red dots on a plain background."
    reply = standin_reply(fill_template(REASONING_PROMPT, question=question, description=description))
    assert reply == {"reasoning_content": "I count 7 red dots, as the description says.", "content": "\\boxed{7}"}


def test_a_description_without_a_count_and_an_unknown_prompt_give_no_answer() -> None:
    reply = standin_reply(fill_template(REASONING_PROMPT, question="How many dots are there?", description="Blank."))
    assert reply["content"] == ""
    assert standin_reply("Tell me a joke.") == {"content": ""}
