"""skops (de)serialisation under the serving allowlist: models never go through pickle, and a model that trains
is a model that serves (one allowlist, `serving.artifact`, for the materializer, MLflow logging and the endpoint)."""

from __future__ import annotations

from typing import Any, List

import skops.io as sio

from serving.artifact import ModelArtifactError, trusted_types as _allowlisted

UntrustedModelError = ModelArtifactError


def trusted_types(data: bytes) -> List[str]:
    """The non-default types in `data`, after checking every one is on the serving allowlist."""
    return _allowlisted(sio.get_untrusted_types(data=data))


def dumps(model: Any) -> bytes:
    """Serializes `model` and checks that it will load back under the allowlist."""
    data = sio.dumps(model)
    trusted_types(data)
    return data


def loads(data: bytes) -> Any:
    return sio.loads(data, trusted=trusted_types(data))
