"""The Cognito user-pool authorizer every non-public route is registered with.

The provider ARN below is a placeholder: chalice needs one at import, and
`infra/` replaces it with the real user pool's ARN in the packaged template.
"""

from chalice import CognitoUserPoolAuthorizer

PLACEHOLDER_POOL_ARN = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_placeholder"

cognito = CognitoUserPoolAuthorizer("CognitoUsers", provider_arns=[PLACEHOLDER_POOL_ARN])
