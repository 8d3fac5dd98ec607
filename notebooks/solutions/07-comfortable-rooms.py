# Solution: the comfortable rooms (18 to 22 °C, both ends included), shown and kept in a thing group.

# 1. Ask the index. Square brackets include both ends of a range; inside a range the field takes a colon.
COMFORT_QUERY = f"{NAME_QUERY} AND shadow.reported.temperature:[18 TO 22]"
comfortable = thing_rows(search(COMFORT_QUERY))
display(table([{key: row[key] for key in ("thing", "room", "temperature")} for row in comfortable],
              title=f"{len(comfortable)} comfortable room(s): {COMFORT_QUERY}"))

# 2. The group. create_thing_group returns the group when it exists with the same properties; one you
#    made with other properties (a description, say) is answered with ResourceAlreadyExists: keep it.
try:
    ws.iot.create_thing_group(thingGroupName=COMFORT_GROUP)
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass

# 3. Exactly the answer: add the rooms the query found, remove those it no longer finds. A static group
#    changes only when you change it.
answer = {row["thing"] for row in comfortable}
members = {name for page in ws.iot.get_paginator("list_things_in_thing_group").paginate(thingGroupName=COMFORT_GROUP)
           for name in page["things"]}
for name in sorted(answer - members):
    ws.iot.add_thing_to_thing_group(thingGroupName=COMFORT_GROUP, thingName=name)
for name in sorted(members - answer):
    ws.iot.remove_thing_from_thing_group(thingGroupName=COMFORT_GROUP, thingName=name)
print(f"{COMFORT_GROUP} holds the {len(answer)} comfortable room(s): {len(answer - members)} added, "
      f"{len(members - answer)} removed.")
