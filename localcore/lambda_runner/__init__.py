"""Local Lambda: Python functions created with CreateFunction run in a child process of the lab.

`runner` runs one invocation (unzip, environment, timeout, log events); `bootstrap` is the child's
side; `permissions` reads a function's resource-based policy; `service` ties them to the lab
(moto's functions and CloudWatch Logs, the Invoke API, the rules engine's lambda action).
"""
