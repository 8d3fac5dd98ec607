# Solution: three sensors online, found by their connectivity in the index, then disconnected.
ONLINE = NAMES[:3]
ONLINE_QUERY = f"{NAME_QUERY} AND connectivity.connected:true AND attributes.room_number:*"

sensors = [Device.from_workshop(ws, name) for name in ONLINE]  # client id = thing name
try:
    for sensor in sensors:
        sensor.connect()
    online = wait_for_results(ws, lambda: thing_rows(search(ONLINE_QUERY)),
                              lambda rows_found: set(ONLINE) <= {row["thing"] for row in rows_found},
                              what="the three connections to reach the index")
finally:
    for sensor in sensors:
        sensor.disconnect()
display(table(online, title=f"Rooms with their sensor online: {ONLINE_QUERY}"))

# After the disconnects: the index keeps the last connect or disconnect, with its time and reason.
# (On AWS the disconnects reach the index a few seconds later; the table may still say connected.)
table([{"thing": t["thingName"], **t.get("connectivity", {})} for t in search(f"{NAME_QUERY} AND connectivity.connected:*")
       if t["thingName"] in ONLINE], title="connectivity of the three devices now")
