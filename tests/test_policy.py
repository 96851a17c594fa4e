"""Policy files: the default, custom flows, and errors that name the line, in TOML and YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelbook import InvalidInput
from modelbook.policy import (
    DEFAULT_POLICY_TEXT,
    default_policy,
    guess_format,
    load_policy,
)
from modelbook.policy_lines import TomlLines

DOCS = Path(__file__).resolve().parents[1] / "docs" / "release-flow.md"

# Each tier must be declared; most tests only care about one.
OTHER_TIERS = "[tiers.low]\n[tiers.medium]\n"


def error_of(text: str, source: str = "policy.toml") -> str:
    with pytest.raises(InvalidInput) as err:
        load_policy(text, source=source)
    return str(err.value)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


# the default policy ----------------------------------------------------------------


def test_default_policy_ships_and_parses() -> None:
    policy = default_policy()
    assert policy.text == DEFAULT_POLICY_TEXT
    assert policy.serving_aliases == ("production",)
    assert policy.graph.stages == ("staging", "candidate", "approved", "deployed", "archived")


def test_default_policy_gates_by_tier() -> None:
    policy = default_policy()

    def checks(tier: str, stage: str) -> list[tuple[str, bool]]:
        return [(s.check, s.required) for s in policy.gate(tier, stage)]

    assert checks("low", "candidate") == [("lineage_complete", True)]
    assert policy.gate("low", "candidate")[0].params_json() == {"fields": ["code.commit"]}
    assert checks("low", "approved") == [("approvals", True), ("smoke_test", False)]
    assert checks("low", "deployed") == []
    assert checks("medium", "approved") == [
        ("approvals", True),
        ("schema", False),
        ("smoke_test", False),
    ]
    assert policy.gate("high", "candidate")[0].params_json()["fields"] == [
        "code.commit",
        "code.clean",
        "data",
        "data.sha256",
        "environment.lockfile",
    ]
    assert checks("high", "approved") == [
        ("approvals", True),
        ("attestation", True),
        ("schema", False),
        ("smoke_test", False),
    ]
    high_approvals = policy.gate("high", "approved")[0].params_json()
    assert high_approvals == {"count": 2, "role": "reviewer", "separation_of_duties": True}
    assert policy.gate("high", "approved")[1].params_json()["name"] == "pii_review"
    assert checks("high", "deployed") == [("actor", True)]


def test_gate_refuses_unknown_tiers_and_stages() -> None:
    with pytest.raises(InvalidInput, match="choose one of low, medium, high"):
        default_policy().gate("critical", "approved")
    with pytest.raises(InvalidInput, match="unknown stage 'production'"):
        default_policy().gate("low", "production")


# custom flows ----------------------------------------------------------------------

CUSTOM = """
serving_aliases = ["prod-eu", "prod-us"]

[stages]
order = ["dev", "shadow", "canary", "deployed"]
transitions = { dev = ["shadow"], shadow = ["canary", "dev"], archived = ["dev"] }

[tiers.low]
[tiers.medium]

[[tiers.high.shadow]]
check = "actor"
principals = ["ci"]

