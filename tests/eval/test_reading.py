"""Reading answers the way a person would, on hand-made responses, one class of failure at a time.

Each case is written for a class seen across models' styles (a choice's text before a full stop, "B) ..." lines, the
letter on the line after "The answer is:", Chinese answer markers, numbers restated from the question, number words,
refusals), not copied from any model's output.
"""

import time

import pytest

from rethinker.data.schema import Example
from rethinker.eval.suites import mathvista
from rethinker.eval.suites._choice import read_letter
from rethinker.eval.suites._reading import chosen_option, committed_number, final_number
from rethinker.eval.suites.mathverse import MathVerseBenchmark

TREND = ("increase", "decrease", "stay the same")
NUMBERS = ("3", "5", "7", "9")
YES_NO = ("Yes", "No")


@pytest.mark.parametrize(
    ("response", "choices", "expected"),
    [
        # a choice's text followed by punctuation
        ("Without foxes, fewer rabbits are eaten, so the rabbit population would increase.", TREND, "increase"),
        ("Owls eat the mice; with no owls the mice population would decrease!", TREND, "decrease"),
        ("The level would stay the same, since nothing feeds on it.", TREND, "stay the same"),
        # a leading "B) ..." or "(B) ..." at the start of a line
        ("B) decrease\n\nFewer plants means less food for the deer.", TREND, "B"),
        ("Looking at the web:\n(C) stay the same\nNothing links the two.", TREND, "C"),
        # the letter on the line after a marker that ends its line
        ("Counting the red cubes gives five.\n\nThe answer is:\nB", NUMBERS, "B"),
        ("So the final answer is:\n\n**C**", NUMBERS, "C"),
        # Chinese answer markers
        ("由图可知三角形的面积为9。\n答案:D", NUMBERS, "D"),
        ("计算得到结果为5, 所以答案是B", NUMBERS, "B"),
        ("两边相等, 故选A", NUMBERS, "A"),
        ("综上, 所以选项C是正确答案。", NUMBERS, "C"),
        # a closing sentence that ends in a lone letter
        ("Solving gives x = 7. The option that matches this is C.", NUMBERS, "C"),
        # the value of a choice written with a unit, or with a different unit spelling
        ("Using Pythagoras, the ladder is 4.40 meters long.", ("3.85米", "4.00米", "4.40米", "4.50米"), "4.40米"),
        ("So the angle is 35 degrees.", ("25°", "35°", "45°", "55°"), "35°"),
        ("The smaller angle is 20°, and the angle we want is 3 + 2 = 5.", NUMBERS, "5"),
        # a choice named by the words only it has
        (
            "Without caterpillars the birds have less to eat, so the bird numbers would fall and decrease.",
            ("Birds will increase", "Birds will decrease", "Nothing happens"),
            "Birds will decrease",
        ),
    ],
)
def test_chosen_option_reads_the_stated_choice(response: str, choices: tuple[str, ...], expected: str) -> None:
    assert chosen_option(response, choices)[0] == expected


@pytest.mark.parametrize(
    ("response", "choices", "rule"),
    [
        # no choice named: no answer, never the nearest choice by edit distance
        ("The bars show the sales of each store over the year.", NUMBERS, "none"),
        ("Therefore the length of the segment is 10.", NUMBERS, "none"),
        ("The rabbits would probably find other food.", TREND, "none"),
        # refusals are not matched to the choice "no"
        ("There is no answer provided in the question.", YES_NO, "refusal"),
        ("I can't process this file.", YES_NO, "refusal"),
        ("Sorry, I cannot determine this from the image.", TREND, "refusal"),
        # a restated list of options picks none of them
        ("Hmm.\nThe answer is:\n(A) 3\n(B) 5\n(C) 7", NUMBERS, "none"),
        ("Choose the correct option letter: (A) 3 (B) 5 (C) 7 (D) 9", NUMBERS, "none"),
        # a choice's own words in a negated sentence do not pick it
        (
            "Hawks do not eat the snakes, so the snakes would not decrease.",
            ("Snakes will decrease", "Hawks will starve"),
            "none",
        ),
        # two choices named with nothing to tell them apart
        ("It could increase or decrease depending on the season.", TREND, "none"),
    ],
)
def test_a_response_naming_no_choice_has_no_answer(response: str, choices: tuple[str, ...], rule: str) -> None:
    assert chosen_option(response, choices) == ("", rule)


@pytest.mark.parametrize(
    ("question", "response", "expected"),
    [
        ("Is the red bar taller than the blue bar?", "Yes, the red bar is taller.", "Yes"),
        ("Is the red bar taller than the blue bar?", "No. The blue one is taller.", "No"),
        ("Is Navy Blue the maximum?", "Based on the chart, Navy Blue is not the maximum.", "No"),
        ("Is Navy Blue the maximum?", "Based on the chart, Navy Blue has the largest area.", "Yes"),
        ("Are there more cubes than spheres?", "There are more spheres than cubes.", "No"),
        ("Are there fewer cubes than spheres?", "There are more spheres than cubes.", "Yes"),
        ("Is the number of cubes greater than the number of cones?", "There are more cubes than cones.", "Yes"),
        ("Is Olive greater than Teal?", "Olive is not greater than Teal. Teal is the highest.", "No"),
    ],
)
def test_a_yes_no_question_answered_by_a_statement_reads_its_meaning(
    question: str, response: str, expected: str
) -> None:
    assert chosen_option(response, YES_NO, question)[0] == expected


