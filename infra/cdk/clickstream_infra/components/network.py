"""A VPC for the optional services that need one (MSK Serverless, MWAA), with flow logs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class PrivateNetwork(Construct):
    """Two AZs; private subnets with one NAT gateway when `egress`, else isolated subnets only."""

    def __init__(self, scope: Construct, construct_id: str, *, egress: bool, retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        private = ec2.SubnetType.PRIVATE_WITH_EGRESS if egress else ec2.SubnetType.PRIVATE_ISOLATED
        subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private, cidr_mask=20)]
        if egress:
            subnets.insert(0, ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1 if egress else 0,
            subnet_configuration=subnets,
            restrict_default_security_group=False,  # no custom resource; the default group is unused
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.private_subnets = self.vpc.select_subnets(subnet_type=private)
