"""Targets and whether a measurement meets them, with the margin either way."""

from typing import Any


def _check(
    name: str, measured: float, goal: float, unit: str, higher_is_better: bool
) -> dict[str, Any]:
    met = measured >= goal if higher_is_better else measured <= goal
    gap = abs(measured - goal)
    relative = gap / goal * 100 if goal else 0.0
    if met:
        margin = f"met with {gap:.3g} {unit} to spare ({relative:.0f}%)"
    elif higher_is_better:
        margin = f"missed: {gap:.3g} {unit} short ({relative:.0f}% below the target)"
    else:
        margin = f"missed: {gap:.3g} {unit} over ({relative:.0f}% above the target)"
    return {
        "name": name,
        "goal": f"{'>=' if higher_is_better else '<='} {goal:g} {unit}",
        "measured": measured,
        "unit": unit,
        "met": met,
        "margin": margin,
    }


def at_least(name: str, measured: float, goal: float, unit: str) -> dict[str, Any]:
    return _check(name, measured, goal, unit, higher_is_better=True)


def at_most(name: str, measured: float, goal: float, unit: str) -> dict[str, Any]:
    return _check(name, measured, goal, unit, higher_is_better=False)


def unmeasured(name: str, goal: str, reason: str) -> dict[str, Any]:
    return {
        "name": name,
        "goal": goal,
        "measured": None,
        "unit": "",
        "met": False,
        "margin": reason,
    }
