"""Member logins in the Cognito user pool.

The Cognito username is the member id: ID tokens then name the member directly
(``cognito:username``) and a login never depends on e-mail aliases. E-mail stays a Cognito
attribute so Cognito can send and check verification codes.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, config, errors

# Cognito's error codes to ours: a wrong password and an unknown e-mail are the same 401, so
# logins never reveal who is a member.
_ERRORS: dict[str, tuple[type[errors.PunchcardError], str, str]] = {
    "NotAuthorizedException": (errors.Unauthorized, "invalid_credentials", "Wrong e-mail or password."),
    "UserNotFoundException": (errors.Unauthorized, "invalid_credentials", "Wrong e-mail or password."),
    "UserNotConfirmedException": (errors.Forbidden, "email_not_verified", "Confirm your e-mail first."),
    "InvalidPasswordException": (errors.ValidationFailed, "weak_password", "The password is too weak."),
    "CodeMismatchException": (errors.ValidationFailed, "invalid_code", "The confirmation code is wrong."),
    "ExpiredCodeException": (errors.ValidationFailed, "expired_code", "The confirmation code has expired."),
    "UsernameExistsException": (errors.Conflict, "email_taken", "This e-mail already has a login."),
    "TooManyRequestsException": (errors.TooManyRequests, "too_many_requests", "Too many attempts; retry later."),
    "LimitExceededException": (errors.TooManyRequests, "too_many_requests", "Too many attempts; retry later."),
    "TooManyFailedAttemptsException": (errors.TooManyRequests, "too_many_requests", "Too many attempts."),
}


def _client():
    return aws.client("cognito-idp")


def _call(operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return getattr(_client(), operation)(**kwargs)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        mapped = _ERRORS.get(code)
        if mapped is None:
            raise
        cls, our_code, message = mapped
        raise cls(message, code=our_code) from e


def sign_up(member_id: str, email: str, password: str, name: str | None) -> bool:
    """Create the login; returns True when it still needs e-mail confirmation."""
    attributes = [{"Name": "email", "Value": email}]
    if name:
        attributes.append({"Name": "name", "Value": name})
    pool = config.user_pool_id()
    status = login_status(member_id)
    if status == "UNCONFIRMED":  # an abandoned sign-up: start it over with the new password
        _call("admin_delete_user", UserPoolId=pool, Username=member_id)
    elif status is not None:
        raise errors.Conflict("This e-mail already has a login.", code="email_taken")
    reply = _call("sign_up", ClientId=config.user_pool_client_id(), Username=member_id, Password=password,
                  UserAttributes=attributes)
    if not config.require_email_verification():
        _call("admin_confirm_sign_up", UserPoolId=pool, Username=member_id)
        return False
    return not reply.get("UserConfirmed", False)


def login_status(member_id: str) -> str | None:
    try:
        return _client().admin_get_user(UserPoolId=config.user_pool_id(), Username=member_id)["UserStatus"]
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "UserNotFoundException":
            return None
        raise


def confirm(member_id: str, code: str) -> None:
    _call("confirm_sign_up", ClientId=config.user_pool_client_id(), Username=member_id, ConfirmationCode=code)


def login(member_id: str, password: str) -> dict[str, Any]:
    result = _call("initiate_auth", ClientId=config.user_pool_client_id(), AuthFlow="USER_PASSWORD_AUTH",
                   AuthParameters={"USERNAME": member_id, "PASSWORD": password})["AuthenticationResult"]
    return {"id_token": result["IdToken"], "refresh_token": result["RefreshToken"],
            "expires_in": result["ExpiresIn"], "token_type": "Bearer"}


def refresh(refresh_token: str) -> dict[str, Any]:
    result = _call("initiate_auth", ClientId=config.user_pool_client_id(), AuthFlow="REFRESH_TOKEN_AUTH",
                   AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
    return {"id_token": result["IdToken"], "expires_in": result["ExpiresIn"], "token_type": "Bearer"}


def delete_login(member_id: str) -> None:
    """Remove the member's login (erasure); absent logins are fine."""
    try:
        _client().admin_delete_user(UserPoolId=config.user_pool_id(), Username=member_id)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "UserNotFoundException":
            raise
