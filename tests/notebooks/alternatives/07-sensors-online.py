# Another correct answer: the last three devices, connected in `with` blocks, and the connectivity
# query without the room term.
from contextlib import ExitStack

last_three = NAMES[-3:]
with ExitStack() as stack:
    for name in last_three:
        stack.enter_context(Device.from_workshop(ws, name))
    found = wait_for_results(ws, lambda: search(f"thingName:{PREFIX}* AND connectivity.connected:true"),
                             lambda things: set(last_three) <= {t["thingName"] for t in things},
                             what="the last three devices online")
print("online:", sorted(t["thingName"] for t in found))
