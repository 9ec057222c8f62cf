"""What each pipeline needs from a ZenML stack, and the `zenml` commands that add what a stack lacks.

Worked out from the code, not assumed:
- training: the training steps log to MLflow through the stack's experiment tracker (`@step(experiment_tracker=True)`,
  the run's experiment, the registered model) -> an `mlflow` experiment tracker. `profile_data` profiles through the
  stack's data validator when the stack has one, so it must then be the project's whylogs flavor (another flavor's
  profiles are not what `validate_data` reads); without one the step profiles in-process with the same code.
- deployment (and rollback): challenger and champion come from the MLflow registry at the tracker's URI and are
  served by the stack's model deployer -> `mlflow` tracker and `project_seldon` deployer.
- monitoring: scores the batch through the deployer -> `project_seldon` deployer (the batch is profiled in-process;
  the data validator is not used). A retrain also needs what training and deployment need.
- serving (`deployments`): the deployer.
Every ZenML stack has an orchestrator and an artifact store; any flavor of them works here.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from stacks.flavors.whylogs_validator import FLAVOR_NAME as WHYLOGS_FLAVOR
from stacks.seldon.flavor import FLAVOR_NAME as SELDON_FLAVOR
from stacks.spec import StackSpecError

MLFLOW_FLAVOR = "mlflow"  # ZenML's MLflow integration


@dataclasses.dataclass(frozen=True)
class Need:
    component: str  # ZenML component type
    flavor: str
    why: str
    optional: bool = False  # absent is fine (the pipeline falls back); present with another flavor is not


_TRACKER = Need("experiment_tracker", MLFLOW_FLAVOR, "to track runs and register models in MLflow")
_DEPLOYER = Need("model_deployer", SELDON_FLAVOR, "to serve models with Seldon, locally or on Kubernetes")
_VALIDATOR = Need("data_validator", WHYLOGS_FLAVOR, "to profile the training data with whylogs 1.6", optional=True)

PIPELINE_NEEDS: Dict[str, Tuple[Need, ...]] = {
    "training": (_TRACKER, _VALIDATOR),
    "deployment": (_TRACKER, _DEPLOYER),
    "monitoring": (_DEPLOYER,),
    "serving": (_DEPLOYER,),
}

PIPELINES = ("training", "deployment", "monitoring")  # what `stack list|show` report a stack ready for

# How the `zenml` CLI names a component type, its `zenml stack update` option, a default name and configuration.
ZENML_CLI: Dict[str, Tuple[str, str, str, str]] = {
    "experiment_tracker": ("experiment-tracker", "-e", "mlflow_tracker",
                           "--tracking_uri=sqlite:///{state_dir}/mlflow/mlflow.db"),
    "model_deployer": ("model-deployer", "-d", "seldon", "--backend=local"),
    "data_validator": ("data-validator", "-dv", "whylogs", ""),
}

Components = Mapping[str, Tuple[str, str]]  # component type -> (name, flavor)


class StackLacksComponents(StackSpecError):
    """A stack lacks a component (or has one of another flavor) that a pipeline needs."""


def needs_of(pipelines: Iterable[str]) -> List[Tuple[str, Need]]:
    """(pipeline, need) pairs, each component type once (its first pipeline names it)."""
    seen, found = set(), []
    for pipeline in pipelines:
        if pipeline not in PIPELINE_NEEDS:
            raise ValueError(f"unknown pipeline '{pipeline}'; expected one of {', '.join(PIPELINE_NEEDS)}")
        for need in PIPELINE_NEEDS[pipeline]:
            if need.component not in seen:
                seen.add(need.component)
                found.append((pipeline, need))
    return found


def fix_command(stack: str, need: Need, existing: Sequence[Tuple[str, str]] = (), state_dir: str = ".state") -> str:
    """The `zenml` commands that register a component for `need` and add it to `stack`; `existing` lists the
    registered (name, flavor) components of that type, so the new name is free and one of the right flavor is
    offered for reuse."""
    cli, option, default_name, config = ZENML_CLI[need.component]
    taken = {name for name, _ in existing}
    name = next(n for n in (default_name, *(f"{default_name}_{i}" for i in range(2, 100))) if n not in taken)
    config = config.format(state_dir=state_dir)
    register = f"zenml {cli} register {name} --flavor={need.flavor}" + (f" {config}" if config else "")
    command = f"{register} && zenml stack update {stack} {option} {name}"
    usable = [n for n, flavor in existing if flavor == need.flavor]
    if usable:
        command += f"\n    or reuse the registered one: zenml stack update {stack} {option} {usable[0]}"
    return command


Registered = Optional[Mapping[str, Sequence[Tuple[str, str]]]]  # component type -> registered (name, flavor)


def problems(stack: str, components: Components, pipelines: Iterable[str], registered: Registered = None,
             state_dir: str = ".state") -> List[str]:
    """One message per component the pipelines need that `stack` lacks or has in another flavor (empty: ready)."""
    found = []
    for pipeline, need in needs_of(pipelines):
        have = components.get(need.component)
        if have is None and need.optional:
            continue
        if have is not None and have[1] == need.flavor:
            continue
        how = fix_command(stack, need, (registered or {}).get(need.component, ()), state_dir)
        if have is None:
            what = f"no {need.component}: the {pipeline} pipeline needs one of flavor '{need.flavor}' {need.why}"
        else:
            what = (f"{need.component} '{have[0]}' has flavor '{have[1]}': the {pipeline} pipeline needs flavor "
                    f"'{need.flavor}' {need.why}")
        found.append(f"{what}; add one with\n    {how}")
        if have is not None and need.optional:
            option = ZENML_CLI[need.component][1]
            found[-1] += f"\n    or run without one: zenml stack remove-component {stack} {option}"
    return found


def require(stack: str, components: Components, pipelines: Sequence[str], registered: Registered = None,
            state_dir: str = ".state") -> None:
    """Raises StackLacksComponents naming each missing component and the command that adds it."""
    found = problems(stack, components, pipelines, registered, state_dir)
    if found:
        listed = "\n".join(f"  - {p}" for p in found)
        raise StackLacksComponents(
            f"stack '{stack}' cannot run the {' and '.join(dict.fromkeys(pipelines))} pipeline(s):\n{listed}\n"
            f"  (run `zenml` from the project directory; or pick a stack that has them: `python run.py stack list`)")


def ready_for(components: Components) -> List[str]:
    """The pipelines a stack with these components can run."""
    return [p for p in PIPELINES if not problems("-", components, [p])]
