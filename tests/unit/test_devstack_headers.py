"""The cloud's response-headers policy sends exactly the headers the local gateway sends."""

import pytest

cdk = pytest.importorskip("aws_cdk", reason="the CDK is installed by make infra-deps (make test installs it)")


def synthesized_headers() -> dict[str, str]:
    """The CloudFront policy of infra/stack.py, synthesized, as the response headers it adds."""
    from aws_cdk.assertions import Template

    from infra.stack import security_headers_policy

    stack = cdk.Stack(cdk.App(), "Headers")
    security_headers_policy(stack)
    (policy,) = Template.from_stack(stack).find_resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert all(header["Override"] for header in config.values())
    hsts, xss = config["StrictTransportSecurity"], config["XSSProtection"]
    assert not hsts.get("IncludeSubdomains")
    assert not hsts.get("Preload")
    return {
        "Content-Security-Policy": config["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": config["FrameOptions"]["FrameOption"],
        "Referrer-Policy": config["ReferrerPolicy"]["ReferrerPolicy"],
        "X-XSS-Protection": "1; mode=block" if xss["Protection"] and xss["ModeBlock"] else "0",
    }


def test_the_cloud_and_the_local_gateway_send_the_same_security_headers():
    from devstack.security_headers import HEADERS

    assert synthesized_headers() == HEADERS


def test_the_csp_allows_only_the_apps_own_origin():
    from devstack.security_headers import CONTENT_SECURITY_POLICY

    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
