"""A whylogs data validator flavor that works with whylogs 1.6 (ZenML's own integration pins whylogs~=1.0.5).

It profiles with the project's fast chunked profiler and validates with the project's whylogs constraints, so the
stack's `data_validator` is what the pipelines actually use.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Type

from zenml.data_validators.base_data_validator import BaseDataValidator, BaseDataValidatorConfig, BaseDataValidatorFlavor

from stacks.flavors.base import ProjectFlavorMixin

FLAVOR_NAME = "project_whylogs"


class ProjectWhylogsDataValidatorConfig(BaseDataValidatorConfig):
    """Profiling options."""

    chunk_rows: int = 200_000
    n_jobs: Optional[int] = None


class ProjectWhylogsDataValidator(BaseDataValidator):
    """Profiles pandas frames with whylogs and checks them against a DataContract."""

    NAME = "whylogs (project)"
    FLAVOR: Type[BaseDataValidatorFlavor]

    @property
    def config(self) -> ProjectWhylogsDataValidatorConfig:
        return self._config  # type: ignore[return-value]

    def data_profiling(self, dataset: Any, comparison_dataset: Optional[Any] = None,
                       profile_list: Optional[Sequence[Any]] = None, **kwargs: Any) -> Any:
        from steps.data.profiling import profile_frame

        return profile_frame(dataset, n_jobs=self.config.n_jobs, chunk_rows=self.config.chunk_rows)

    def data_validation(self, dataset: Any, comparison_dataset: Optional[Any] = None,
                        check_list: Optional[Sequence[Any]] = None, **kwargs: Any) -> Any:
        from steps.data.validation import validate_profile

        contract = kwargs["contract"]
        view = dataset if not hasattr(dataset, "columns") else self.data_profiling(dataset)
        return validate_profile(view, contract, check_target=kwargs.get("check_target", True))


class ProjectWhylogsDataValidatorFlavor(ProjectFlavorMixin, BaseDataValidatorFlavor):
    """whylogs 1.6 data validator."""

    @property
    def name(self) -> str:
        return FLAVOR_NAME

    @property
    def config_class(self) -> Type[ProjectWhylogsDataValidatorConfig]:
        return ProjectWhylogsDataValidatorConfig

    @property
    def implementation_class(self) -> Type[ProjectWhylogsDataValidator]:
        return ProjectWhylogsDataValidator

    @property
    def logo_url(self) -> str:
        return "https://public-flavor-logos.s3.eu-central-1.amazonaws.com/data_validator/whylogs.png"


ProjectWhylogsDataValidator.FLAVOR = ProjectWhylogsDataValidatorFlavor
