"""``python -m helpers.aws_preflight``: what `make workshop BACKEND=aws` checks before JupyterLab starts.

A shell still pointing at the lab (``AWS_ENDPOINT_URL`` and friends, `helpers.endpoints`) stops it
with the fix, before any notebook reports ``aws`` while talking to the lab. With the rehearsal switch
it says what the notebooks will talk to instead.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping

from .endpoints import REHEARSAL_VAR, LoopbackEndpoint, check_configured, rehearsal


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        check_configured(environ, then="then run `make workshop BACKEND=aws` again")
    except LoopbackEndpoint as error:
        print(str(error), file=sys.stderr)
        return 1
    if rehearsal(environ):
        print(f"{REHEARSAL_VAR}=1: the notebooks rehearse the aws backend against the lab this shell points at "
              "(start it with `make lab` if it is not running).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