[[tiers.high.canary]]
check = "metric"
rules = ["auc@shadow >= 0.8"]
required = false
"""


def test_a_policy_declares_its_own_stages_and_serving_aliases() -> None:
    policy = load_policy(CUSTOM, source="policy.toml")
    assert policy.graph.stages == ("dev", "shadow", "canary", "deployed", "archived")
    assert policy.serving_aliases == ("prod-eu", "prod-us")
    assert policy.graph.targets("shadow") == ("dev", "canary", "archived")
    assert [s.check for s in policy.gate("high", "shadow")] == ["actor"]
    assert policy.gate("high", "canary")[0].required is False
    assert policy.gate("low", "canary") == ()
    with pytest.raises(InvalidInput, match="unknown stage 'approved'"):
        policy.gate("low", "approved")


def test_gates_may_only_name_the_policys_stages() -> None:
    text = CUSTOM + '\n[[tiers.high.approved]]\ncheck = "schema"\n'
    message = error_of(text)
    assert (
        f"policy.toml line {line_of(text, 'tiers.high.approved')}: unknown stage 'approved'"
        in message
    )
    assert "(known: dev, shadow, canary, deployed, archived)" in message


def test_a_transition_into_deployed_is_refused_on_its_line() -> None:
    text = (
        '[stages]\norder = ["a", "b", "deployed"]\ntransitions = { a = ["b"], b = ["deployed"] }\n'
    )
    text += OTHER_TIERS + "[tiers.high]\n"
    message = error_of(text)
    assert message.startswith("policy.toml line 3: transition b -> deployed")


# errors name the line: TOML --------------------------------------------------------

BAD_TOML = """\
# a policy with one mistake of each kind
serving_aliases = ["production"]

[tiers.low]
[tiers.medium]

[[tiers.high.candidate]]
check = "lineage_complete"
fields = [
    "code.commit",
    "code.sha",
]

[[tiers.high.approved]]
check = "metrc"

[[tiers.high.approved]]
check = "approvals"
count = 0
colour = "blue"

[[tiers.high.aproved]]
check = "schema"

[[tiers.hgh.approved]]
check = "schema"

[[tiers.high.deployed]]
check = "expr"
expression = '''version.metrics["auc"] >'''
"""


def test_every_toml_problem_is_reported_on_its_own_line() -> None:
    message = error_of(BAD_TOML)
    lines = message.splitlines()
    expected = [
        (
            line_of(BAD_TOML, '"code.sha"'),
            "tiers.high.candidate[0].fields[1]: unknown lineage field 'code.sha'",
        ),
        (line_of(BAD_TOML, '"metrc"'), "unknown check 'metrc' (known: metric, "),
        (
            line_of(BAD_TOML, "count = 0"),
            "tiers.high.approved[1].count: Input should be greater than or equal to 1",
        ),
        (
            line_of(BAD_TOML, "colour"),
            "unknown key 'colour' for check 'approvals' (known: check, required, count",
        ),
        (line_of(BAD_TOML, "tiers.high.aproved"), "unknown stage 'aproved'"),
        (
            line_of(BAD_TOML, "tiers.hgh"),
            "unknown tier 'hgh' (known: low, medium, high); did you mean 'high'?",
        ),
        (line_of(BAD_TOML, "expression"), "invalid CEL expression"),
    ]
    assert len(lines) == len(expected), message
    for (number, needle), line in zip(expected, lines, strict=True):
        assert line.startswith(f"policy.toml line {number}: "), (line, number)
        assert needle in line


def test_unknown_check_suggests_the_closest() -> None:
    text = OTHER_TIERS + '[[tiers.high.approved]]\ncheck = "metrc"\n'
    assert error_of(text) == (
        "policy.toml line 4: unknown check 'metrc' (known: metric, slice_gap, compare, "
        "lineage_complete, schema, smoke_test, scan, approvals, attestation, actor, expr, custom); "
        "did you mean 'metric'?"
    )


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('serving_aliases = ["production"\n[tiers.low]\n', 2, "invalid TOML"),
        ("[tiers.low]\ncheck = = 1\n", 2, "invalid TOML"),
        ("[tiers]\nlow = {}\nlow = {}\n", 3, "invalid TOML"),
        ("[tiers.low\n", 1, "invalid TOML"),
    ],
)
def test_toml_syntax_errors_name_the_line(text: str, line: int, needle: str) -> None:
    message = error_of(text)
    assert message.startswith(f"policy.toml line {line}: {needle}")


def test_unknown_top_level_key() -> None:
    text = OTHER_TIERS + "[tiers.high]\n\n[gates]\nx = 1\n"
    assert error_of(text).startswith(
        "policy.toml line 5: unknown key 'gates' (known: serving_aliases, stages, tiers, doctor)"
    )


def test_every_tier_must_be_declared() -> None:
    message = error_of("[tiers.low]\n")
    assert "tier 'medium' is missing" in message and "tier 'high' is missing" in message


def test_a_gate_entry_needs_a_check() -> None:
    text = OTHER_TIERS + "[[tiers.high.approved]]\ncount = 2\n"
    assert error_of(text).startswith("policy.toml line 3: an entry needs check = NAME")


def test_required_must_be_a_boolean() -> None:
    text = OTHER_TIERS + '[[tiers.high.approved]]\ncheck = "schema"\nrequired = "no"\n'
    assert error_of(text) == (
        'policy.toml line 5: tiers.high.approved[0].required must be true or false, got "no"'
    )


def test_missing_parameter_points_at_its_entry() -> None:
    text = OTHER_TIERS + '\n\n[[tiers.high.approved]]\ncheck = "attestation"\nrole = "reviewer"\n'
    assert error_of(text).startswith("policy.toml line 5: tiers.high.approved[0].name is missing")


@pytest.mark.parametrize("source", ["policy.toml", "policy.yaml"])
def test_a_list_whose_only_item_is_wrong_is_reported_by_that_item_alone(source: str) -> None:
    """Not also "rules: should have at least 1 item, not 0": it has one, a wrong one."""
    toml = OTHER_TIERS + '[[tiers.high.candidate]]\ncheck = "metric"\nrules = ["auc >= x"]\n'
    yaml = (
        "tiers:\n  low: {}\n  medium: {}\n  high:\n    candidate:\n"
        '      - check: metric\n        rules: ["auc >= x"]\n'
    )
    message = error_of(toml if source.endswith("toml") else yaml, source=source)
    assert "rules[0]: threshold of metric rule 'auc >= x' must be a number" in message
    assert "at least 1 item" not in message


def test_a_policy_that_is_not_a_table() -> None:
    assert "a policy is a table" in error_of("- a\n- b\n", "policy.yaml")


# errors name the line: YAML --------------------------------------------------------

BAD_YAML = """\
serving_aliases: [production]
tiers:
  low: {}
  medium: {}
  high:
    candidate:
      - check: lineage_complete
        fields:
          - code.commit
          - code.sha
    approved:
      - check: metrc
      - check: approvals
        count: 0
    aproved:
      - check: schema
