"""The events stream: Kinesis (on-demand, or provisioned with N shards), and optional MSK Serverless."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_msk as msk
from constructs import Construct

from clickstream.resources import StreamSpec

KAFKA_IAM_PORT = 9098  # MSK Serverless accepts only IAM-authenticated clients, on this port


class EventsStream(Construct):
    """The Kinesis stream named by `spec`; provisioned when `shards` is given, else on-demand."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: StreamSpec, shards: int | None) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=spec.name,
            stream_mode=kinesis.StreamMode.PROVISIONED if shards else kinesis.StreamMode.ON_DEMAND,
            shard_count=shards,
            retention_period=Duration.hours(spec.retention_hours),
            encryption=kinesis.StreamEncryption.MANAGED,
        )
        # KDS3 is satisfied: MANAGED is the aws/kinesis key that cdk-nag asks for.


class ServerlessKafka(Construct):
    """An MSK Serverless cluster (IAM auth) for Kafka consumers inside `vpc`; the Lambdas stay on Kinesis."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        # Clients join `clients`; the cluster admits Kafka (IAM) from that group only, never from a CIDR.
        self.clients = ec2.SecurityGroup(
            self, "Clients", vpc=vpc, description=f"{name}: Kafka clients (join this group)"
        )
        self.security_group = ec2.SecurityGroup(
            self, "Brokers", vpc=vpc, description=f"{name}: MSK Serverless brokers", allow_all_outbound=False
        )
        self.security_group.add_ingress_rule(self.clients, ec2.Port.tcp(KAFKA_IAM_PORT), "Kafka (IAM) from clients")
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.cluster = msk.CfnServerlessCluster(
            self,
            "Cluster",
            cluster_name=name,
            client_authentication=msk.CfnServerlessCluster.ClientAuthenticationProperty(
                sasl=msk.CfnServerlessCluster.SaslProperty(
                    iam=msk.CfnServerlessCluster.IamProperty(enabled=True),
                )
            ),
            vpc_configs=[
                msk.CfnServerlessCluster.VpcConfigProperty(
                    subnet_ids=subnets.subnet_ids, security_groups=[self.security_group.security_group_id]
                )
            ],
        )
