"""Deleting the stack resources that moto's models can create but not delete.

moto's CloudFormation deletes a resource through the model's ``delete(account_id, region)`` method or
its ``delete_from_cloudformation_json``; several models have neither, and moto then reported them
deleted while they stayed. A VPC stack (gateway, route table, route, subnet association) could
therefore never be deleted: the VPC kept a route table and answered ``DependencyViolation``. The
models below get the ``delete`` method moto looks for, doing what the service's Delete/Detach call
does (and refusing what it refuses). A resource type with no deletion at all fails its deletion
with a reason saying so (see ``stacks.delete_resources``), so that DeleteStack never claims a
deletion that did not happen; ``RetainResources`` then lets the stack go.

``AWS::IAM::ManagedPolicy`` is detached from every role, user and group it is attached to before it
is deleted; AWS detaches only the ones the template names [deviation: the lab does not record them].
"""

from __future__ import annotations

import inspect
from typing import Any

from . import require, when_imported

EC2 = "moto.ec2.models"


def _ec2(account_id: str, region_name: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region_name]


def _delete_internet_gateway(self, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).delete_internet_gateway(self.id)


def _delete_gateway_attachment(self, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    if str(self.gateway_id or "").startswith("vgw-"):
        backend.detach_vpn_gateway(self.gateway_id, self.vpc_id)
    else:
        backend.detach_internet_gateway(self.gateway_id, self.vpc_id)


def _delete_route_table(self, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).delete_route_table(self.id)


def _delete_route(self, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).delete_route(
        self.route_table.id, self.destination_cidr_block, self.destination_ipv6_cidr_block,
        getattr(self.destination_prefix_list, "id", None),
    )


def _delete_subnet_association(self, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).subnet_associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)


def _delete_managed_policy(self, account_id: str, region_name: str) -> None:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    backend = iam_backends[account_id][get_partition(region_name)]
    for entities in (backend.roles, backend.users, backend.groups):
        for entity in list(entities.values()):
            if self.arn in entity.managed_policies:
                self.detach_from(entity)
    backend.delete_policy(self.arn)


# (module, class) -> the delete method moto's CloudFormation will call.
DELETES = {
    ("moto.ec2.models.internet_gateways", "InternetGateway"): _delete_internet_gateway,
    ("moto.ec2.models.vpn_gateway", "VPCGatewayAttachment"): _delete_gateway_attachment,
    ("moto.ec2.models.route_tables", "RouteTable"): _delete_route_table,
    ("moto.ec2.models.route_tables", "Route"): _delete_route,
    ("moto.ec2.models.subnets", "SubnetRouteTableAssociation"): _delete_subnet_association,
    ("moto.iam.models", "ManagedPolicy"): _delete_managed_policy,
}


def can_delete(instance: Any) -> bool:
    """Whether moto's CloudFormation has a way to delete this resource."""
    cls = type(instance)
    method = inspect.getattr_static(cls, "delete", None)
    if callable(method) and len(inspect.signature(method).parameters) >= 3:  # delete(self, account, region)
        return True
    return not hasattr(getattr(cls, "delete_from_cloudformation_json", None), "__isabstractmethod__")


def install(lab: Any) -> None:
    """When moto's CloudFormation is imported (with every model it can create; see ``when_imported``)."""
    when_imported("moto.cloudformation.models", _install)


def _install() -> None:
    for (module, cls), delete in DELETES.items():
        owner = require(module, cls, "create_from_cloudformation_json")
        if "delete" not in owner.__dict__:
            owner.delete = delete