"""


def test_every_yaml_problem_is_reported_on_its_own_line() -> None:
    message = error_of(BAD_YAML, "policy.yaml")
    lines = message.splitlines()
    expected = [
        (line_of(BAD_YAML, "code.sha"), "unknown lineage field 'code.sha'"),
        (line_of(BAD_YAML, "metrc"), "unknown check 'metrc'"),
        (line_of(BAD_YAML, "count: 0"), "count: Input should be greater than or equal to 1"),
        (line_of(BAD_YAML, "aproved"), "unknown stage 'aproved'"),
    ]
    assert len(lines) == len(expected), message
    for (number, needle), line in zip(expected, lines, strict=True):
        assert line.startswith(f"policy.yaml line {number}: "), (line, number)
        assert needle in line


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("tiers:\n  low: {}\n  high: [\n", 4),
        ("tiers:\n  low:\n    - check: x\n   bad: 1\n", 4),
        ("tiers: {low: {}\n", 2),
    ],
)
def test_yaml_syntax_errors_name_the_line(text: str, line: int) -> None:
    message = error_of(text, "policy.yaml")
    assert message.startswith(f"policy.yaml line {line}: invalid YAML"), message


def test_yaml_key_given_twice_is_refused() -> None:
    """YAML would silently keep the second; a policy must not lose a gate that way."""
    text = "tiers:\n  low: {}\n  medium: {}\n  high: {}\n  low: {}\n"
    assert error_of(text, "policy.yaml") == (
        "policy.yaml line 5: key 'low' is given twice (first on line 2)"
    )


def test_yaml_policy_loads_the_same_as_toml() -> None:
    yaml_text = """
