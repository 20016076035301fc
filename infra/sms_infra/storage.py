"""The bucket admins drop imports into and collect exports from.

It holds contact lists (personal data), so it is private, encrypted, TLS-only
and versioned. Imports reach the app through SQS rather than `on_s3_event`,
because chalice can only attach S3 events to buckets it does not share with
infra.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

IMPORTS_PREFIX = "imports/"
"""Objects created under this prefix start an import; results must be written elsewhere."""
EXPORTS_PREFIX = "exports/"
EXPORT_LIFETIME = Duration.days(7)
"""Exports are copies of contact data; they expire once their download link can no longer be used."""
NONCURRENT_LIFETIME = Duration.days(30)


def build_bucket(scope: Construct) -> s3.Bucket:
    return s3.Bucket(
        scope,
        "DataBucket",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-exports",
                prefix=EXPORTS_PREFIX,
                expiration=EXPORT_LIFETIME,
            ),
            s3.LifecycleRule(
                id="tidy-versions-and-uploads",
                noncurrent_version_expiration=NONCURRENT_LIFETIME,
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
        ],
    )


def notify_imports(bucket: s3.Bucket, queue: sqs.IQueue) -> None:
    """Every object created under `imports/` becomes a message on the imports queue."""
    bucket.add_event_notification(
        s3.EventType.OBJECT_CREATED,
        s3n.SqsDestination(queue),
        s3.NotificationKeyFilter(prefix=IMPORTS_PREFIX),
    )
