"""Chapter 11's provisioning service for a fleet of bots: state machines, a table, a bucket, a screen.

How the chapter uses it::

    from helpers.bots import service
    from helpers.bots.bot import Fleet
    from helpers.bots.screen import ThingsScreen

    outputs = service.bots_stack(ws)                  # deploys cfn/iot-dm-bots.yaml once; its outputs
    arn = service.provision(ws, "bot1")              # StartExecution of <Prefix>-ProvisionBot for anna-bot1
    service.wait(ws, arn)                             # {"status": "SUCCEEDED", ...}
    service.progress(ws, arn)                         # [{"state": "CreateThing", "status": "succeeded"}, ...]
    service.search(ws, "bot")                         # rows of the bots' DynamoDB table (a Scan)

    fleet = Fleet(ws)                                 # simulated bots, running in this kernel
    fleet.start(ws.name("bot1"))                      # fetches its keys from S3, connects as its thing
    fleet.status(ws.name("bot1"))                     # "online"

    screen = ThingsScreen(ws, fleet=fleet)            # the things screen; its last line shows it
    ...
    screen.close(); fleet.stop_all()                  # before clean-up

Files: `service` (names, executions, history → steps, search), `bot` (a simulated bot and the fleet),
`screen` (the ipywidgets app).
"""
