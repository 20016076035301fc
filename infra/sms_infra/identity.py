"""Who may call the REST API: a Cognito user pool whose groups are the app's roles.

Users are created by an administrator (no self sign-up) and put in exactly
the groups `chalicelib.auth.ROLES` names; the ID token's `cognito:groups` claim
is what the app authorizes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct


@dataclass(frozen=True)
class Identity:
    user_pool: cognito.UserPool
    client: cognito.UserPoolClient
    groups: tuple[cognito.UserPoolGroup, ...]


def build_identity(scope: Construct, roles: Sequence[str]) -> Identity:
    """User pool, a public app client for the agent console, and one group per role.

    `roles` are listed most powerful first; their order becomes the groups'
    precedence, so a user in several groups gets the strongest role's claims.
    """
    user_pool = _user_pool(scope)
    client = user_pool.add_client(
        "ConsoleClient",
        # SRP for the console; admin password auth lets an operator holding IAM credentials fetch a token
        # from the CLI (`aws cognito-idp admin-initiate-auth`) without enabling plain password sign-in.
        auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
        generate_secret=False,  # a browser app cannot keep a secret
        disable_o_auth=True,  # no hosted UI; tokens come from SRP sign-in
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
        id_token_validity=Duration.hours(1),
        access_token_validity=Duration.hours(1),
        refresh_token_validity=Duration.days(30),
    )
    groups = tuple(
        cognito.UserPoolGroup(
            scope,
            f"{role.capitalize()}Group",
            user_pool=user_pool,
            group_name=role,
            precedence=precedence,
            description=f"API role '{role}'",
        )
        for precedence, role in enumerate(roles)
    )
    return Identity(user_pool=user_pool, client=client, groups=groups)


def _user_pool(scope: Construct) -> cognito.UserPool:
    return cognito.UserPool(
        scope,
        "Users",
        self_sign_up_enabled=False,
        sign_in_aliases=cognito.SignInAliases(username=True, email=True),
        sign_in_case_sensitive=False,
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        standard_attributes=cognito.StandardAttributes(
            email=cognito.StandardAttribute(required=True, mutable=True),
        ),
        password_policy=cognito.PasswordPolicy(
            min_length=12,
            require_lowercase=True,
            require_uppercase=True,
            require_digits=True,
            require_symbols=True,
            temp_password_validity=Duration.days(3),
        ),
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
