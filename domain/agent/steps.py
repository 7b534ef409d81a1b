"""The deployment steps of a real agent: the planner, pull policy, registry credentials and
container names, bound to its config and to who it is (agent id, daemon)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dockyard.domain.agent.agent import AgentIdentity
from dockyard.domain.agent.config import AgentConfig, RegistryCredentials
from dockyard.domain.agent.deploy import DeploySteps
from dockyard.domain.agent.image_policy import normalize_registry_host
from dockyard.domain.agent.images import may_pull, parse_image_reference, pulls_first
from dockyard.domain.agent.model import ContainerPlan, FlowRun
from dockyard.domain.agent.naming import name_candidates
from dockyard.domain.agent.plan import plan_container
from dockyard.domain.agent.validation import validate_agent_config
from dockyard.domain.errors import ImageNotFound
from dockyard.ports.container_runtime import ContainerRuntime


def credentials_for(image: str, known: Sequence[RegistryCredentials]) -> RegistryCredentials | None:
    """The operator-given login for the image's registry, if any (else the daemon host's
    own Docker config applies)."""
    registry = parse_image_reference(image).registry
    for credentials in known:
        if normalize_registry_host(credentials.registry) == registry:
            return credentials
    return None


def default_steps(
    config: AgentConfig,
    runtime: ContainerRuntime,
    identity: AgentIdentity,
    *,
    real_path: Callable[[str], str] | None = None,
) -> DeploySteps:
    """``real_path`` follows symbolic links on the daemon's host, when the agent shares its
    file system: bind sources are then checked where the daemon will really mount from."""
    # The settings were checked against this machine's OS; volume specs must suit the
    # daemon's, which may differ (a remote Windows daemon). Raises ConfigurationError.
    validate_agent_config(config, host_os=identity.daemon.os_type)

    def plan(run: FlowRun) -> ContainerPlan:
        return plan_container(
            run,
            config,
            agent_id=identity.agent_id,
            daemon_id=identity.daemon.id,
            host_os=identity.daemon.os_type,
            real_path=real_path,
            instance=identity.owner.instance,
            lease=identity.owner.lease,
        )

    def pull(image: str) -> None:
        runtime.pull_image(image, credentials_for(image, config.registry_credentials))

    def pull_first(plan: ContainerPlan) -> bool:
        return pulls_first(parse_image_reference(plan.image), config.pull_policy)

    def pull_missing(plan: ContainerPlan) -> None:
        if not may_pull(parse_image_reference(plan.image), config.pull_policy):
            raise ImageNotFound(
                f"Image {plan.image} is not on the Docker daemon, and this agent does not pull images "
                "(--pull-policy never / --no-pull): load or pull it on the daemon first"
            )
        pull(plan.image)

    return DeploySteps(
        plan=plan,
        pull_first=pull_first,
        pull_missing=pull_missing,
        pull=pull,
        names=name_candidates,
        agent_name=config.name,
    )
