"""Formatters: each round-trips its own format; conversions work where the target can hold the data."""

import pytest

from harness import Example, FormatError, Message

MULTI_TURN = {
    "messages": [
        {"role": "system", "content": "You are a Greek fire commander."},
        {"role": "user", "content": "A car fire on the motorway: first step?"},
        {"role": "assistant", "content": "Close the lane, approach upwind, and check for leaking fuel."},
        {"role": "user", "content": "And if the battery is a lithium-ion pack?"},
        {"role": "assistant", "content": "Expect re-ignition; cool with large volumes of water."},
    ]
}
CANONICAL = {
    "chatml": MULTI_TURN,
    "sharegpt": {"conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Class B fires burn what?"},
        {"from": "gpt", "value": "Flammable liquids."},
        {"from": "human", "value": "Extinguisher?"},
        {"from": "gpt", "value": "Foam, CO2 or dry powder."},
    ]},
    "alpaca": {"system": "Be brief.", "instruction": "Name the fire triangle.", "input": "", "output": "Heat, fuel, oxygen."},
    "completion": {"text": "Wildfires spread faster uphill because flames preheat the fuel above them."},
    "question_response": {"system_prompt": "", "question": "What is 2+2?", "response": "4"},
}


def fmt(harness_app, name):
    return harness_app.formatter(name)()


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_each_formatter_round_trips_its_format(harness_app, name):
    formatter = fmt(harness_app, name)
    record = CANONICAL[name]
    assert formatter.detect(record)
    example = formatter.parse(record)
    assert formatter.dump(example) == record
    assert formatter.parse(formatter.dump(example)) == example


def test_alpaca_input_joins_the_instruction_as_one_user_turn(harness_app):
    alpaca = fmt(harness_app, "alpaca")
    example = alpaca.parse({"instruction": "Translate to Greek.", "input": "fire", "output": "φωτιά"})
    assert [m.role for m in example.messages] == ["user", "assistant"]
    assert example.messages[0].content == "Translate to Greek.\n\nfire"
    # Writing back folds the input into the instruction; reading that again gives the same example.
    assert alpaca.parse(alpaca.dump(example)) == example


def test_aliases_name_the_chatml_formatter(harness_app):
    assert harness_app.formatter("messages") is harness_app.formatter("chatml")
    assert harness_app.formatter("chat_template") is harness_app.formatter("chatml")


def test_multi_turn_converts_chatml_to_sharegpt_and_back(harness_app):
    chatml, sharegpt = fmt(harness_app, "chatml"), fmt(harness_app, "sharegpt")
    example = chatml.parse(MULTI_TURN)
    as_sharegpt = sharegpt.dump(example)
    assert [t["from"] for t in as_sharegpt["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    assert chatml.dump(sharegpt.parse(as_sharegpt)) == MULTI_TURN


def test_single_turn_converts_through_alpaca_both_ways(harness_app):
    chatml, alpaca, sharegpt = (fmt(harness_app, n) for n in ("chatml", "alpaca", "sharegpt"))
    single = {"messages": MULTI_TURN["messages"][:3]}
    via_alpaca = alpaca.dump(chatml.parse(single))
    assert via_alpaca == {"system": "You are a Greek fire commander.",
                          "instruction": "A car fire on the motorway: first step?", "input": "",
                          "output": "Close the lane, approach upwind, and check for leaking fuel."}
    assert chatml.dump(sharegpt.parse(sharegpt.dump(alpaca.parse(via_alpaca)))) == single


def test_alpaca_refuses_multi_turn_with_a_clear_reason(harness_app):
    example = fmt(harness_app, "chatml").parse(MULTI_TURN)
    with pytest.raises(FormatError, match=r"alpaca holds one user turn.*2 user turn\(s\).*chatml or sharegpt"):
        fmt(harness_app, "alpaca").dump(example)


def test_completion_and_chat_do_not_convert_into_each_other(harness_app):
    chat = fmt(harness_app, "chatml").parse(MULTI_TURN)
    with pytest.raises(FormatError, match="completion holds plain text"):
        fmt(harness_app, "completion").dump(chat)
    with pytest.raises(FormatError, match="holds conversations"):
        fmt(harness_app, "chatml").dump(Example(text="plain"))


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"messages": [{"role": "tool", "content": "x"}]}, "unknown role 'tool'"),
        ({"messages": [{"content": "x"}]}, "missing role"),
        ({"messages": [{"role": "user", "content": "  "}]}, "empty content"),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be a string, got int"),
        ({"messages": "hello"}, "'messages' must be a list, got str"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}, "system turn may only come first"),
        ({"conversations": [{"from": "robot", "value": "x"}]}, "unknown speaker 'robot'"),
        ({"instruction": "x", "output": ""}, "'output' is empty"),
        ({"instruction": ["x"], "output": "y"}, "'instruction' must be a string, got list"),
    ],
)
def test_malformed_records_say_why(harness_app, record, reason):
    name = "sharegpt" if "conversations" in record else "alpaca" if "instruction" in record else "chatml"
    with pytest.raises(FormatError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        fmt(harness_app, name).parse(record)


def test_parsed_messages_are_api_records(harness_app):
    example = fmt(harness_app, "sharegpt").parse(CANONICAL["sharegpt"])
    assert example.messages[1] == Message("user", "Class B fires burn what?")
