"""Clean-up: remove what the workshop created, in an order AWS accepts, and nothing else.

    found = inventory(ws)                        # what the ledger leads to, as it is now, and whose it is
    the_plan = plan(ws, found)                   # steps, side effects, what stays and why (pure)
    run(ws, the_plan)                            # dry run: what would happen
    run(ws, the_plan, dry_run=False)             # the clean-up, with a progress bar
    leftovers(ws)                                # what of the workshop's is still there (should be nothing)

**Whose is it.** The ledger (`helpers.ledger`) recorded what the workshop's own clients created, with
what identifies each resource on AWS. A resource counts as the workshop's when

1. the ledger recorded it and what is there now has the recorded identity: the same thing id,
   thing group id, thing type id, policy creation date, rule or job creation time, object ETag (or
   version), stack id, role id, log group creation time; the same certificate or CA id (AWS chooses
   those); for a Lambda function, a ``LastModified`` that the workshop's own creation and updates
   led to. A same-named resource with another identity was made outside the workshop: it is listed
   as *not the workshop's* and left alone;
2. or AWS made it on the workshop's behalf, and the ledger ties it to the workshop's own action:
   - the certificates a bulk registration task of the workshop reports, and each thing it reports
     *while that thing holds the certificate the task made for it* (a thing made again by hand
     does not);
   - the device certificates registered under a CA certificate the workshop registered (JITP and
     JITR register them when a device signed by that CA connects), the things holding one of them,
     and a policy attached to nothing but such certificates and no older than the CA (JITP's
     template or the workshop's JITR function made it);
   - the resources of the workshop's stack (its bucket, IoT policy and roles), while the stack is
     the one the workshop created (same stack id);
   - ``/aws/lambda/<function>``, which Lambda creates when a function of the workshop first runs:
     when it is no older than that function, and not younger than a same-named function that is not
     the workshop's;
   - ``AWSIotLogsV2``, which AWS IoT creates when v2 logging first writes: when the workshop switched
     logging on from off (or never configured) and the group is no older than that switch.
   What the clean-up learns this way (a bulk thing's id, say) is written to the ledger when it runs,
   so an interrupted clean-up still knows it.

**What it touches.** Only the workshop's resources whose names carry the workshop's prefix
``ws.prefix`` (ids AWS chose carry none). Deleting one of them never changes anything that is not the
workshop's unless the trainee allows it (``plan(..., allow_side_effects=True)``): each such side
effect (detaching a policy of ours from a certificate that is not ours, deleting someone else's
object in the stack's bucket, deprecating a type someone else's thing uses, ...) is listed in the
dry run, and the resource of ours that would cause it stays, with the reason (`helpers.cleanup.planning`).
Settings the workshop changed (registry events, logging, fleet indexing) are put back to their value
from before the workshop's first change.

Every step is idempotent and checks first that the resource is still the one the inventory found:
a resource that is gone already is "already gone", never an error, so the clean-up can be run again
after an interruption. Errors are shown with AWS's whole message.

Modules: `ownership` (the rule above, pure), `survey` and `probes` (the inventory: what is there),
`planning` (what to do, pure), `actions` and `running` (doing it), `waiting` (a thing type's five
minutes), `files` (key files), `report` (tables), `errors`, `items`.
"""

from __future__ import annotations

from .errors import describe_error, error_code, is_gone
from .files import local_files
from .survey import inventory
from .planning import CALLS, ORDER, Plan, Step, carries_prefix, decide, plan
from .report import cut_ids, summary, view
from .running import PROBLEMS, RESULT_COLUMNS, leftovers, problems, run, run_step
from .waiting import AWS_DELAY_S, ready_at

__all__ = [
    "AWS_DELAY_S", "CALLS", "ORDER", "PROBLEMS", "Plan", "RESULT_COLUMNS", "Step", "carries_prefix", "cut_ids",
    "decide", "describe_error", "error_code", "inventory", "is_gone", "leftovers", "local_files", "plan", "problems",
    "ready_at", "run", "run_step", "summary", "view",
]
