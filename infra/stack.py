"""One tenant's Punchcard stack: the Chalice app and everything it runs on.

Names, tables, queues and the user pool come from the same code the local stack provisions
from (:mod:`chalicelib.store.tables`, :mod:`chalicelib.resources`), applied with the tenant's
names; nothing here restates a key schema or a queue setting.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before jsii starts: Debian's node 20

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.resources import CONSUMERS, DOMAIN_BUS
from devstack import security_headers
from infra import policies
from infra.settings import ROOT, Tenant

CHALICE_STAGE = "prod"  # the .chalice/config.json stage whose per-function settings every tenant uses
WEB_DIR = ROOT / "web"


def security_headers_policy(scope: Construct) -> cloudfront.ResponseHeadersPolicy:
    """The headers every web and API response carries, CSP included; ``make dev`` sends the same."""
    referrer = security_headers.REFERRER_POLICY.upper().replace("-", "_")
    return cloudfront.ResponseHeadersPolicy(
        scope, "SecurityHeaders", comment="Punchcard: CSP, HSTS, nosniff, frame denial, referrer",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=security_headers.CONTENT_SECURITY_POLICY, override=True),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption[security_headers.FRAME_OPTION], override=True),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy[referrer], override=True),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=cdk.Duration.seconds(security_headers.HSTS_MAX_AGE_SECONDS), override=True),
            xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True)))


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


# Chalice's logical id of each function -> its handler name in app.py (and in .chalice/config.json);
# a consumer of domain events adds its function (consume_<name>) from the consumer table
FUNCTIONS = {"APIHandler": "api_handler", "PunchcardAuth": "punchcard_auth", "ProcessJobs": "process_jobs",
             "ProcessEvents": "process_events", "Heartbeat": "heartbeat", "ExpirePoints": "expire_points",
             "SweepEvents": "sweep_events", "SweepRedemptions": "sweep_redemptions", "ReviewTiers": "review_tiers",
             **{_camel(c.handler): c.handler for c in CONSUMERS}}
SQS_SOURCES = {"ProcessJobs": "jobs", "ProcessEvents": "events",
               **{_camel(c.handler): c.queue.logical_name for c in CONSUMERS}}

# API Gateway's own refusals (no credential, throttled, ...) in the API's error shape
# (the codes are chalicelib.errors' own, so clients see one vocabulary whoever answered)
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "unauthorized", "Missing or invalid credentials."),
    "ACCESS_DENIED": (403, "forbidden", "Not allowed."),
    "MISSING_AUTHENTICATION_TOKEN": (404, "route_not_found", "No such route."),  # API Gateway's unknown route
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "The request body is too large."),
    "THROTTLED": (429, "too_many_requests", "Too many requests; slow down and retry."),
    "QUOTA_EXCEEDED": (429, "too_many_requests", "Too many requests; slow down and retry."),
    "DEFAULT_4XX": (None, "bad_request", "The request was refused by the gateway."),
    "DEFAULT_5XX": (None, "internal_error", "Something went wrong on our side."),
}



class TenantStack(cdk.Stack):
    def __init__(self, scope: Construct, tenant: Tenant, **kwargs: Any) -> None:
        # The construct id is the Chalice stage: the Chalice construct packages the app for the
        # stage named by its scope. The CloudFormation stack name carries the tenant.
        env = cdk.Environment(region=tenant.region, account=tenant.data.get("account"))
        super().__init__(scope, CHALICE_STAGE, stack_name=tenant.stack_name, env=env,
                         description=f"Punchcard loyalty platform for tenant {tenant.id}", **kwargs)
        self.tenant = tenant
        cdk.Tags.of(self).add("punchcard:tenant", tenant.id)
        removal = cdk.RemovalPolicy.RETAIN if tenant.production else cdk.RemovalPolicy.DESTROY

        with tenant.environment():
            from chalicelib.resources import QUEUES, USER_POOL
            from chalicelib.store.tables import table_definitions

            self.tables = {d["logical_name"]: self._table(d, removal) for d in table_definitions()}
            self.queues, self.dlqs = {}, {}
            for spec in QUEUES:
                self._queue(spec)
            self.bus = self._bus()
            self.user_pool, self.user_pool_client = self._user_pool(USER_POOL, removal)

        self.alarm_topic = sns.Topic(self, "Alarms", topic_name=tenant.name("alarms"),
                                     display_name=f"Punchcard {tenant.id} alarms", enforce_ssl=True)
        self.alarm_topic.add_subscription(subscriptions.EmailSubscription(tenant.data["alarm_email"]))
        self.admin_key = secretsmanager.Secret(
            self, "AdminKey", secret_name=f"{tenant.prefix}/admin-key", removal_policy=removal,
            description="Punchcard admin API key. The generated value is a placeholder that no request can "
                        "present: issue the key with `make rotate-admin-key` after the first deploy.",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True))
        self.token_key = kms.Key(self, "OAuthTokenKey", alias=f"alias/{tenant.prefix}-oauth-tokens",
                                 description="Encrypts members' stored social OAuth tokens",
                                 enable_key_rotation=True, removal_policy=removal)
        self.mail_identity, self.mail_configuration = self._mail()
        self.roles = {logical: self._role(logical, handler) for logical, handler in FUNCTIONS.items()}
        self.app = self._chalice()
        self.web_bucket, self.distribution = self._web(removal)
        self._alarms_and_dashboard()

        cdk.CfnOutput(self, "ApiUrl", value=self.api_url)
        cdk.CfnOutput(self, "WebUrl", value=self.web_url)
        cdk.CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        cdk.CfnOutput(self, "AdminKeySecret", value=self.admin_key.secret_name)

    # -- data -------------------------------------------------------------------------------

    def _table(self, definition: dict[str, Any], removal: cdk.RemovalPolicy) -> dynamodb.CfnTable:
        def keys(schema):
            return [dynamodb.CfnTable.KeySchemaProperty(attribute_name=k["AttributeName"], key_type=k["KeyType"])
                    for k in schema]

        def projection(p):
            return dynamodb.CfnTable.ProjectionProperty(projection_type=p["ProjectionType"],
                                                        non_key_attributes=p.get("NonKeyAttributes"))

        ttl = definition["ttl_attribute"]
        table = dynamodb.CfnTable(
            self, f"Table{_camel(definition['logical_name'])}", table_name=definition["table_name"],
            billing_mode=definition["billing_mode"], key_schema=keys(definition["key_schema"]),
            attribute_definitions=[dynamodb.CfnTable.AttributeDefinitionProperty(
                attribute_name=a["AttributeName"], attribute_type=a["AttributeType"])
                for a in definition["attribute_definitions"]],
            global_secondary_indexes=[dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                index_name=i["index_name"], key_schema=keys(i["key_schema"]), projection=projection(i["projection"]))
                for i in definition["global_secondary_indexes"]] or None,
            point_in_time_recovery_specification=dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True),
            sse_specification=dynamodb.CfnTable.SSESpecificationProperty(sse_enabled=True),
            time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                attribute_name=ttl, enabled=True) if ttl else None,
            deletion_protection_enabled=self.tenant.production)
        table.apply_removal_policy(removal)
        return table

    def _queue(self, spec) -> None:
        dlq = sqs.Queue(self, f"Queue{_camel(spec.dlq_logical_name)}", queue_name=spec.dlq_name,
                        retention_period=cdk.Duration.seconds(spec.dlq_retention),
                        encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        queue = sqs.Queue(self, f"Queue{_camel(spec.logical_name)}", queue_name=spec.name,
                          visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout),
                          retention_period=cdk.Duration.seconds(spec.retention),
                          encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count))
        self.queues[spec.logical_name], self.dlqs[spec.logical_name] = queue, dlq

    def _bus(self) -> events.EventBus:
        """The domain-event bus, and per consumer its rule delivering to its own queue (from the
        consumer table the local stack provisions from too). EventBridge retries a delivery
        for a day; what it still cannot deliver goes to the consumer's dead-letter queue."""
        bus = events.EventBus(self, "DomainBus", event_bus_name=DOMAIN_BUS.name,
                              description="Punchcard domain events: a rule per consumer")
        self.rules, self.bus_name = {}, DOMAIN_BUS.name  # names now: they come from the tenant's environment
        for consumer in CONSUMERS:
            pattern = consumer.event_pattern()
            self.rules[consumer.name] = consumer.rule_name
            events.Rule(
                self, f"Rule{_camel(consumer.name)}", rule_name=consumer.rule_name, event_bus=bus,
                description=f"Domain events for the {consumer.name} consumer",
                event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
                targets=[targets.SqsQueue(self.queues[consumer.queue.logical_name],
                                          dead_letter_queue=self.dlqs[consumer.queue.logical_name],
                                          retry_attempts=185, max_event_age=cdk.Duration.hours(24))])
        return bus

    def _user_pool(self, spec, removal) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        policy = spec.password_policy()
        pool = cognito.UserPool(
            self, "Members", user_pool_name=spec.name, self_sign_up_enabled=True,
            sign_in_case_sensitive=False, auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=False, mutable=True)),
            password_policy=cognito.PasswordPolicy(min_length=policy["MinimumLength"], require_digits=False,
                                                   require_lowercase=False, require_uppercase=False,
                                                   require_symbols=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY, deletion_protection=self.tenant.production,
            email=self._pool_email(), removal_policy=removal)
        client = pool.add_client(
            "WebClient", user_pool_client_name=f"{spec.name}-web", generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True),  # refresh tokens are always allowed
            id_token_validity=cdk.Duration.minutes(spec.id_token_minutes),
            access_token_validity=cdk.Duration.minutes(spec.id_token_minutes),
            refresh_token_validity=cdk.Duration.days(spec.refresh_token_days),
            prevent_user_existence_errors=True, enable_token_revocation=True,
            disable_o_auth=True)  # the API signs members in itself: no hosted UI, no OAuth flows
        return pool, client

    def _pool_email(self) -> cognito.UserPoolEmail:
        """Cognito's own sender (50 mails a day) until the mail domain is verified in SES; then
        ``mail.cognito_via_ses: true`` sends verification codes from the tenant's sender. (Cognito
        refuses an unverified identity, so the first deploy cannot use SES.)"""
        mail = self.tenant.data["mail"]
        if not mail.get("cognito_via_ses"):
            return cognito.UserPoolEmail.with_cognito()
        return cognito.UserPoolEmail.with_ses(from_email=mail["sender"], ses_region=self.tenant.region,
                                              ses_verified_domain=mail["domain"],
                                              configuration_set_name=self.tenant.name("mail"))

    def _mail(self) -> tuple[ses.EmailIdentity, ses.ConfigurationSet]:
        configuration = ses.ConfigurationSet(
            self, "MailConfiguration", configuration_set_name=self.tenant.name("mail"), reputation_metrics=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS)
        identity = ses.EmailIdentity(self, "MailDomain", configuration_set=configuration,
                                     identity=ses.Identity.domain(self.tenant.data["mail"]["domain"]))
        return identity, configuration

    # -- the Chalice app ----------------------------------------------------------------------

    def _role(self, logical: str, handler: str) -> iam.Role:
        role = iam.Role(self, f"Role{logical}", role_name=self.tenant.name(f"fn-{handler.replace('_', '-')}"),
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Punchcard {self.tenant.id}: the {handler} function, least privilege")
        for statement in policies.statements(handler, self):
            role.add_to_policy(statement)
        return role

    def _chalice(self) -> Chalice:
        with self.tenant.environment() as variables:
            app = Chalice(self, "Api", source_dir=str(ROOT), stage_config={
                "app_name": self.tenant.prefix,
                "environment_variables": variables,
                "manage_iam_role": False,
                # each function's Role is replaced below by its own role
                "iam_role_arn": "arn:aws:iam::000000000000:role/replaced-per-function",
            })
        pool_env = {"PUNCHCARD_USER_POOL_ID": self.user_pool.user_pool_id,
                    "PUNCHCARD_USER_POOL_CLIENT_ID": self.user_pool_client.user_pool_client_id}
        for logical, handler in FUNCTIONS.items():
            function = app.get_resource(logical)
            function.add_property_override("Role", self.roles[logical].role_arn)
            function.add_property_override("FunctionName", self.function_name(handler))
            function.add_property_override("Tracing", "Active")
            for name, value in pool_env.items():
                function.add_property_override(f"Environment.Variables.{name}", value)
            group = logs.LogGroup(self, f"Logs{logical}", log_group_name=f"/aws/lambda/{self.function_name(handler)}",
                                  retention=logs.RetentionDays(self._retention()),
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
            # The role's rights before the function: Lambda checks X-Ray (tracing) and SQS (event
            # sources) at creation. The log group before it too: no early log is lost.
            function.add_resource_dependency(self.roles[logical].node.find_child("DefaultPolicy").node.default_child)
            function.add_resource_dependency(group.node.default_child)
        for logical, queue in SQS_SOURCES.items():
            function = app.get_resource(logical)
            # Chalice never sets this: without it a batch's one failed record would retry its batch-mates
            function.add_property_override(
                f"Events.{logical}SqsEventSource.Properties.FunctionResponseTypes", ["ReportBatchItemFailures"])
            function.add_resource_dependency(self.queues[queue].node.default_child)  # named by ARN in the mapping
        api = self.tenant.api
        rest = app.get_resource("RestAPI")
        rest.add_property_override("Name", self.tenant.name("api"))
        rest.add_property_override("DefinitionBody.info.title", self.tenant.name("api"))  # the name, whatever wins
        rest.add_property_override("OpenApiVersion", "2.0")  # else SAM adds a second stage, "Stage", unthrottled
        rest.add_property_override("TracingEnabled", True)
        rest.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True, "DataTraceEnabled": False,
            "ThrottlingRateLimit": api["throttle_rate_per_second"], "ThrottlingBurstLimit": api["throttle_burst"]}])
        rest.add_property_override("GatewayResponses", {
            kind: {**({"StatusCode": str(status)} if status else {}),
                   "ResponseTemplates": {"application/json": json.dumps(
                       {"error": {"code": code, "message": message, "details": {}}})}}
            for kind, (status, code, message) in GATEWAY_RESPONSES.items()})
        return app

    def function_name(self, handler: str) -> str:
        return self.tenant.name(handler.replace("_", "-"))

    @property
    def api_url(self) -> str:
        return cdk.Fn.sub("https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api")

    def _retention(self) -> str:
        return {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
                60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
                365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
                1096: "THREE_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS"}[self.tenant.log_retention_days]

    # -- the web app --------------------------------------------------------------------------

    def _web(self, removal) -> tuple[s3.Bucket, cloudfront.Distribution]:
        bucket = s3.Bucket(self, "Web", bucket_name=self.tenant.name("web"),
                           block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
                           encryption=s3.BucketEncryption.S3_MANAGED, versioned=True,
                           object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                           removal_policy=removal, auto_delete_objects=not self.tenant.production)
        web = self.tenant.data.get("web") or {}
        domain = {}
        if web.get("domain"):
            from aws_cdk import aws_certificatemanager as acm

            certificate = acm.Certificate.from_certificate_arn(self, "WebCertificate", web["certificate_arn"])
            domain = {"domain_names": [web["domain"]], "certificate": certificate}
        headers = security_headers_policy(self)
        # The API behind the same domain as the apps (/v1/*, /health, /openapi.json): the browser
        # stays same-origin, so no CORS, and web/config.js keeps its empty API origin. Never cached;
        # every header but Host (Authorization, Idempotency-Key) reaches API Gateway.
        api = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(cdk.Fn.sub("${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
                                      origin_path="/api", protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL, cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=headers)
        distribution = cloudfront.Distribution(
            self, "WebDistribution", comment=f"Punchcard {self.tenant.id} web app and API",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers, compress=True),
            additional_behaviors={"/v1/*": api, "/health": api, "/openapi.json": api},
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3, **domain)
        s3deploy.BucketDeployment(
            self, "WebFiles", destination_bucket=bucket, distribution=distribution, distribution_paths=["/*"],
            sources=[s3deploy.Source.asset(str(WEB_DIR))], memory_limit=256)
        return bucket, distribution

    @property
    def web_url(self) -> str:
        web = self.tenant.data.get("web") or {}
        return f"https://{web['domain']}" if web.get("domain") else f"https://{self.distribution.domain_name}"

    # -- alarms -------------------------------------------------------------------------------

    def _alarms_and_dashboard(self) -> None:
        action = actions.SnsAction(self.alarm_topic)
        widgets: list[cloudwatch.IWidget] = []

        def alarm(name, metric, threshold, description, comparison=None, periods=1, missing=None):
            made = metric.create_alarm(
                self, f"Alarm{_camel(name)}", alarm_name=self.tenant.name(name), threshold=threshold,
                evaluation_periods=periods, alarm_description=description,
                comparison_operator=comparison or cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=missing or cloudwatch.TreatMissingData.NOT_BREACHING)
            made.add_alarm_action(action)
            made.add_ok_action(action)
            return made

        for logical, dlq in self.dlqs.items():
            metric = dlq.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(1),
                                                                      statistic="Maximum")
            alarm(f"dlq-{logical}", metric, 1,
                  f"Messages of the {logical} queue failed every retry and wait in its dead-letter queue. "
                  "See docs/operations.md, 'A dead-letter queue is not empty'.")
            widgets.append(cloudwatch.GraphWidget(title=f"{logical} DLQ", left=[metric], width=8))
        for name, rule_name in self.rules.items():
            failed = cloudwatch.Metric(namespace="AWS/Events", metric_name="FailedInvocations", statistic="Sum",
                                       dimensions_map={"EventBusName": self.bus_name, "RuleName": rule_name},
                                       period=cdk.Duration.minutes(5))
            alarm(f"delivery-{name}", failed, 1, f"EventBridge could not deliver domain events to the {name} "
                  "consumer's queue (it retries for a day, then dead-letters them).")
        for handler in FUNCTIONS.values():
            dims = {"FunctionName": self.function_name(handler)}
            kebab = handler.replace("_", "-")
            errors = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", dimensions_map=dims,
                                       statistic="Sum", period=cdk.Duration.minutes(5))
            throttles = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Throttles", dimensions_map=dims,
                                          statistic="Sum", period=cdk.Duration.minutes(5))
            alarm(f"errors-{kebab}", errors, 1, f"The {handler} function failed (an uncaught error or a timeout).")
            alarm(f"throttles-{kebab}", throttles, 1, f"The {handler} function was throttled (concurrency limit).")
            widgets.append(cloudwatch.GraphWidget(title=handler, left=[errors, throttles], width=8))
        api_dims = {"ApiName": self.tenant.name("api"), "Stage": "api"}
        server_errors = cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="5XXError", dimensions_map=api_dims,
                                          statistic="Sum", period=cdk.Duration.minutes(5))
        latency = cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="Latency", dimensions_map=api_dims,
                                    statistic="p99", period=cdk.Duration.minutes(5))
        alarm("api-5xx", server_errors, 5, "The API answered 5xx five times or more in five minutes.")
        alarm("api-latency", latency, 2000, "The API's p99 latency stayed above 2 s for 15 minutes.", periods=3)
        beats = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Invocations", statistic="Sum",
                                  dimensions_map={"FunctionName": self.function_name("heartbeat")},
                                  period=cdk.Duration.minutes(5))
        alarm("heartbeat-missing", beats, 1, "The every-minute heartbeat did not run for 10 minutes: the schedules "
              "(expiry, sweeps, tier reviews) are not firing.", periods=2,
              comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
              missing=cloudwatch.TreatMissingData.BREACHING)
        widgets[:0] = [cloudwatch.GraphWidget(title="API 5xx", left=[server_errors], width=12),
                       cloudwatch.GraphWidget(title="API p99 latency (ms)", left=[latency], width=12)]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.tenant.name("operations"))
        for start in range(0, len(widgets), 3):
            dashboard.add_widgets(*widgets[start:start + 3])
