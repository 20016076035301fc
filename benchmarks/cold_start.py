"""How long `import app` takes in a fresh interpreter, next to a bare `import boto3`.

Run from the project root: `.venv/bin/python benchmarks/cold_start.py` (or `make bench`).

Each figure is the median of fresh interpreters (`sys.executable`, cwd at the
project root), so nothing is cached in `sys.modules`. One untimed run first
fills the `.pyc` cache, so bytecode compilation is not counted.

Two environments are measured, because the app imports differently in each:

- local: this shell's environment, as `make test` and `make run` see it.
- Lambda-like: LAMBDA_TASK_ROOT and the function variables set, as in AWS. The
  X-Ray SDK and Powertools' Tracer then take their Lambda paths (tracing on,
  libraries patched). The SDK touches /tmp/.aws-xray/initialized, as in AWS;
  the benchmark removes it again unless it was there before.
  Caveat: any patchable library installed in this venv (e.g. `requests`, a dev
  dependency) is imported and patched here but absent from the Lambda package.

Then `python -X importtime` shows where `import app` spends its time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMED = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_NAME": "sms-engagement-cold-start-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "POWERTOOLS_SERVICE_NAME": "sms-engagement",
    "POWERTOOLS_METRICS_NAMESPACE": "SmsEngagement",
    "STAGE": "prod",
}
"""What Lambda sets that changes how the app's libraries import (see `.chalice/config.json`)."""
_LAMBDA_MARKERS = ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV")
_NOT_IN_LAMBDA = ("AWS_CHALICE_CLI_MODE", "AWS_SAM_LOCAL", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_DEV")
XRAY_TOUCH_DIR = Path("/tmp/.aws-xray")
"""Where the X-Ray SDK marks that it started in Lambda; the Lambda-like runs create it."""


def local_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in _LAMBDA_MARKERS}


def lambda_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _NOT_IN_LAMBDA}
    return {**env, **LAMBDA_ENV}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def import_seconds(modules: tuple[str, ...], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median import time of each module; runs alternate, so a busy machine skews all alike."""
    for module in modules:
        run(["-c", f"import {module}"], env)  # warm the bytecode cache; not timed
    times: dict[str, list[float]] = {module: [] for module in modules}
    for _ in range(runs):
        for module in modules:
            times[module].append(float(run(["-c", TIMED.format(module=module)], env).stdout))
    return {module: statistics.median(samples) for module, samples in times.items()}


@dataclass(frozen=True)
class ImportLine:
    self_us: int
    cumulative_us: int
    depth: int
    module: str


def import_profile(env: dict[str, str], runs: int) -> list[ImportLine]:
    """`-X importtime` for `import app`, each module's times the median over `runs`."""
    samples: dict[tuple[int, str], list[tuple[int, int]]] = {}
    order: list[tuple[int, str]] = []
    for _ in range(runs):
        stderr = run(["-X", "importtime", "-c", "import app"], env).stderr
        for line in stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            self_us, cumulative_us, name = line[len("import time:") :].split("|")
            key = ((len(name) - len(name.lstrip())) // 2, name.strip())
            if key not in samples:
                samples[key] = []
                order.append(key)
            samples[key].append((int(self_us), int(cumulative_us)))
    return [
        ImportLine(
            self_us=int(statistics.median(s for s, _ in samples[key])),
            cumulative_us=int(statistics.median(c for _, c in samples[key])),
            depth=key[0],
            module=key[1],
        )
        for key in order
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per figure (default 10)")
    parser.add_argument("--profile-runs", type=int, default=5, help="-X importtime runs to take medians of")
    parser.add_argument("--top", type=int, default=10, help="rows in each -X importtime table")
    args = parser.parse_args()
    touch_dir_existed = XRAY_TOUCH_DIR.exists()
    try:
        report(args.runs, args.profile_runs, args.top)
    finally:
        if not touch_dir_existed:
            shutil.rmtree(XRAY_TOUCH_DIR, ignore_errors=True)


def report(runs: int, profile_runs: int, top: int) -> None:
    envs = {"local": local_env(), "Lambda-like": lambda_env()}
    version = ".".join(map(str, sys.version_info[:3]))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Cold import, median of {runs} fresh interpreters (Python {version}, {sys.executable})")
    print(f"load average {load} on {os.cpu_count()} CPUs: figures are only comparable on a quiet machine\n")
    results = {name: import_seconds(("app", "boto3"), env, runs) for name, env in envs.items()}
    print(f"{'':<22}" + "".join(f"{name:>14}" for name in envs))
    print(f"{'import app':<22}" + "".join(f"{ms(times['app']):>14}" for times in results.values()))
    print(f"{'import boto3':<22}" + "".join(f"{ms(times['boto3']):>14}" for times in results.values()))
    ratios = (times["app"] / times["boto3"] for times in results.values())
    print(f"{'ratio app / boto3':<22}" + "".join(f"{ratio:>13.2f}x" for ratio in ratios))

    profiles = {name: import_profile(env, profile_runs) for name, env in envs.items()}
    for name, lines in profiles.items():
        heaviest = sorted(lines, key=lambda line: line.cumulative_us, reverse=True)[:top]
        print(f"\n-X importtime, {name}: top {top} by cumulative (median of {profile_runs} runs)")
        print(f"{'cumulative':>12} {'self':>10}  module (indented by import depth)")
        for line in heaviest:
            indented = "  " * line.depth + line.module
            print(f"{line.cumulative_us / 1000:>9.1f} ms {line.self_us / 1000:>7.1f} ms  {indented}")

    by_package = {name: self_time_by_package(lines) for name, lines in profiles.items()}
    ranking = by_package["Lambda-like"]
    packages = sorted(ranking, key=ranking.__getitem__, reverse=True)[:top]
    print(f"\n-X importtime: top {top} top-level packages by total self time (ranked by Lambda-like)")
    print(f"{'package':<22}" + "".join(f"{name:>14}" for name in by_package))
    for package in packages:
        row = "".join(f"{ms(times.get(package, 0) / 1e6):>14}" for times in by_package.values())
        print(f"{package:<22}{row}")


def self_time_by_package(lines: list[ImportLine]) -> dict[str, int]:
    """Self time (us) summed per top-level package: what each dependency costs in all."""
    totals: dict[str, int] = {}
    for line in lines:
        package = line.module.split(".")[0]
        totals[package] = totals.get(package, 0) + line.self_us
    return totals


if __name__ == "__main__":
    main()
