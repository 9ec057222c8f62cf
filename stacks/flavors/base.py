"""What every project flavor shares: no public docs pages (the docs are this repository's)."""

from typing import Optional


class ProjectFlavorMixin:
    """Mix into a ZenML Flavor subclass before the ZenML base class."""

    @property
    def docs_url(self) -> Optional[str]:
        return None

    @property
    def sdk_docs_url(self) -> Optional[str]:
        return None
