"""Which connections a set of NetworkPolicies allows, for the shapes our policies use.

Follows the NetworkPolicy semantics (networking.k8s.io/v1): a pod selected by no policy of a direction is open in
that direction; once selected, a connection must be allowed by an egress rule of the source's policies and by an
ingress rule of the destination's. Peers: podSelector and namespaceSelector (matchLabels, matchExpressions with
In/NotIn/Exists/DoesNotExist), both together, or an ipBlock (matches only addresses outside the cluster here).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, Optional


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A pod (labels, namespace) or, with `pod=False`, an address outside the cluster."""

    name: str
    namespace: str = "mlops"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    pod: bool = True


def selects(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        ok = {"Exists": present, "DoesNotExist": not present, "In": present and labels.get(key) in values,
              "NotIn": not present or labels.get(key) not in values}[operator]
        if not ok:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], other: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return not other.pod
    if not other.pod:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.labels)


def _port_matches(ports: Optional[List[Mapping[str, Any]]], port: int, protocol: str) -> bool:
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allowed_one_way(policies: Iterable[Mapping[str, Any]], subject: Endpoint, other: Endpoint, port: int,
                     protocol: str, direction: str) -> bool:
    """Whether `subject`'s policies of `direction` ('Ingress'/'Egress') let the connection with `other` through."""
    if not subject.pod:
        return True  # addresses outside the cluster have no policies
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    mine = [p for p in policies if p["metadata"]["namespace"] == subject.namespace
            and selects(p["spec"]["podSelector"], subject.labels)
            and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not mine:
        return True
    for policy in mine:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if _port_matches(rule.get("ports"), port, protocol) and (
                    not peers or any(_peer_matches(peer, other, policy["metadata"]["namespace"]) for peer in peers)):
                return True
    return False


def allowed(policies: Iterable[Mapping[str, Any]], source: Endpoint, destination: Endpoint, port: int,
            protocol: str = "TCP") -> bool:
    """Whether `source` may open a connection to `destination` on `port`."""
    policies = list(policies)
    return (_allowed_one_way(policies, source, destination, port, protocol, "Egress")
            and _allowed_one_way(policies, destination, source, port, protocol, "Ingress"))


def reachable(policies: Iterable[Mapping[str, Any]], source: Endpoint, endpoints: Dict[str, Endpoint],
              ports: Dict[str, List[int]]) -> Dict[str, List[int]]:
    """For each endpoint name, the ports (of those listed for it) `source` may connect to."""
    policies = list(policies)
    result = {}
    for name, destination in endpoints.items():
        if destination is source:
            continue
        open_ports = [port for port in ports.get(name, []) if allowed(policies, source, destination, port)]
        if open_ports:
            result[name] = open_ports
    return result