serving_aliases: [production]
tiers:
  low:
    candidate:
      - check: lineage_complete
        fields: [code.commit]
  medium: {}
  high:
    approved:
      - check: approvals
        count: 2
      - check: smoke_test
        required: false
"""
    toml_text = """
serving_aliases = ["production"]
[tiers.medium]
[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["code.commit"]
[[tiers.high.approved]]
check = "approvals"
count = 2
[[tiers.high.approved]]
check = "smoke_test"
required = false
"""
    a = load_policy(yaml_text, source="policy.yaml")
    b = load_policy(toml_text, source="policy.toml")
    assert a.format == "yaml" and b.format == "toml"

    def summary(policy: object) -> dict[tuple[str, str], list[tuple[str, object, bool]]]:
        return {
            key: [(s.check, s.params_json(), s.required) for s in specs]
            for key, specs in policy.gates.items()  # type: ignore[attr-defined]
        }

    assert summary(a) == summary(b)


# format guessing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source", "fmt"),
    [
        ("tiers: {}", "policy.yaml", "yaml"),
        ("tiers: {}", "policy.YML", "yaml"),
        ("[tiers.low]", "policy.toml", "toml"),
        ("# comment\n\n[tiers.low]\n", "policy", "toml"),
        ('serving_aliases = ["production"]', "stored", "toml"),
        ("# comment\ntiers:\n  low: {}\n", "stored", "yaml"),
        ("---\ntiers: {}\n", "stored", "yaml"),
        ("", "stored", "toml"),
    ],
)
def test_format_is_guessed_from_the_name_then_the_text(text: str, source: str, fmt: str) -> None:
    assert guess_format(text, source) == fmt


def test_yaml_without_a_suffix_loads() -> None:
    text = "tiers:\n  low: {}\n  medium: {}\n  high: {}\n"
    assert load_policy(text).format == "yaml"


def test_explicit_format_wins() -> None:
    with pytest.raises(InvalidInput, match="invalid YAML"):
        load_policy("[tiers.low\n", format="yaml")


# the TOML line scanner -------------------------------------------------------------


def test_scanner_steps_over_strings_comments_and_inline_tables() -> None:
    text = '''\
# [not.a.table] in a comment
title = """
[fake.table]
check = "not a key"
"""
"quoted.key" = 'single # not a comment'
dotted . key = 1 # [comment]
inline = { a = 1, b = { c = [1, 2] } }
nested = [
  [1, 2],
  { x = "y" },  # trailing
]
path = 'C:\\Users\\'
escaped = "a \\" quote"
lit3 = \'\'\'
[[also.fake]]
\'\'\'
when = 1979-05-27 07:32:00Z

[[a.b]]
k = 1

[a.b.c]
d = 2

[[a.b]]
k = 3
'''
    lines = TomlLines(text).scan()
    expect = {
        ("title",): 2,
        ("quoted.key",): 6,
        ("dotted", "key"): 7,
        ("inline",): 8,
        ("inline", "a"): 8,
        ("inline", "b", "c", 1): 8,
        ("nested", 0): 10,
        ("nested", 1): 11,
        ("nested", 1, "x"): 11,
        ("path",): 13,
        ("escaped",): 14,
        ("lit3",): 15,
        ("when",): 18,
        ("a", "b", 0): 20,
        ("a", "b", 0, "k"): 21,
        ("a", "b", 0, "c"): 23,
        ("a", "b", 0, "c", "d"): 24,
        ("a", "b", 1): 26,
        ("a", "b", 1, "k"): 27,
    }
    for loc, number in expect.items():
        assert lines.get(loc) == number, (loc, lines.get(loc), number)
    assert ("fake",) not in lines and ("also",) not in lines


def test_scanner_handles_quotes_at_the_end_of_multiline_strings() -> None:
    text = "a = \"\"\"x\"\"\"\"\nb = 1\nc = '''y'''''\nd = 2\n"
    lines = TomlLines(text).scan()
    assert lines[("b",)] == 2 and lines[("d",)] == 4


def test_scanner_handles_crlf_line_endings() -> None:
    text = OTHER_TIERS.replace("\n", "\r\n") + '[[tiers.high.approved]]\r\ncheck = "metrc"\r\n'
    assert error_of(text).startswith("policy.toml line 4: unknown check 'metrc'")


padding = st.lists(st.sampled_from(["", "# a comment", "   ", "# [tiers.x] = 1"]), max_size=3)


@given(
    st.lists(padding, min_size=4, max_size=4),
    st.integers(min_value=0, max_value=2),
    st.sampled_from(["toml", "yaml"]),
)
def test_the_bad_entry_is_named_wherever_it_sits(pads: list[list[str]], bad: int, fmt: str) -> None:
    """Among several gate entries and any blank or comment lines, the error names the bad one."""
    names = ["schema", "smoke_test", "schema"]
    names[bad] = "no_such_check"
    chunks: list[str] = []
    if fmt == "toml":
        chunks.append(OTHER_TIERS)
        for pad, name in zip(pads, names, strict=False):
            chunks += [*pad, "[[tiers.high.approved]]", *pad, f'check = "{name}"']
    else:
        chunks += ["tiers:", "  low: {}", "  medium: {}", "  high:", "    approved:"]
        for pad, name in zip(pads, names, strict=False):
            chunks += [p.strip() and "    " + p.strip() for p in pad]
            chunks += [f"      - check: {name}"]
    text = "\n".join(chunks) + "\n"
    message = error_of(text, f"policy.{fmt}")
    assert message.startswith(f"policy.{fmt} line {line_of(text, 'no_such_check')}: unknown check")


# the documentation's examples ------------------------------------------------------


def _doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def test_documented_policies_load() -> None:
    """Every complete policy in docs/release-flow.md parses (fragments are skipped)."""
    blocks = [b for b in _doc_blocks("toml") if "[tiers.low" in b or "tiers.low." in b]
    blocks += [b for b in _doc_blocks("yaml") if "low:" in b and "high:" in b]
    assert len(blocks) >= 3
    for block in blocks:
        load_policy(block, source="docs")


def test_documented_default_matches_the_shipped_file() -> None:
    assert DEFAULT_POLICY_TEXT.strip() in DOCS.read_text(encoding="utf-8")


def test_table_and_list_errors_say_what_the_file_should_hold_in_line_order() -> None:
    text = """[tiers.low]
candidate = [{check = "nope"}]
[tiers.medium]
[tiers.high]
[doctor]
required = ["nope.x", 5]
"""
    with pytest.raises(InvalidInput) as info:
        load_policy(text, source="p.toml")
    lines = info.value.message.splitlines()
    assert lines[0].startswith("p.toml line 2: unknown check 'nope'")
    assert lines[1].startswith("p.toml line 6: doctor.required[0]: unknown checklist field")
    assert lines[2] == "p.toml line 6: doctor.required[1] must be text in quotes, got 5"
    with pytest.raises(InvalidInput) as info:
        load_policy(
            'serving_aliases = "production"\n[tiers.low]\n[tiers.medium]\n[tiers.high]\n',
            source="p.toml",
        )
    assert info.value.message.startswith(
        'p.toml line 1: serving_aliases must be a list, e.g. ["a", "b"], got "production"'
    )
    with pytest.raises(InvalidInput) as info:
        load_policy("doctor = 5\n[tiers.low]\n[tiers.medium]\n[tiers.high]\n", source="p.toml")
    assert info.value.message == "p.toml line 1: doctor must be a table of keys (required), got 5"
    for bad, source in (
        ('[doctor]\nrequired = "code.repo"\n', "p.toml"),
        ("doctor:\n  required: code.repo\n", "p.yaml"),
    ):
        with pytest.raises(InvalidInput) as info:
            load_policy(bad, source=source)
        assert "doctor.required must be a list" in info.value.message
        for leak in ("valid tuple", "valid dictionary", "_DoctorFile", "instance of"):
            assert leak not in info.value.message


# stage flows in which nothing could be deployed ------------------------------------


@pytest.mark.parametrize(
    ("stages", "source", "line", "stage", "reached"),
    [
        (
            '[stages]\norder = ["dev", "qa", "deployed"]\n'
            'transitions = { dev = ["archived"], qa = ["dev"] }\n',
            "policy.toml",
            2,
            "qa",
            "dev",
        ),
        (
            "stages:\n  order: [dev, shadow, canary, deployed]\n"
            "  transitions:\n    dev: [shadow]\n    archived: [canary]\n",
            "policy.yaml",
            2,
            "canary",
            "dev, shadow",
        ),
    ],
)
def test_a_flow_that_can_never_deploy_is_refused_naming_the_stage_and_line(
    stages: str, source: str, line: int, stage: str, reached: str
) -> None:
    tiers = (
        "[tiers.low]\n[tiers.medium]\n[tiers.high]\n"
        if source.endswith(".toml")
        else "tiers: {low: {}, medium: {}, high: {}}\n"
    )
    message = error_of(stages + tiers, source)
    first = "dev"
    assert message == (
        f"{source} line {line}: stage {stage!r} cannot be reached from the first stage "
        f"{first!r}: no transition leads to it from the stages reached ({reached}); "
        f'add one, e.g. {reached.split(", ")[-1]} = ["{stage}"]; without it no version '
        f"can be deployed, as 'deployed' is entered only by deploy from {stage!r}"
    )


def test_a_stage_in_the_middle_no_promotion_reaches_is_refused() -> None:
    text = (
        '[stages]\norder = ["a", "b", "c", "deployed"]\ntransitions = { a = ["c"] }\n'
        + OTHER_TIERS
        + "[tiers.high]\n"
    )
    message = error_of(text)
    assert message.startswith("policy.toml line 2: stage 'b' cannot be reached")
    assert "deployed" not in message.split("; add one")[1]


def test_the_documented_custom_flow_is_a_whole_policy_that_deploys() -> None:
    block = next(b for b in _doc_blocks("toml") if 'order = ["dev", "shadow", "canary"' in b)
    policy = load_policy(block, source="docs.toml")
    graph = policy.graph
    assert graph.auto_path("dev") == ("shadow", "canary")
    assert graph.allows("canary", "deployed", via="deploy")
    assert graph.targets("archived") == ("dev",)
    assert [s.check for s in policy.gate("low", "canary")] == ["approvals"]


def test_unknown_stage_in_transitions_names_archived_once() -> None:
    text = (
        '[stages]\norder = ["dev", "archived", "deployed"]\n'
        'transitions = { nowhere = ["dev"] }\n' + OTHER_TIERS + "[tiers.high]\n"
    )
    message = error_of(text)
    assert "choose one of dev, archived, deployed\n" in message + "\n"


# nesting deeper than any policy needs ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source", "line"),
    [
        ("x = " + "[" * 30000 + "]" * 30000 + "\n", "policy.toml", 1),
        ("x: " + "[" * 30000 + "]" * 30000 + "\n", "policy.yaml", 1),
        ("# deep\n\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", "policy.toml", 3),
        ("x:\n  " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "policy.yaml", 2),
        ("[" + ".".join(["a"] * 20000) + "]\n", "policy.toml", 1),
        (".".join(["a"] * 20000) + " = 1\n", "policy.toml", 1),
        ("".join(" " * i + "a:\n" for i in range(300)) + " " * 300 + "1\n", "policy.yaml", 34),
    ],
    ids=[
        "toml-arrays",
        "yaml-flow",
        "toml-inline",
        "yaml-inline",
        "toml-header",
        "toml-key",
        "yaml-block",
    ],
)
def test_deep_nesting_is_refused_on_its_line(text: str, source: str, line: int) -> None:
    message = error_of(text, source)
    assert message == (
        f"{source} line {line}: tables and lists nested more than 32 deep; a policy needs "
        "far fewer (tiers.high.approved[0].fields is 5 deep)"
    )


def _custom_args(depth: int, fmt: str) -> str:
    """A policy whose custom check's args nest lists down to ``depth``:
    tiers, high, approved, its entry, args, x, then the lists inside x."""
    inner = "[" * (depth - 6) + "1" + "]" * (depth - 6)
    if fmt == "toml":
        return (
            '[tiers.low]\n[tiers.medium]\n[[tiers.high.approved]]\ncheck = "custom"\n'
            f'function = "a.b:c"\nargs = {{ x = [{inner}] }}\n'
        )
    return (
        "tiers:\n  low: {}\n  medium: {}\n  high:\n    approved:\n      - check: custom\n"
        f"        function: a.b:c\n        args:\n          x: [{inner}]\n"
    )


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_the_depth_limit_is_32_in_both_formats(fmt: str) -> None:
    load_policy(_custom_args(32, fmt), source=f"p.{fmt}")
    assert "nested more than 32 deep" in error_of(_custom_args(33, fmt), f"p.{fmt}")


def test_yaml_aliases_cannot_nest_past_the_limit() -> None:
    """Each anchor nests ten lists and the previous anchor: 4000 deep in a few lines."""
    text = "a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n"
    text += "".join(f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" for i in range(1, 400))
    assert "nested more than 32 deep" in error_of(text, "policy.yaml")


# parameter types are strict ----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'check = "approvals"\ncount = true',
            "tiers.high.approved[0].count must be a whole number, got true",
        ),
        (
            'check = "approvals"\ncount = "2"',
            'tiers.high.approved[0].count must be a whole number, got "2"',
        ),
        (
            'check = "approvals"\ncount = 1.5',
            "tiers.high.approved[0].count must be a whole number, got 1.5",
        ),
        (
            'check = "approvals"\nseparation_of_duties = "yes"',
            'tiers.high.approved[0].separation_of_duties must be true or false, got "yes"',
        ),
        (
            'check = "attestation"\nname = "pii"\nmax_age_days = "30"',
            'tiers.high.approved[0].max_age_days must be a number, got "30"',
        ),
        (
            'check = "schema"\nrequired = "false"',
            'tiers.high.approved[0].required must be true or false, got "false"',
        ),
        (
            'check = "actor"\ndeny_registrant = 1',
            "tiers.high.approved[0].deny_registrant must be true or false, got 1",
        ),
        (
            'check = "actor"\nroles = [true]',
            "tiers.high.approved[0].roles[0] must be text in quotes, got true",
        ),
        (
            'check = "slice_gap"\nmetric = "auc"\nmax_gap = "0.1"',
            'tiers.high.approved[0].max_gap must be a number, got "0.1"',
        ),
        (
            'check = "compare"\nmetrics = ["auc"]\ntolerance = "0.1"',
            "tiers.high.approved[0].tolerance: must be a finite number >= 0, or a table of "
            'metric = number; got "0.1"',
        ),
        (
            'check = "compare"\nmetrics = ["auc"]\ntolerance = { auc = true }',
            "tiers.high.approved[0].tolerance: the tolerance of auc must be a finite number "
            ">= 0, got true",
        ),
        (
            'check = "compare"\nmetrics = ["auc"]\ntolerance = -1',
            "tiers.high.approved[0].tolerance: the tolerance must be a finite number >= 0, got -1",
        ),
        (
            'check = "metric"\nrules = ["auc >= 0.8", 1]',
            "tiers.high.approved[0].rules[1]: invalid metric rule 1: write METRIC OP NUMBER",
        ),
    ],
)
def test_parameter_types_are_strict_and_refused_on_their_line(entry: str, message: str) -> None:
    text = OTHER_TIERS + "[[tiers.high.approved]]\n" + entry + "\n"
    found = error_of(text)
    assert found.startswith(f"policy.toml line {len(text.splitlines())}: {message}"), found


def test_strict_types_in_yaml_too() -> None:
    text = (
        "tiers:\n  low: {}\n  medium: {}\n  high:\n    approved:\n"
        "      - check: approvals\n        count: true\n"
        "      - check: approvals\n        count: '2'\n"
        "        separation_of_duties: 'yes'\n"
    )
    assert error_of(text, "p.yaml").splitlines() == [
        "p.yaml line 7: tiers.high.approved[0].count must be a whole number, got true",
        'p.yaml line 9: tiers.high.approved[1].count must be a whole number, got "2"',
        "p.yaml line 10: tiers.high.approved[1].separation_of_duties must be true or false, "
        'got "yes"',
    ]


def test_well_typed_parameters_still_load() -> None:
    text = OTHER_TIERS + (
        '[[tiers.high.approved]]\ncheck = "approvals"\ncount = 2\nseparation_of_duties = true\n'
        '[[tiers.high.approved]]\ncheck = "attestation"\nname = "pii"\nmax_age_days = 30\n'
        '[[tiers.high.approved]]\ncheck = "slice_gap"\nmetric = "auc"\nmax_gap = 0\n'
        '[[tiers.high.approved]]\ncheck = "compare"\nmetrics = ["auc"]\ntolerance = { auc = 1 }\n'
        '[[tiers.high.candidate]]\ncheck = "actor"\nprincipals = ["ci"]\nroles = ["deployer"]\n'
    )
    gate = load_policy(text, source="p.toml").gate("high", "approved")
    assert [s.params_json() for s in gate][:2] == [
        {"count": 2, "role": "reviewer", "separation_of_duties": True},
        {"name": "pii", "role": None, "max_age_days": 30.0, "separation_of_duties": None},
    ]


def test_entries_under_a_misspelled_stage_or_tier_report_their_own_problems() -> None:
    text = OTHER_TIERS + (
        '[[tiers.high.aproved]]\ncheck = "approvals"\ncount = "two"\ncolour = 1\n'
        '[[tiers.hgh.approved]]\ncheck = "metrc"\n'
    )
    assert error_of(text).splitlines() == [
        "policy.toml line 3: unknown stage 'aproved' (known: staging, candidate, approved, "
        "deployed, archived); did you mean 'approved'?",
        'policy.toml line 5: tiers.high.aproved[0].count must be a whole number, got "two"',
        "policy.toml line 6: unknown key 'colour' for check 'approvals' (known: check, "
        "required, count, role, separation_of_duties)",
        "policy.toml line 7: unknown tier 'hgh' (known: low, medium, high); did you mean 'high'?",
        "policy.toml line 8: unknown check 'metrc' (known: metric, slice_gap, compare, "
        "lineage_complete, schema, smoke_test, scan, approvals, attestation, actor, expr, "
        "custom); did you mean 'metric'?",
    ]


def test_a_policy_a_registry_already_holds_is_read_as_it_was_set() -> None:
    """Rules added since (strict types, every stage reachable) do not stop the gates of a
    stored policy after an upgrade; setting the same text names its problems."""
    text = (
        '[stages]\norder = ["dev", "qa", "deployed"]\ntransitions = { qa = ["dev"] }\n'
        + OTHER_TIERS
        + '[[tiers.high.dev]]\ncheck = "approvals"\ncount = "2"\n'
    )
    stored = load_policy(text, source="policy.toml", as_stored=True)
    assert stored.gate("high", "dev")[0].params_json()["count"] == 2
    assert stored.graph.targets("archived") == ("dev",)
    assert error_of(text).splitlines() == [
        "policy.toml line 2: stage 'qa' cannot be reached from the first stage 'dev': no "
        'transition leads to it from the stages reached (dev); add one, e.g. dev = ["qa"]; '
        "without it no version can be deployed, as 'deployed' is entered only by deploy "
        "from 'qa'",
    ]
