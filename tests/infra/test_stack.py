"""The synthesized stack: lint-clean, and every promise of the infra issue checked on the template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import resources

pytestmark = pytest.mark.slow


def test_cfn_lint_is_clean(synthesized):
    # W3005 only: CDK's own BucketDeployment construct repeats a dependency its GetAtt implies
    for path in synthesized.values():
        linted = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--",
                                 str(path)], capture_output=True, text=True, timeout=120)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_queue_has_a_dead_letter_queue_and_every_dead_letter_queue_an_alarm(template):
    from aws_cdk.assertions import Match, Template

    queues = resources(template, "AWS::SQS::Queue")
    dlqs = {k for k, q in queues.items() if q["Properties"]["QueueName"].endswith("-dlq")}
    mains = set(queues) - dlqs
    assert len(mains) == 5  # jobs, events and a queue per consumer (leaderboard, analytics, tiers)
    for key in mains:
        redrive = queues[key]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [redrive["deadLetterTargetArn"]["Fn::GetAtt"][0],
                                                                 "Arn"]}
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in dlqs
        assert redrive["maxReceiveCount"] == 5
    alarmed = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                alarmed.add(dimension["Value"]["Fn::GetAtt"][0])
                assert alarm["Properties"]["Threshold"] == 1
                assert alarm["Properties"]["AlarmActions"], "an alarm nobody hears"
    assert alarmed == dlqs
    Template.from_json(template).all_resources_properties("AWS::SQS::Queue", Match.object_like(
        {"SqsManagedSseEnabled": True}))


def test_every_sqs_event_source_reports_batch_item_failures(template):
    sources = [(name, event) for name, fn in resources(template, "AWS::Serverless::Function").items()
               for event in fn["Properties"].get("Events", {}).values() if event["Type"] == "SQS"]
    assert {name for name, _ in sources} == {"ProcessJobs", "ProcessEvents", "ConsumeLeaderboard", "ConsumeAnalytics",
                                          "ConsumeTiers"}
    for name, event in sources:
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        queue = event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
        assert queue.startswith("punchcard-example-")
        # the queue exists before the mapping is made
        assert any(d.startswith("Queue") for d in template["Resources"][name]["DependsOn"])
    windows = {name: event["Properties"].get("MaximumBatchingWindowInSeconds", 0) for name, event in sources}
    # the consumers that share a transaction across a batch gather for a second; the pipeline does not wait
    assert windows == {"ProcessJobs": 0, "ProcessEvents": 0, "ConsumeLeaderboard": 1, "ConsumeAnalytics": 1,
                       "ConsumeTiers": 0}


def test_each_function_waits_for_its_roles_rights_and_its_log_group(template):
    # Lambda checks X-Ray (tracing on) and SQS (event sources) rights when it creates a function
    for name, function in resources(template, "AWS::Serverless::Function").items():
        depends = function.get("DependsOn", [])
        assert any(d.startswith(f"Role{name}DefaultPolicy") for d in depends), (name, depends)
        assert any(d.startswith(f"Logs{name}") for d in depends), (name, depends)


def test_every_table_has_point_in_time_recovery_and_production_keeps_it(synthesized, template):
    from aws_cdk.assertions import Match, Template

    tables = resources(template, "AWS::DynamoDB::Table")
    assert len(tables) == 9
    Template.from_json(template).all_resources_properties("AWS::DynamoDB::Table", Match.object_like({
        "BillingMode": "PAY_PER_REQUEST", "DeletionProtectionEnabled": True, "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}))
    assert {t["DeletionPolicy"] for t in tables.values()} == {"Retain"}
    staging = json.loads(synthesized["acme"].read_text())
    assert {t["DeletionPolicy"] for t in resources(staging, "AWS::DynamoDB::Table").values()} == {"Delete"}
    assert all(t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
               for t in resources(staging, "AWS::DynamoDB::Table").values())


def _statements(template):
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield name, statement
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def _listed(value):
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_allows_every_action_and_only_x_ray_gets_every_resource(template):
    for name, statement in _statements(template):
        actions = _listed(statement["Action"])
        assert "*" not in actions, name
        assert all(":" in a and not a.endswith(":*") for a in actions), (name, actions)
        if "*" in _listed(statement["Resource"]):  # only where AWS (or CDK's own construct) needs it
            assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} or \
                (name.startswith("CustomCDKBucketDeployment") and
                 set(actions) == {"cloudfront:GetInvalidation", "cloudfront:CreateInvalidation"}), (name, actions)


def test_each_function_has_its_own_role_naming_only_its_tables(template):
    functions = resources(template, "AWS::Serverless::Function")
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()}
    assert len(roles) == len(functions) == 12
    policies = {p["Roles"][0]["Ref"]: p["PolicyDocument"]["Statement"]
                for p in (r["Properties"] for r in resources(template, "AWS::IAM::Policy").values())}
    tables = {k: t["Properties"]["TableName"] for k, t in resources(template, "AWS::DynamoDB::Table").items()}

    def table_names(function):
        statement = next(s for s in policies[functions[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
                         if s["Sid"] == "Tables")
        return {tables[r["Fn::GetAtt"][0]] for r in statement["Resource"] if "Fn::GetAtt" in r}

    assert table_names("ConsumeLeaderboard") == {"punchcard-example-standings"}
    assert table_names("ConsumeAnalytics") == {"punchcard-example-analytics"}
    assert table_names("Heartbeat") == {"punchcard-example-system"}
    assert len(table_names("APIHandler")) == 9
    auth = next(s for s in policies[functions["PunchcardAuth"]["Properties"]["Role"]["Fn::GetAtt"][0]]
                if s["Sid"] == "Tables")
    assert not any(a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete")) for a in auth["Action"])


def test_the_web_bucket_is_private_and_served_through_cloudfront_origin_access_control(template):
    from aws_cdk.assertions import Match, Template

    checked = Template.from_json(template)
    checked.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": "punchcard-example-web",
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True}})
    checked.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    checked.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultRootObject": "index.html",
        "Origins": Match.array_with([Match.object_like({"OriginAccessControlId": Match.any_value()})]),
        "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"})})})
    config = next(iter(resources(template, "AWS::CloudFront::Distribution").values()))["Properties"]
    behaviours = {b["PathPattern"]: b for b in config["DistributionConfig"]["CacheBehaviors"]}
    assert set(behaviours) == {"/v1/*", "/health", "/openapi.json"}  # the API on the same origin: no CORS
    api_origin = next(o for o in config["DistributionConfig"]["Origins"]
                      if o["Id"] == behaviours["/v1/*"]["TargetOriginId"])
    assert api_origin["OriginPath"] == "/api"
    assert "RestAPI" in json.dumps(api_origin["DomainName"])
    assert len(behaviours["/v1/*"]["AllowedMethods"]) == 7


def test_the_api_is_throttled_and_the_gateways_refusals_use_the_error_shape(template):
    api = resources(template, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    assert api["Name"] == api["DefinitionBody"]["info"]["title"] == "punchcard-example-api"  # the alarms' ApiName
    assert api["OpenApiVersion"] == "2.0"  # no implicit second stage ("Stage") outside the throttling
    [settings] = api["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (200, 400)
    assert settings["ResourcePath"] == "/*"
    from chalicelib import errors

    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and hasattr(cls, "code")}
    for kind, response in api["GatewayResponses"].items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body["error"]["code"] in codes, kind  # the API's own vocabulary
    assert api["GatewayResponses"]["THROTTLED"]["StatusCode"] == "429"
    assert api["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"


def test_alarms_cover_lambda_errors_and_throttles_and_api_5xx_and_latency(template):
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    by_metric = {}
    for alarm in alarms:
        by_metric.setdefault((alarm["Namespace"], alarm["MetricName"]), []).append(alarm)
        assert alarm["AlarmActions"]
        assert alarm["AlarmName"].startswith("punchcard-example-")
    assert len(by_metric[("AWS/Lambda", "Errors")]) == len(by_metric[("AWS/Lambda", "Throttles")]) == 12
    # EventBridge that cannot deliver to a consumer's queue: one alarm per rule
    assert sorted(d["Value"] for a in by_metric[("AWS/Events", "FailedInvocations")] for d in a["Dimensions"]
                  if d["Name"] == "RuleName") == ["punchcard-example-to-analytics", "punchcard-example-to-leaderboard",
                                                       "punchcard-example-to-tiers"]
    assert by_metric[("AWS/ApiGateway", "5XXError")]
    assert by_metric[("AWS/ApiGateway", "Latency")]
    [heartbeat] = by_metric[("AWS/Lambda", "Invocations")]  # the schedules stopped firing
    assert (heartbeat["ComparisonOperator"], heartbeat["TreatMissingData"]) == ("LessThanThreshold", "breaching")
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1
    retention = {g["Properties"]["LogGroupName"]: g["Properties"]["RetentionInDays"]
                 for g in resources(template, "AWS::Logs::LogGroup").values()}
    assert retention == {f"/aws/lambda/{fn['Properties']['FunctionName']}": 90
                         for fn in resources(template, "AWS::Serverless::Function").values()}


def test_the_functions_get_the_tenants_names_and_the_user_pool(template):
    from infra.settings import load

    expected = load("example").lambda_environment()
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert {k: variables[k] for k in expected} == expected, name
        assert variables["PUNCHCARD_USER_POOL_ID"] == {"Ref": next(iter(resources(template, "AWS::Cognito::UserPool")))}
        assert fn["Properties"]["Tracing"] == "Active"
    assert expected["PUNCHCARD_TABLE_LEDGER"] == "punchcard-example-ledger"
    assert expected["PUNCHCARD_TIMEZONE"] == "Europe/Paris"


NAMED = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::IAM::Role": "RoleName",
         "AWS::Serverless::Function": "FunctionName", "AWS::S3::Bucket": "BucketName",
         "AWS::CloudWatch::Alarm": "AlarmName", "AWS::Cognito::UserPool": "UserPoolName",
         "AWS::SNS::Topic": "TopicName", "AWS::CloudWatch::Dashboard": "DashboardName",
         "AWS::SecretsManager::Secret": "Name", "AWS::KMS::Alias": "AliasName", "AWS::Logs::LogGroup": "LogGroupName",
         "AWS::SES::ConfigurationSet": "Name", "AWS::Serverless::Api": "Name"}


def test_two_tenants_synthesize_with_disjoint_resource_names(synthesized):
    names = {}
    for tenant, path in synthesized.items():
        template = json.loads(path.read_text())
        found = [(v["Type"], v["Properties"][NAMED[v["Type"]]]) for v in template["Resources"].values()
                 if v["Type"] in NAMED and NAMED[v["Type"]] in v.get("Properties", {})]
        assert all(f"punchcard-{tenant}" in name for _, name in found), [n for n in found if tenant not in n[1]]
        names[tenant] = {name for _, name in found}
        assert len(found) == len(set(found)) > 70  # every name of a kind unique within the stack too
    assert not names["example"] & names["acme"]


def test_sign_up_codes_go_through_ses_only_once_the_tenant_says_its_domain_is_verified(synthesized, template):
    def pool(t):
        return next(iter(resources(t, "AWS::Cognito::UserPool").values()))["Properties"]

    assert pool(template)["EmailConfiguration"]["EmailSendingAccount"] == "COGNITO_DEFAULT"
    ses = pool(json.loads(synthesized["acme"].read_text()))["EmailConfiguration"]
    assert ses["EmailSendingAccount"] == "DEVELOPER"
    assert ses["ConfigurationSet"] == "punchcard-acme-mail"
    assert "points@acme.test" in json.dumps(ses["From"])


def test_each_consumer_has_a_rule_to_its_own_queue_and_only_producers_may_publish(template):
    from chalicelib.resources import CONSUMERS

    queues = {k: q["Properties"]["QueueName"] for k, q in resources(template, "AWS::SQS::Queue").items()}
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Events::Rule").values()
             if "EventPattern" in r["Properties"]}
    assert set(rules) == {f"punchcard-example-to-{c.name}" for c in CONSUMERS}
    [bus] = [k for k, b in resources(template, "AWS::Events::EventBus").items()
             if b["Properties"]["Name"] == "punchcard-example-domain"]
    for consumer in CONSUMERS:
        rule = rules[f"punchcard-example-to-{consumer.name}"]
        assert rule["EventPattern"] == consumer.event_pattern()
        assert rule["EventBusName"] == {"Ref": bus}
        [target] = rule["Targets"]
        assert queues[target["Arn"]["Fn::GetAtt"][0]] == f"punchcard-example-{consumer.name}-inbox"
        assert queues[target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]] == \
            f"punchcard-example-{consumer.name}-inbox-dlq"
    # EventBridge may send to each inbox (a queue policy per consumer queue, conditioned on its rule)
    policies = resources(template, "AWS::SQS::QueuePolicy").values()
    allowed = {queues[q["Ref"]] for p in policies for q in p["Properties"]["Queues"]
               if any(s.get("Principal", {}).get("Service") == "events.amazonaws.com"
                      for s in p["Properties"]["PolicyDocument"]["Statement"])}
    assert {f"punchcard-example-{c.name}-inbox" for c in CONSUMERS} <= allowed
    functions = resources(template, "AWS::Serverless::Function")
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0]: name for name, fn in functions.items()}
    publishers = {roles[p["Roles"][0]["Ref"]] for p in (r["Properties"] for r in
                                                        resources(template, "AWS::IAM::Policy").values())
                  if p["Roles"][0]["Ref"] in roles
                  and any(s["Sid"] == "Publish" for s in p["PolicyDocument"]["Statement"])}
    assert publishers == {"APIHandler", "ProcessJobs", "ProcessEvents", "SweepRedemptions", "ConsumeTiers"}
