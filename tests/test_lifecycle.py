"""The stage graph: which moves a version may make, by promotion, deploy and undeploy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelbook import InvalidInput
from modelbook.lifecycle import DEFAULT_GRAPH, build_graph

G = DEFAULT_GRAPH
STAGES = ("staging", "candidate", "approved", "deployed", "archived")

# Every (from, to) a promotion may take in the default flow; everything else is refused.
PROMOTIONS = {
    ("staging", "candidate"),
    ("candidate", "approved"),
    ("staging", "archived"),
    ("candidate", "archived"),
    ("approved", "archived"),
    ("archived", "staging"),
}


def test_default_stages_in_order() -> None:
    """The default flow is staging → candidate → approved → deployed, and archived."""
    assert G.stages == STAGES
    assert G.first == "staging"
    assert G.return_stage == "approved"
    assert G.serving_aliases == ("production",)


@pytest.mark.parametrize("current", STAGES)
@pytest.mark.parametrize("target", STAGES)
def test_every_default_promotion_is_allowed_or_refused_naming_the_legal_ones(
    current: str, target: str
) -> None:
    """Each pair is either allowed, or refused with the stages that are allowed."""
    if (current, target) in PROMOTIONS:
        assert G.allows(current, target)
        G.check_move(current, target)
        return
    assert not G.allows(current, target)
    with pytest.raises(InvalidInput) as err:
        G.check_move(current, target)
    message = str(err.value)
    if target == "deployed":
        assert "only by deploy" in message
        assert "production" in message
    elif current == "deployed":
        assert "while a serving alias points at it" in message
        assert "roll back" in message
    else:
        for legal in G.targets(current):
            assert legal in message


def test_refusal_names_the_legal_targets() -> None:
    """Skipping a stage is refused with the stages that may follow."""
    with pytest.raises(
        InvalidInput, match=r"from 'staging' a version can go to: candidate, archived"
    ):
        G.check_move("staging", "approved")


def test_deploy_only_from_approved_or_already_deployed() -> None:
    """Deploying needs an approved version; a second serving alias may point at a deployed one."""
    assert G.allows("approved", "deployed", via="deploy")
    assert G.allows("deployed", "deployed", via="deploy")
    for stage in ("staging", "candidate", "archived"):
        with pytest.raises(InvalidInput, match="only a version in 'approved' can be deployed"):
            G.check_move(stage, "deployed", via="deploy")


def test_undeploy_returns_to_approved_and_stays_a_rollback_target() -> None:
    """When the serving alias moves away, the version is approved again."""
    assert G.targets("deployed", via="undeploy") == ("approved",)
    G.check_move("deployed", "approved", via="undeploy")
    assert G.stage_after_unserved("deployed", still_served=False) == "approved"
    assert G.stage_after_unserved("deployed", still_served=True) == "deployed"
    assert G.stage_after_unserved("approved", still_served=False) == "approved"
    with pytest.raises(InvalidInput, match="not deployed"):
        G.check_move("approved", "candidate", via="undeploy")


def test_serving_aliases() -> None:
    assert G.is_serving("production")
    assert not G.is_serving("challenger")


def test_promoting_to_the_current_stage_is_refused() -> None:
    with pytest.raises(InvalidInput, match="already in 'candidate'"):
        G.check_move("candidate", "candidate")


@pytest.mark.parametrize(
    ("current", "path"),
    [
        ("staging", ("candidate", "approved")),
        ("candidate", ("approved",)),
        ("approved", ()),
        ("deployed", ()),
    ],
)
def test_auto_path_walks_every_gate_up_to_deployed(current: str, path: tuple[str, ...]) -> None:
    """``promote --auto`` goes stage by stage and stops before deployed."""
    assert G.auto_path(current) == path


def test_auto_path_from_archived_is_refused() -> None:
    with pytest.raises(InvalidInput, match="restore it to 'staging' first"):
        G.auto_path("archived")


@pytest.mark.parametrize("name", ["prod", "Staging", "", "approve"])
def test_unknown_stage_lists_the_valid_ones(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        G.check_move("staging", name)
    assert f"unknown stage {name!r}" in str(err.value)
    assert "staging, candidate, approved, deployed, archived" in str(err.value)
    with pytest.raises(InvalidInput, match="unknown stage"):
        G.targets(name)


# custom flows ----------------------------------------------------------------------

CUSTOM = build_graph(
    ["dev", "shadow", "canary", "deployed", "archived"],
    {"dev": ["shadow"], "shadow": ["canary", "dev"], "archived": ["dev"]},
    ["prod-eu", "prod-us"],
)


def test_custom_flow_follows_its_transitions() -> None:
    """A policy's own stages and transitions replace the default ones."""
    assert CUSTOM.stages == ("dev", "shadow", "canary", "deployed", "archived")
    assert CUSTOM.return_stage == "canary"
    assert CUSTOM.targets("shadow") == ("dev", "canary", "archived")
    CUSTOM.check_move("shadow", "dev")
    with pytest.raises(InvalidInput, match="go to: shadow, archived"):
        CUSTOM.check_move("dev", "canary")
    with pytest.raises(InvalidInput, match="unknown stage 'candidate'"):
        CUSTOM.check_move("dev", "candidate")


