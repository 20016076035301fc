"""The functions' execution role, written out statement by statement.

CDK's `grant_*` helpers hand out wildcard actions (`s3:GetObject*`,
`s3:List*`, `dynamodb:*` for full access), so every statement here names its
actions. Data resources are always named by ARN; only X-Ray, which has no
resource-level permissions, gets `*`.

The statements live in the role's inline policy rather than a separate
`AWS::IAM::Policy`: anything that references the role (the functions, SQS
event source mappings that validate the role on creation) then waits until
the permissions exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
"""Item-level actions; TransactWriteItems/TransactGetItems are authorized by these, not by actions of their own.
No Scan: no request path may scan."""
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload")
"""Read imports, write results and exports (multipart for large exports, so they can be aborted)."""
S3_BUCKET_ACTIONS = ("s3:ListBucket",)
SQS_ACTIONS = (
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
"""Send and consume; the Lambda event source mapping also needs GetQueueAttributes, and a worker that
checkpoints extends visibility."""
SNS_ACTIONS = ("sns:Publish",)
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
"""Publishing to a KMS-encrypted topic needs both."""
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
"""The log groups exist already (infra creates them), so no CreateLogGroup."""
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def build_function_role(scope: Construct) -> tuple[iam.Role, iam.PolicyDocument]:
    """A role with no managed policies and one inline document the stack fills in as it builds.

    The document is returned because some resources it names (the functions'
    log groups) are only known after chalice has packaged the app, which in
    turn needs the role's ARN.
    """
    document = iam.PolicyDocument()
    role = iam.Role(
        scope,
        "FunctionRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Execution role of the Chalice functions: least privilege, no managed policies",
        inline_policies={"least-privilege": document},
    )
    return role, document


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> iam.PolicyStatement:
    if not resources:
        raise ValueError(f"{sid}: a statement needs at least one resource")
    return iam.PolicyStatement(sid=sid, actions=list(actions), resources=list(resources))


def table_statement(table_and_index_arns: Sequence[str]) -> iam.PolicyStatement:
    return _statement("Tables", DYNAMODB_ACTIONS, table_and_index_arns)


def bucket_statements(bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    return [
        _statement("BucketObjects", S3_OBJECT_ACTIONS, [bucket.arn_for_objects("*")]),
        _statement("BucketListing", S3_BUCKET_ACTIONS, [bucket.bucket_arn]),
    ]


def queue_statement(queues: Iterable[sqs.IQueue]) -> iam.PolicyStatement:
    return _statement("Queues", SQS_ACTIONS, [queue.queue_arn for queue in queues])


def topic_statement(topics: Iterable[sns.ITopic]) -> iam.PolicyStatement:
    return _statement("Topics", SNS_ACTIONS, [topic.topic_arn for topic in topics])


def key_statement(keys: Iterable[kms.IKey]) -> iam.PolicyStatement:
    return _statement("Keys", KMS_ACTIONS, [key.key_arn for key in keys])


def log_statement(log_groups: Iterable[logs.ILogGroup]) -> iam.PolicyStatement:
    return _statement("Logs", LOG_ACTIONS, [group.log_group_arn for group in log_groups])


SMS_ACTIONS = ("sms-voice:SendTextMessage", "sms-voice:SendMediaMessage")
SMS_RESOURCE_TYPES = ("phone-number", "pool", "sender-id", "configuration-set")


def sms_statement(region: str, account: str) -> iam.PolicyStatement:
    """Sending through End User Messaging, from this account's own identities and configuration sets only."""
    arns = [f"arn:aws:sms-voice:{region}:{account}:{kind}/*" for kind in SMS_RESOURCE_TYPES]
    return _statement("SendSms", SMS_ACTIONS, arns)


def tracing_statement() -> iam.PolicyStatement:
    """X-Ray has no resource-level permissions: `*` is the only resource it accepts."""
    return _statement("Tracing", XRAY_ACTIONS, ["*"])
