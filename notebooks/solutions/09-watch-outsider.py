# Solution: a log level for the outsider's client id, the same publishes again, and two searches.
from IPython.display import display

# 1. A level of its own for its client id (setting it again overwrites it), and the levels now.
ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": OUTSIDER}, logLevel="INFO")
configured = [configuration for page in ws.iot.get_paginator("list_v2_logging_levels").paginate()
              for configuration in page["logTargetConfigurations"]]
display(table([{"target type": c["logTarget"]["targetType"],
                "target name": c["logTarget"].get("targetName", "(the account's default)"),
                "log level": c["logLevel"]} for c in configured], title="list_v2_logging_levels"))

# 2. The outsider publishes as in section 4: on its own topic, then on one that is not its own.
again = publish_both(OUTSIDER)
display(table(again, title=f"{OUTSIDER} publishes again, now logged at INFO"))


# 3. Its entries now. Wait for its allowed publish only if there was one: an entry of a publish that
#    was refused (or never made) would never come.
def outsider_publish_logged(found):
    return count(found, OUTSIDER, eventType="Publish-In", status="Success") > 0


outsider_pattern = f'{{$.clientId = "{OUTSIDER}"}}'
allowed = again[0]["outcome"] == "allowed"
outsider_entries = log_entries(ws.logs.filter_log_events, logGroupName=LOG_GROUP, startTime=start_time,
                               filterPattern=outsider_pattern, until=outsider_publish_logged if allowed else None)
display(entries_table(outsider_entries, outsider_pattern))

# 4. Every publish of the last hour, of any device: who published where, and what was refused.
publishes = log_entries(ws.logs.filter_log_events, logGroupName=LOG_GROUP, startTime=start_time,
                        filterPattern='{$.eventType = "Publish-In"}')
entries_table(publishes, '{$.eventType = "Publish-In"}')