def test_custom_flow_keeps_deployed_and_archived_meanings() -> None:
    """Deploy still comes from the stage before deployed; archive from anywhere but deployed."""
    assert CUSTOM.allows("canary", "deployed", via="deploy")
    assert not CUSTOM.allows("shadow", "deployed", via="deploy")
    assert CUSTOM.stage_after_unserved("deployed", still_served=False) == "canary"
    assert CUSTOM.is_serving("prod-us")
    assert not CUSTOM.is_serving("production")
    for stage in ("dev", "shadow", "canary"):
        assert CUSTOM.allows(stage, "archived")
    assert not CUSTOM.allows("deployed", "archived")


def test_custom_auto_path_takes_the_nearest_forward_step() -> None:
    assert CUSTOM.auto_path("dev") == ("shadow", "canary")
    skipping = build_graph(["a", "b", "c", "deployed"], {"a": ["b", "c"], "b": ["c"]})
    assert skipping.auto_path("a") == ("b", "c")


def test_auto_path_steps_around_a_stage_that_leads_nowhere_forward() -> None:
    """From a, b is nearer but leads no further: the walk takes a -> c, not into b."""
    dead_end = build_graph(["a", "b", "c", "deployed"], {"a": ["b", "c"]})
    assert dead_end.auto_path("a") == ("c",)
    with pytest.raises(InvalidInput, match="no transition leads forward from 'b'"):
        dead_end.auto_path("b")


def test_default_transitions_of_a_custom_order() -> None:
    """Without transitions, each stage leads to the next and archived back to the first."""
    g = build_graph(["draft", "review", "deployed"])
    assert g.targets("draft") == ("review", "archived")
    assert g.targets("archived") == ("draft",)
    assert g.auto_path("draft") == ("review",)


@pytest.mark.parametrize(
    ("order", "transitions", "aliases", "needle"),
    [
        (["staging", "approved"], None, ["production"], "must end with 'deployed'"),
        (["deployed"], None, ["production"], "at least one stage before"),
        (["a", "a", "deployed"], None, ["production"], "listed twice"),
        (["a", "archived", "deployed"], None, ["production"], "stands apart"),
        (["Bad Name", "deployed"], None, ["production"], "invalid stage name"),
        (["a", "b", "deployed"], {"a": ["deployed"]}, ["production"], "only by deploy"),
        (["a", "b", "deployed"], {"a": ["zz"]}, ["production"], "unknown stage 'zz'"),
        (["a", "b", "deployed"], {"zz": ["a"]}, ["production"], "unknown stage 'zz'"),
        (["a", "b", "deployed"], {"a": ["a"]}, ["production"], "goes nowhere"),
        (["a", "b", "deployed"], None, [], "at least one alias"),
        (["a", "b", "deployed"], None, ["no spaces"], "invalid alias"),
    ],
)
def test_malformed_flows_are_refused(
    order: list[str], transitions: dict[str, list[str]] | None, aliases: list[str], needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle):
        build_graph(order, transitions, aliases)


def test_graph_is_immutable() -> None:
    with pytest.raises(AttributeError):
        G.order = ("x", "deployed")  # type: ignore[misc]


