"""What the workflow's steps share: the error a step not yet built raises, visibly."""

from __future__ import annotations


class StepNotBuilt(Exception):
    """This step of the workflow is declared in the template but not built yet.

    Raising it sends the case through the state machine's Catch to FAILED with this message,
    so that a person sees it: nothing waits silently on a step that cannot act.
    """
