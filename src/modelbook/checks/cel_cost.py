"""The cost of a CEL expression: estimated when a policy is set, metered when it runs.

A gate runs on every promotion and deploy: an expression that runs for
minutes would make each of them take minutes. So every ``expr`` evaluation has a budget
(:data:`modelbook.limits.MAX_EXPR_COST` operations) and stops when it is
spent, and an expression that needs more than the budget whatever the version
(``[1, 2, ..., 10].map(a, [1, ..., 10].map(b, ...))`` six deep) is refused
when the policy is set (one stored before that rule still loads, and fails
its check when it runs, naming the budget).

One operation is one step of the expression: a literal, a name, a field
access, an operator, a function call, one element of a literal list or map,
and, for each element a comprehension macro (``map``, ``filter``, ``all``,
``exists``, ``exists_one``) visits, each step of its body. A concatenation
(``+`` on text, bytes or lists) also costs one operation per 10 characters or
elements of its result, so that doubling a value in a loop is paid for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lark
from celpy import celtypes
from celpy.evaluation import Activation, Evaluator

MACROS = frozenset({"map", "filter", "all", "exists", "exists_one", "reduce"})
_CONCAT_UNIT = 10


class CostExceeded(Exception):
    """An evaluation spent its budget. Not a CEL error: nothing in CEL may catch it."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"spent its budget of {budget} operations")
        self.budget = budget


def _counts(tree: lark.Tree[Any]) -> bool:
    # The grammar wraps every operand in a chain of one-child rules (expr,
    # conditionalor ... primary); only the nodes that do something count.
    return not (len(tree.children) == 1 and isinstance(tree.children[0], lark.Tree))


class _Meter:
    __slots__ = ("budget", "spent")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.spent = 0

    def charge(self, amount: int) -> None:
        self.spent += amount
        if self.spent > self.budget:
            raise CostExceeded(self.budget)


class _MeteredEvaluator(Evaluator):
    """celpy's interpreter, charging each node it visits to a shared meter."""

    def __init__(self, ast: lark.Tree[Any], activation: Activation, meter: _Meter) -> None:
        super().__init__(ast, activation)
        self.meter = meter

    def sub_evaluator(self, ast: lark.Tree[Any]) -> Evaluator:
        # Macro bodies run in their own evaluator: it must charge the same meter.
        return _MeteredEvaluator(ast, self.activation, self.meter)

    def _visit_tree(self, tree: lark.Tree[Any]) -> Any:
        if _counts(tree):
            self.meter.charge(1)
        value = super()._visit_tree(tree)
        if tree.data == "addition" and isinstance(value, str | bytes | list):
            self.meter.charge(len(value) // _CONCAT_UNIT)
        return value


def evaluate(
    ast: lark.Tree[Any], activation: Activation, names: Mapping[str, Any], budget: int
) -> tuple[celtypes.Value, int]:
    """Evaluate ``ast`` with ``names`` bound; the value and the operations it cost.

    Raises:
        CostExceeded: the evaluation needed more than ``budget`` operations; it
            stopped as soon as it did.
        celpy.evaluation.CELEvalError: the expression could not be evaluated.
    """
    meter = _Meter(budget)
    value = _MeteredEvaluator(ast, activation, meter).evaluate(dict(names))
    return value, meter.spent


def least_cost(tree: lark.Tree[Any]) -> int:
    """The fewest operations evaluating ``tree`` can cost, whatever its inputs.

    A comprehension over a literal list or map costs its body once per
    element; over an input (``version.artifacts``) it may cost nothing, since
    the input may be empty. Of ``c ? a : b`` only the cheaper branch counts.
    The estimate never exceeds what an evaluation spends, so refusing an
    expression whose least cost is over the budget refuses only expressions
    that could never pass.
    """
    if tree.data == "member_dot_arg" and _method(tree) in MACROS:
        member = tree.children[0]
        cost = 1 + (least_cost(member) if isinstance(member, lark.Tree) else 0)
        args = tree.children[2] if len(tree.children) > 2 else None
        if isinstance(args, lark.Tree) and len(args.children) >= 2:
            body = args.children[-1]
            if isinstance(body, lark.Tree) and isinstance(member, lark.Tree):
                # At least the body's own steps per element, however many there are.
                cost += _literal_size(member) * least_cost(body)
        return cost
    own = 1 if _counts(tree) else 0
    children = [c for c in tree.children if isinstance(c, lark.Tree)]
    if tree.data == "expr" and len(children) == 3:
        cond, then, other = children
        return own + least_cost(cond) + min(least_cost(then), least_cost(other))
    return own + sum(least_cost(c) for c in children)


def _method(tree: lark.Tree[Any]) -> str | None:
    name = tree.children[1] if len(tree.children) > 1 else None
    return str(name) if isinstance(name, lark.Token) else None


def _literal_size(tree: lark.Tree[Any]) -> int:
    """How many elements ``tree`` has when it is a list or map literal; else 0."""
    node = tree
    while len(node.children) == 1 and isinstance(node.children[0], lark.Tree):
        if node.data in ("list_lit", "map_lit"):
            break
        node = node.children[0]
    if node.data not in ("list_lit", "map_lit"):
        return 0
    if not node.children or not isinstance(node.children[0], lark.Tree):
        return 0
    items = len(node.children[0].children)
    return items // 2 if node.data == "map_lit" else items