@given(
    st.lists(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=6, unique=True
    )
)
def test_any_linear_order_walks_to_the_stage_before_deployed(names: list[str]) -> None:
    """For any order, promote --auto from the first stage visits every later stage once."""
    names = [n for n in names if n not in ("deployed", "archived")]
    if not names:
        return
    g = build_graph([*names, "deployed"])
    assert g.auto_path(names[0]) == tuple(names[1:])
    for a, b in itertools.pairwise(names):
        assert g.allows(a, b)
        assert not g.allows(b, a)


# flows in which a stage, or deployed, cannot be reached -----------------------------


@pytest.mark.parametrize(
    ("order", "transitions", "unreachable"),
    [
        (["dev", "qa", "deployed"], {"dev": ["archived"], "qa": ["dev"]}, ["qa"]),
        (["dev", "shadow", "canary", "deployed"], {"dev": ["shadow"]}, ["canary"]),
        (["a", "b", "c", "deployed"], {"a": ["c"]}, ["b"]),
        (["a", "b", "c", "deployed"], {}, ["b", "c"]),
        # Restoring from archived does not count as reaching a stage.
        (["a", "b", "c", "deployed"], {"a": ["b"], "archived": ["c"]}, ["c"]),
    ],
)
def test_a_flow_with_a_stage_no_promotion_reaches_is_refused(
    order: list[str], transitions: dict[str, list[str]], unreachable: list[str]
) -> None:
    with pytest.raises(InvalidInput) as err:
        build_graph(order, transitions)
    message = str(err.value)
    for stage in unreachable:
        assert f"stage {stage!r} cannot be reached from the first stage {order[0]!r}" in message
    assert message.count("cannot be reached") == len(unreachable)
    # The stage before deployed unreachable: say that nothing could be deployed.
    assert ("no version can be deployed" in message) == (order[-2] in unreachable)


def test_an_archived_version_can_always_be_restored_to_the_first_stage() -> None:
    """Declared transitions that do not name archived still let it back to the first stage."""
    g = build_graph(["dev", "qa", "deployed"], {"dev": ["qa"]})
    assert g.targets("archived") == ("dev",)
    g.check_move("archived", "dev")
    more = build_graph(["dev", "qa", "deployed"], {"dev": ["qa"], "archived": ["qa"]})
    assert more.targets("archived") == ("dev", "qa")
    assert CUSTOM.targets("archived") == ("dev",)


def test_unknown_stage_in_transitions_lists_each_stage_once() -> None:
    with pytest.raises(InvalidInput) as err:
        build_graph(["a", "archived", "deployed"], {"nowhere": ["a"]})
    assert "unknown stage 'nowhere' in transitions: choose one of a, archived, deployed" in str(
        err.value
    )
    assert "deployed, archived" not in str(err.value)


def _reached(targets: Callable[[str], Iterable[str]], first: str) -> set[str]:
    """The stages of the order promotions reach from ``first`` (archived not counted)."""
    seen, todo = {first}, [first]
    while todo:
        for there in targets(todo.pop()):
            if there not in seen and there != "archived":
                seen.add(there)
                todo.append(there)
    return seen


@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.dictionaries(
                st.integers(min_value=0, max_value=n),
                st.lists(st.integers(min_value=0, max_value=n), max_size=3, unique=True),
                max_size=n + 1,
            ),
        )
    )
)
def test_every_accepted_flow_can_reach_each_stage_and_deploy(
    flow: tuple[int, dict[int, list[int]]],
) -> None:
    """Any flow build_graph accepts lets a version climb from the first stage to each stage
    of the order, and so to the stage deploy comes from; one it refuses for reachability
    names exactly the stages the declared transitions do not reach."""
    n, raw = flow
    order = [f"s{i}" for i in range(n)] + ["deployed"]
    names = [*order[:-1], "archived"]  # index n is archived
    transitions = {names[a]: [names[b] for b in to if b != a] for a, to in raw.items()}
    try:
        g = build_graph(order, transitions)
    except InvalidInput as exc:
        named = {s for s in order[:-1] if f"stage {s!r} cannot be reached" in str(exc)}
        declared = _reached(lambda stage: transitions.get(stage, []), order[0])
        assert named == set(order[:-1]) - declared != set()
        return
    assert _reached(g.targets, g.first) == set(order[:-1])
    assert g.allows(g.return_stage, "deployed", via="deploy")
    assert g.allows("archived", g.first)