@pytest.mark.parametrize(
    ("question", "response", "expected", "rule"),
    [
        # the answer marker or box wins over a later restated number
        ("How many apples are left if 12 are eaten?", "\\boxed{8} apples remain out of the 20.", "8", "boxed"),
        ("What is x?", "The answer is: 14. We used the 3 given angles.", "14", "answer_phrase"),
        ("What is x?", "The answer is:\n14", "14", "answer_phrase"),
        ("What is x?", "所以答案是 6。", "6", "answer_phrase"),
        # a final statement: the number after "is"/"are"/"=", else one not restated from the question
        ("How many bars have values below 40?", "There are 3 bars with values below 40.", "3", "final_statement"),
        (
            "How many bars have values below 40?",
            "Only bars 2 and 4 are under the 40 line; 2 bars.",
            "2",
            "final_statement",
        ),
        (
            "What is the perimeter?",
            "The sides are 3, 4 and 5, so the perimeter is 3 + 4 + 5 = 12.",
            "12",
            "conclusion_number",
        ),
        # the first bold number is the stated answer; later bold numbers elaborate
        (
            "What is the maximum rating?",
            "The maximum is **70**, in **2009**. Others range from **20** to **60**.",
            "70",
            "bold_number",
        ),
        # number words
        ("How many bars have values below 0?", "There are two bars with values below 0.", "2", "final_statement"),
        ("How many cubes are there?", "I count twelve cubes in total.", "12", "final_statement"),
        ("Which one is bigger, the one on the left?", "The answer is eleven.", "11", "answer_phrase"),
        # a ratio is not a label colon
        ("What is the ratio of A to B?", "The ratio of A to B is 3:1.", "3", "final_statement"),
        ("How many?", "I cannot see any numbers here.", "", "none"),
    ],
)
def test_final_number_is_the_one_the_response_commits_to(
    question: str, response: str, expected: str, rule: str
) -> None:
    assert final_number(response, question) == (expected, rule)


def test_committed_number_skips_the_ones_and_restated_numbers() -> None:
    assert committed_number("Each of the one hundred boxes is 7 kg.") == "7"
    assert committed_number("It is the one that has 4 sides out of 10.", "with 10 sides") == "4"


def test_mathvista_scores_no_answer_as_wrong_not_as_the_nearest_choice() -> None:
    example = Example(
        id="1",
        question="How many cubes?",
        answer="3",
        choices=("3", "5"),
        metadata={"question_type": "multi_choice", "answer_type": "text", "precision": None},
    )
    sample = mathvista.score("The cube on the left is red.", example)
    assert (sample.extracted, sample.rule, sample.score, sample.details["prediction"]) == ("", "none", 0.0, None)
    assert mathvista.score("The answer is:\nA", example).score == 1.0


def test_other_benchmarks_share_the_markers_on_the_next_line_and_in_chinese() -> None:
    for response, letter in (("The answer is:\nB", "B"), ("所以答案是C", "C"), ("故选A", "A"), ("答案：D", "D")):
        assert MathVerseBenchmark.extract(response) == (letter, "answer_phrase")
        assert read_letter(response, ["1", "2", "3", "4"], "key")[0] == letter


def test_reading_long_and_hostile_responses_stays_fast() -> None:
    prose = "The population of the rabbits would grow because there are 12 fewer foxes. " * 250
    hostile = ["(" * 20_000, "is " * 7_000, "more " * 4_000 + "than", "答案" * 8_000, "\n" * 20_000, "1." * 10_000]
    started = time.perf_counter()
    for response in [prose, *hostile]:
        chosen_option(response, TREND, "Are there more rabbits than foxes? " * 50)
        chosen_option(response, YES_NO, "Are there more rabbits than foxes?")
        final_number(response, "How many foxes are there, given 12?")
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize(
    ("response", "score", "rule"),
    [
        ("D) 140°\n\nSince DE is parallel to BC, angle CED is the supplement of angle C.", 1.0, "letter_line"),
        ("Angle C is 40°, and DE is parallel to BC.\n\nSo angle CED measures 140°.", 1.0, "closing_sentence"),
        ("The angle CED is option (B) here, as the figure shows.", 0.0, "option_letter"),
        ("I cannot determine the angle from this figure.", 0.0, "last_paragraph"),
    ],
)
def test_mathverse_reads_the_option_a_closing_paragraph_picks(response: str, score: float, rule: str) -> None:
    example = Example(
        id="1",
        question="Find angle CED.\nChoices:\nA:40°\nB:60°\nC:120°\nD:140°",
        answer="D",
        choices=("40°", "60°", "120°", "140°"),
        metadata={"question_type": "multi-choice"},
    )
    sample = MathVerseBenchmark().score(response, example)
    assert (sample.score, sample.rule) == (score, rule)
