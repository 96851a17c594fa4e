"""Reviews that answer the gate a version waits for, through the Registry API on SQLite and
PostgreSQL: an approval given after a rejection (also by a reviewer who approved before
it), and a sign-off that is the last missing piece of the ``approved`` gate.

The people are those of ``tests/test_release_flow.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.errors import Conflict

from .test_release_flow import (
    ADMIN,
    REGISTRANT,
    Flow,
    events_of,
    gate,
    make_flow,
    policy,
    promote_refused,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def test_a_reviewer_who_approved_before_a_rejection_may_approve_again_after_it(
    flow: Flow,
) -> None:
    """Two reviewers: rita approved early, ron rejected. The gate's hint asks a reviewer to
    approve after reading the rejection, and rita can: her approval before it no longer
    answers it, and a second one after it does."""
    reg = flow.reg
    v = flow.add()
    reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    early = reg.approve(v.uri, actor="rita")
    assert early.stages == ("approved",)
    reg.reject(v.uri, actor="ron", comment="calibration is off on the EU slice")
    assert flow.stage(v.uri) == "candidate"
    message = promote_refused(flow, v.uri, "approved")
    assert "approves after reading the rejection" in message
    answered = reg.approve(v.uri, actor="rita", comment="read it: the EU slice is fixed")
    assert answered.stages == ("approved",)
    assert flow.stage(v.uri) == "approved"
    # With no rejection since her last approval, another one adds nothing.
    with pytest.raises(Conflict, match="already approved"):
        reg.approve(v.uri, actor="rita")
    assert [a.actor for a in reg.annotations(v.uri).approvals] == ["rita", "rita"]


def test_a_sign_off_that_completes_the_gate_moves_the_version_as_an_approval_does(
    flow: Flow,
) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate("low", "approved", "approvals", count=1),
            gate("low", "approved", "attestation", name="pii_review"),
        ),
        actor=ADMIN,
    )
    v = flow.add()
    reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    waiting = reg.approve(v.uri, actor="rita")
    assert waiting.stages == () and flow.stage(v.uri) == "candidate"
    # The sign-off was the last missing piece: the version enters approved with it.
    reg.attest(v.uri, "pii_review", actor="ron")
    assert flow.stage(v.uri) == "approved"
    moved = [e for e in events_of(reg, "m") if e.action == "version.stage"][-1]
    assert (moved.actor, moved.after) == ("ron", {"stage": "approved"})
    assert reg.evidence(v.uri)[-1].passed
    # A sign-off while another piece is missing records the gate's answer and moves nothing.
    w = flow.add()
    reg.promote(w.uri, to="candidate", actor=REGISTRANT)
    reg.attest(w.uri, "pii_review", actor="ron")
    assert flow.stage(w.uri) == "candidate"
    last = reg.evidence(w.uri)[-1]
    assert (last.target_stage, last.actor) == ("approved", "ron")
    assert not [r for r in reg.evidence(w.uri) if r.check == "approvals" and r.passed]
