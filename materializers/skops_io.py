"""skops (de)serialisation that trusts only an allowlist of types: models never go through pickle."""

from __future__ import annotations

from typing import Any, List

import skops.io as sio

# Module prefixes whose types a scikit-learn model legitimately contains.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.", "_operator.", "functools.")


class UntrustedModelError(ValueError):
    """The serialized model contains a type outside the allowlist."""


def trusted_types(data: bytes) -> List[str]:
    """The non-default types in `data`, after checking every one is on the allowlist."""
    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModelError(f"refusing to load a model containing untrusted type(s): {', '.join(refused)}")
    return untrusted


def dumps(model: Any) -> bytes:
    """Serializes `model` and checks that it will load back under the allowlist."""
    data = sio.dumps(model)
    trusted_types(data)
    return data


def loads(data: bytes) -> Any:
    return sio.loads(data, trusted=trusted_types(data))
