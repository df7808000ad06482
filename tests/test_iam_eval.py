"""The IAM evaluator the tests use (tests/iam_eval.py): each rule of IAM's evaluation it claims, on small
statements, against what the IAM User Guide says the result is."""

from __future__ import annotations

import pytest

from tests.iam_eval import Decision, allowed, decision

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "arn:aws:s3:::inbox"


def allow(action="kms:GenerateDataKey", resource=KEY, condition=None, sid="Grant") -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def holds(condition: dict, context: dict | None) -> bool:
    """Does `condition` hold for `context`? (The statement around it matches the request.)"""
    return allowed([allow(condition=condition)], "kms:GenerateDataKey", KEY, context)


# ---- effect, action, resource ----


def test_nothing_is_allowed_without_a_statement_that_allows_it():
    assert decision([], "s3:GetObject", f"{BUCKET}/k", {}) == Decision(False, f"implicitly denied: no statement allows s3:GetObject on {BUCKET}/k")


def test_an_explicit_deny_wins_over_any_allow_in_either_order():
    deny = {"Sid": "NoKms", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}
    for statements in ([allow(), deny], [deny, allow()]):
        assert decision(statements, "kms:GenerateDataKey", KEY, {}) == Decision(False, "explicitly denied by statement 'NoKms'")


def test_a_deny_whose_condition_does_not_hold_does_not_deny():
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert decision([allow(), deny], "kms:GenerateDataKey", KEY, {"aws:SecureTransport": "true"}) == Decision(True, "allowed by statement 'Grant'")
    assert decision([allow(), deny], "kms:GenerateDataKey", KEY, {"aws:SecureTransport": "false"}) == Decision(False, "explicitly denied by statement #1")


def test_actions_match_case_insensitively_with_wildcards():
    assert allowed([allow(action="KMS:generatedatakey")], "kms:GenerateDataKey", KEY)
    assert allowed([allow(action="kms:GenerateDataKey*")], "kms:GenerateDataKeyWithoutPlaintext", KEY)
    assert allowed([allow(action=["kms:Decrypt", "kms:Gen?rateDataKey"])], "kms:GenerateDataKey", KEY)
    assert not allowed([allow(action="kms:Decrypt")], "kms:GenerateDataKey", KEY)
    assert not allowed([allow(action="kms:GenerateDataKey")], "kms:GenerateDataKeyPair", KEY)


def test_resources_match_case_sensitively_with_wildcards():
    assert allowed([allow(action="s3:PutObject", resource=f"{BUCKET}/*")], "s3:PutObject", f"{BUCKET}/a/b.zip")
    assert not allowed([allow(action="s3:PutObject", resource=f"{BUCKET}/*")], "s3:PutObject", "arn:aws:s3:::inbox-other/a")
    assert not allowed([allow(action="s3:PutObject", resource=f"{BUCKET}/promotion.zip")], "s3:PutObject", f"{BUCKET}/Promotion.zip")
    assert not allowed([allow(action="s3:PutObject", resource=f"{BUCKET}/*")], "s3:PutObject", BUCKET)


def test_not_action_and_not_resource_match_everything_else():
    everything_but_iam = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert allowed([everything_but_iam], "kms:Decrypt", KEY)
    assert not allowed([everything_but_iam], "iam:PassRole", "arn:aws:iam::123456789012:role/r")
    not_this_bucket = {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET, f"{BUCKET}/*"]}
    grant = allow(action="s3:*", resource="*")
    assert allowed([grant, not_this_bucket], "s3:GetObject", f"{BUCKET}/k")
    assert not allowed([grant, not_this_bucket], "s3:GetObject", "arn:aws:s3:::other/k")


# ---- conditions: String*, Arn*, Bool, Null ----


