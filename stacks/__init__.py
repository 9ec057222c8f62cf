"""Stack specs, registration and the project's ZenML flavors.

ZenML loads the project's flavors by source path (`stacks.seldon.flavor...`) with the project root on `sys.path`
only while it imports that one module (and restores the path afterwards); the deployer and validator
implementations import the project's other top-level packages later. Importing those packages here, while the
root is on the path, keeps their modules importable for the life of the process (through the packages' __path__).
"""

import core  # noqa: F401
import serving  # noqa: F401
import steps  # noqa: F401
