"""Flow steps and drafts in the database: shared by processes, ended once after inactivity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from bot.services import conversations

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
OWNER = "a" * 64


def test_steps_and_drafts_round_trip(session: Session) -> None:
    conversations.save_draft(session=session, owner=OWNER, data={"gopy": {"category": "y_te"}})
    conversations.save_step(session=session, name="gopy", key="k1", owner=OWNER, state=2, address="sealed", now=NOW)
    steps = conversations.load_steps(session=session, key="k1", names=["gopy", "taokhaosat"], timeout=900, now=NOW)
    assert steps.states == {"gopy": 2} and steps.expired == ()
    assert conversations.load_draft(session=session, owner=OWNER) == {"gopy": {"category": "y_te"}}
    conversations.save_step(session=session, name="gopy", key="k1", owner=OWNER, state=None, address=None)
    conversations.save_draft(session=session, owner=OWNER, data={})
    assert conversations.load_steps(session=session, key="k1", names=["gopy"], timeout=900, now=NOW).states == {}
    assert conversations.load_draft(session=session, owner=OWNER) == {}


def test_an_idle_flow_ends_once_with_its_draft(session: Session) -> None:
    conversations.save_draft(session=session, owner=OWNER, data={"gopy": {"text": "nháp"}, "other": {"x": 1}})
    conversations.save_step(session=session, name="gopy", key="k2", owner=OWNER, state=3, address="sealed", now=NOW)
    later = NOW + timedelta(minutes=16)
    assert conversations.expire_steps(session=session, timeout=900, now=NOW + timedelta(minutes=10)) == []
    [ended] = conversations.expire_steps(session=session, timeout=900, now=later)
    assert (ended.name, ended.owner, ended.address) == ("gopy", OWNER, "sealed")
    assert conversations.expire_steps(session=session, timeout=900, now=later) == []  # told once
    assert conversations.load_draft(session=session, owner=OWNER) == {"other": {"x": 1}}


def test_the_next_update_ends_an_idle_flow_if_the_sweep_has_not(session: Session) -> None:
    conversations.save_step(session=session, name="gopy", key="k3", owner=OWNER, state=3, address=None, now=NOW)
    later = NOW + timedelta(hours=1)
    steps = conversations.load_steps(session=session, key="k3", names=["gopy"], timeout=900, now=later)
    assert steps.states == {} and steps.expired == ("gopy",)
    ended = conversations.end_expired(session=session, key="k3", names=["gopy"], timeout=900, now=later)
    assert [e.name for e in ended] == ["gopy"]
    assert conversations.end_expired(session=session, key="k3", names=["gopy"], timeout=900, now=later) == []
    assert conversations.expire_steps(session=session, timeout=900, now=NOW + timedelta(hours=2)) == []