def test_string_equals_is_exact_and_case_sensitive_and_its_values_are_ored():
    condition = {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": [BUCKET, "arn:aws:s3:::other"]}}
    assert holds(condition, {"kms:EncryptionContext:aws:s3:arn": BUCKET})
    assert holds(condition, {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other"})
    assert not holds(condition, {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::Inbox"})
    assert not holds(condition, {"kms:EncryptionContext:aws:s3:arn": f"{BUCKET}/k"})
    assert not holds({"StringEquals": {"aws:SourceAccount": "*"}}, {"aws:SourceAccount": "123456789012"})  # no wildcards


def test_condition_key_names_compare_case_insensitively():
    assert holds({"StringEquals": {"AWS:SourceAccount": "123456789012"}}, {"aws:sourceaccount": "123456789012"})


def test_ignore_case_operators():
    assert holds({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Payments"}}, {"aws:PrincipalTag/team": "PAYMENTS"})
    assert not holds({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Payments"}}, {"aws:PrincipalTag/team": "payments"})


def test_string_like_takes_wildcards_anywhere():
    condition = {"StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET, f"{BUCKET}/*"]}}
    assert holds(condition, {"kms:EncryptionContext:aws:s3:arn": BUCKET})
    assert holds(condition, {"kms:EncryptionContext:aws:s3:arn": f"{BUCKET}/promotion.zip"})
    assert not holds(condition, {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::inbox-other"})
    assert not holds(condition, {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other/inbox/x"})
    assert holds({"StringLike": {"s3:prefix": "home/?/*"}}, {"s3:prefix": "home/a/docs"})
    assert not holds({"StringLike": {"s3:prefix": "home/?/*"}}, {"s3:prefix": "home/ab/docs"})


def test_arn_operators_match_each_of_the_six_parts_on_its_own():
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f"
    for operator in ("ArnLike", "ArnEquals"):  # both take wildcards (IAM User Guide, ARN condition operators)
        assert holds({operator: {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}, {"kms:EncryptionContext:aws:logs:arn": group})
        assert holds({operator: {"aws:SourceArn": "arn:aws:logs:*:123456789012:*"}}, {"aws:SourceArn": group})
        # A wildcard in the service part does not run into the region part (a whole-string match would).
        assert not holds({operator: {"aws:SourceArn": "arn:aws:*:123456789012:log-group:/aws/lambda/f"}}, {"aws:SourceArn": group})
        assert not holds({operator: {"aws:SourceArn": "arn:aws:logs:us-east-1:210987654321:*"}}, {"aws:SourceArn": group})
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:logs:*:*:*"}}, {"aws:SourceArn": "not-an-arn"})


def test_bool_compares_true_and_false_whatever_the_case_or_json_type():
    assert holds({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"})
    assert holds({"Bool": {"aws:SecureTransport": "TRUE"}}, {"aws:SecureTransport": "true"})
    assert not holds({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})


def test_null_tests_whether_the_key_is_in_the_request():
    assert holds({"Null": {"aws:ResourceTag/team": "true"}}, {})
    assert not holds({"Null": {"aws:ResourceTag/team": "true"}}, {"aws:ResourceTag/team": "payments"})
    assert holds({"Null": {"aws:ResourceTag/team": "false"}}, {"aws:ResourceTag/team": "payments"})
    assert not holds({"Null": {"aws:ResourceTag/team": "false"}}, {})


def test_every_operator_and_every_key_of_a_condition_must_hold():
    condition = {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": "123456789012"},
        "ArnLike": {"kms:EncryptionContext:aws:s3:arn": BUCKET},
    }
    good = {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": "123456789012", "kms:EncryptionContext:aws:s3:arn": BUCKET}
    assert holds(condition, good)
    for key, other in (("kms:ViaService", "sqs.us-east-1.amazonaws.com"), ("kms:CallerAccount", "210987654321"), ("kms:EncryptionContext:aws:s3:arn", "arn:aws:s3:::other")):
        assert not holds(condition, {**good, key: other}), key


# ---- a key the request does not carry ----


@pytest.mark.parametrize("operator", ["StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike", "Bool"])
def test_a_missing_key_fails_a_positive_operator_and_passes_its_if_exists_form(operator):
    value = "arn:aws:s3:::inbox" if operator.startswith("Arn") else "true"
    assert not holds({operator: {"aws:SourceArn": value}}, {})
    assert holds({f"{operator}IfExists": {"aws:SourceArn": value}}, {})


@pytest.mark.parametrize("operator", ["StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase", "ArnNotEquals", "ArnNotLike"])
def test_a_missing_key_passes_a_negated_operator(operator):
    assert holds({operator: {"aws:SourceArn": BUCKET}}, {})
    assert not holds({operator: {"aws:SourceArn": BUCKET}}, {"aws:SourceArn": BUCKET})
    assert holds({operator: {"aws:SourceArn": BUCKET}}, {"aws:SourceArn": "arn:aws:s3:::other"})


def test_if_exists_still_checks_a_key_that_is_there():
    condition = {"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}
    assert holds(condition, {"aws:SourceAccount": "123456789012"})
    assert not holds(condition, {"aws:SourceAccount": "210987654321"})


# ---- multivalued keys ----


def test_for_any_value_needs_one_request_value_to_match_and_fails_on_none():
    condition = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["aws:s3:arn", "aws:logs:arn"]}}
    assert holds(condition, {"kms:EncryptionContextKeys": ["team", "aws:s3:arn"]})
    assert not holds(condition, {"kms:EncryptionContextKeys": ["team"]})
    assert not holds(condition, {"kms:EncryptionContextKeys": []})
    assert not holds(condition, {})
    assert holds({"ForAnyValue:StringEqualsIfExists": {"kms:EncryptionContextKeys": "aws:s3:arn"}}, {})


def test_for_all_values_needs_every_request_value_to_match_and_passes_on_none():
    condition = {"ForAllValues:StringLike": {"aws:TagKeys": ["team", "cost-*"]}}
    assert holds(condition, {"aws:TagKeys": ["team", "cost-center"]})
    assert not holds(condition, {"aws:TagKeys": ["team", "owner"]})
    assert holds(condition, {"aws:TagKeys": []})
    assert holds(condition, {})


def test_negated_set_operators_negate_each_value():
    # At least one tag key outside the list / every tag key outside the list.
    assert holds({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}, {"aws:TagKeys": ["team", "owner"]})
    assert not holds({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}, {"aws:TagKeys": ["team", "owner"]})
    assert holds({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}, {"aws:TagKeys": ["owner"]})


def test_a_single_value_counts_as_a_set_of_one_under_a_set_operator():
    assert holds({"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}}, {"aws:TagKeys": "team"})


def test_several_request_values_without_a_set_operator_are_refused_not_guessed():
    with pytest.raises(ValueError, match=r"^statement 'Grant': aws:TagKeys has several values in the request; use ForAnyValue:StringEquals or ForAllValues:StringEquals$"):
        holds({"StringEquals": {"aws:TagKeys": "team"}}, {"aws:TagKeys": ["team", "owner"]})


# ---- what it does not evaluate, and why it says so ----


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (allow(condition={"NumericLessThan": {"s3:max-keys": "10"}}), r"condition operator 'NumericLessThan' is not supported"),
        (allow(condition={"ForAnyValue:Null": {"aws:TagKeys": "true"}}), r"Null takes neither a set operator nor IfExists"),
        (allow(resource="arn:aws:s3:::${aws:username}/*"), r"policy variables are not supported"),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}, r"identity-based statements only"),
        ({"Effect": "Allow", "Action": "kms:*", "NotAction": "kms:Decrypt", "Resource": "*"}, r"exactly one of Action and NotAction"),
        ({"Effect": "Allow", "Action": "kms:*"}, r"exactly one of Resource and NotResource"),
        ({"Effect": "allow", "Action": "kms:*", "Resource": "*"}, r"Effect 'allow' is neither 'Allow' nor 'Deny'"),
    ],
)
def test_what_it_cannot_evaluate_is_an_error(statement, message):
    with pytest.raises(ValueError, match=message):
        allowed([statement], "kms:GenerateDataKey", KEY, {})


def test_an_implicit_deny_names_each_statement_its_condition_stopped():
    grant = allow(condition={"StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET, f"{BUCKET}/*"]}}, sid="EncryptPromotion")
    found = decision([grant], "kms:GenerateDataKey", KEY, {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::artifacts"})
    assert found == Decision(
        False,
        f"implicitly denied: no statement allows kms:GenerateDataKey on {KEY}; statement 'EncryptPromotion' (Allow) names kms:GenerateDataKey on {KEY} "
        f"but its condition StringLike kms:EncryptionContext:aws:s3:arn ['{BUCKET}', '{BUCKET}/*'] does not hold for 'arn:aws:s3:::artifacts'",
    )
    assert decision([grant], "kms:GenerateDataKey", KEY, {}).reason.endswith("does not hold for '(not in the request)'")
