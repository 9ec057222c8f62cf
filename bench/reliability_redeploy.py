#!/usr/bin/env python
"""Blue/green redeploys under steady load: how many requests are lost while the stable URL switches versions.

A model is deployed with the local backend (supervised daemon behind the nginx ingress); client threads send
single-row predictions to the stable URL at a steady rate, half of them over kept-alive connections, half on a
fresh connection per request; every `--every` seconds the other version of the model is deployed (full deploy:
candidate start, checks, traffic switch, drain, old daemon stopped). Reported per redeploy: how long the deploy took
and the requests sent meanwhile, failed and slowest; overall: requests sent, failed (any answer but 200, or no
answer within the client timeout), and whether any process was left behind after the deployment was deleted.
Target (issue 10): 0 lost.

    python bench/reliability_redeploy.py --redeploys 5 --every 10 --rate 20
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine_note, markdown_table  # noqa: E402
from reliability_faults import Load, bench_backend, load_arguments  # noqa: E402

from stacks.seldon import local_process  # noqa: E402


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redeploys", type=int, default=5)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between redeploys (and before the first)")
    load_arguments(parser)
    args = parser.parse_args(argv)

    from serving.identity import ModelIdentity
    from stacks.seldon.spec import ModelDeploymentSpec

    work, backend = bench_backend("bench-redeploy-", ["1", "2"], args.workers)

    def deploy(version: str):
        identity = ModelIdentity("redeploy", version, uri=str(work / f"model-{version}"))
        return backend.deploy(ModelDeploymentSpec(name="redeploy", model=identity))

    info = deploy("1")
    supervisors = [info.details["pid"]]
    load = Load(info.url, args.rate, args.threads, args.timeout, keep_alive=True)
    switches: List[Dict] = []
    try:
        threads = load.start()
        for i in range(args.redeploys):
            time.sleep(args.every)
            version = "2" if i % 2 == 0 else "1"
            started = time.monotonic()
            new = deploy(version)
            switches.append({"version": version, "at": started, "seconds": time.monotonic() - started,
                             "same_url": new.url == info.url})
            supervisors.append(new.details["pid"])
            print(f"redeployed v{version} in {switches[-1]['seconds']:.1f} s", file=sys.stderr)
        time.sleep(args.every)
        load.finish(threads)
    finally:
        backend.delete("redeploy")
        left = [p for s in supervisors for p in local_process.group_members(s)]
        shutil.rmtree(work, ignore_errors=True)
    results = load.results
    rows = []
    for i, switch in enumerate(switches, 1):
        during = [r for r in results if switch["at"] <= r[0] <= switch["at"] + switch["seconds"] + 2]
        rows.append([i, f"v{switch['version']}", f"{switch['seconds']:.1f}", "yes" if switch["same_url"] else "NO",
                     len(during), sum(r[2] != "200" for r in during), f"{max((r[1] for r in during), default=0):.2f}"])
    print(markdown_table(["redeploy", "to", "deploy took (s)", "same stable URL", "requests during it (+2 s drain)",
                          "failed", "slowest request (s)"], rows))
    failed = [r for r in results if r[2] != "200"]
    print()
    print(markdown_table(["requests", "failed", "kinds of failure", "processes left after delete"],
                         [[len(results), len(failed), ", ".join(sorted({r[2] for r in failed})) or "-", len(left)]]))
    print(f"\n{args.redeploys} redeploys every {args.every:g} s, {args.rate:g} req/s from {args.threads} clients "
          f"(half kept-alive), {args.workers} gunicorn worker(s); {machine_note()}")


if __name__ == "__main__":
    main()
